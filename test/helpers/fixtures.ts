import { spawnSync } from 'node:child_process';
// The in-repo third-party fixtures (test/fixtures, see its README.md and each folder's NOTICE.md).
import { fileURLToPath } from 'node:url';
import { loadMessages, type Sample } from './mime-check.ts';

/** MIME edge cases from parser test suites and MUAs, one folder per origin. */
export const MIME_FIXTURES = fileURLToPath(new URL('../fixtures/mime/', import.meta.url));
/** Real spam (spam/) and ham (ham/) from Apache SpamAssassin's test data. */
export const SPAM_FIXTURES = fileURLToPath(new URL('../fixtures/spamassassin/', import.meta.url));

/** Whole-file messages (no mbox) of a fixture folder, path order, with names relative to it. */
export function fixtureMessages(dir: string): Sample[] {
  return loadMessages(dir).samples.filter((s) => !s.name.includes('#'));
}

/**
 * A zip made by Python's zipfile (another implementation than the one reading it), with these members;
 * `password` sets the "encrypted" flag (the names stay readable, as in a real sealed zip).
 */
export function zipOf(names: string[], password = false): Buffer {
  const script = `
import io, sys, zipfile
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:
    for name in sys.argv[1:]:
        info = zipfile.ZipInfo(name)
        info.flag_bits |= ${password ? '0x1' : '0'}
        z.writestr(info, b'MZ' + b'x' * 300)
sys.stdout.buffer.write(buf.getvalue())`;
  const made = spawnSync('python3', ['-c', script, ...names]);
  if (made.status !== 0) throw new Error(`python3 zipfile failed: ${made.stderr}`);
  return made.stdout;
}
