// Dovecot's imaptest in stress mode against a Wren IMAP listener: the binary (built by
// `npm run test:setup`), an mbox of real messages from test/fixtures/stress with unique Message-IDs,
// and a run that keeps every session's rawlog for inspection.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './process.ts';

export const STRESS_FIXTURES = join(repoRoot, 'test/fixtures/stress');

/** The imaptest binary; throws (never skips) when it was not built. */
export function imaptestBinary(): string {
  const bin = process.env.IMAPTEST_BIN ?? join(repoRoot, '.cache/tools/imaptest/imaptest/src/imaptest');
  if (!existsSync(bin))
    throw new Error(`imaptest not found at ${bin}: run \`npm run test:setup\` (or set IMAPTEST_BIN)`);
  return bin;
}

/**
 * The fixture messages as one mbox, each with a Message-ID of its own: imaptest checks that a
 * message's ENVELOPE never changes and tells messages apart by it, so duplicates would be
 * reported as server errors. `copies` repeats the set (with new IDs) for a larger mailbox.
 */
export function writeStressMbox(path: string, copies = 1): number {
  const files = readdirSync(STRESS_FIXTURES)
    .filter((f) => f.endsWith('.eml'))
    .sort();
  const parts: string[] = [];
  let n = 0;
  for (let copy = 0; copy < copies; copy++) {
    for (const file of files) {
      let text = readFileSync(join(STRESS_FIXTURES, file), 'latin1').replace(/\r\n/g, '\n');
      if (text.startsWith('From ')) text = text.slice(text.indexOf('\n') + 1); // the file's own mbox envelope
      const split = text.indexOf('\n\n');
      let header = split < 0 ? text : text.slice(0, split + 1);
      const body = split < 0 ? '' : text.slice(split + 1);
      // drop the original Message-ID (with any folded continuation) and add a unique one
      header = header.replace(/^message-id:.*\n(?:[ \t].*\n)*/gim, '');
      header += `Message-ID: <stress-${++n}.${file.replace(/\W+/g, '-')}@wren.test>\n`;
      const escaped = (header + body).replace(/^(>*From )/gm, '>$1');
      parts.push(`From stress@wren.test Mon Jan  1 00:00:00 2024\n${escaped}${escaped.endsWith('\n') ? '' : '\n'}\n`);
    }
  }
  writeFileSync(path, parts.join(''), 'latin1');
  return n;
}

export interface StressResult {
  exitCode: number | null;
  output: string;
  /** Error lines imaptest printed ("Error: ..."). */
  errors: string[];
  /** Total of the per-command counts in imaptest's final summary. */
  commands: number;
}

/** Runs imaptest stress mode; rawlogs land in `dir` (rawlog.<pid>.<n>.in/out). */
export async function runImaptestStress(opts: {
  port: number;
  user: string;
  pass: string;
  mbox: string;
  dir: string;
  clients: number;
  secs: number;
  extra?: string[];
}): Promise<StressResult> {
  const args = [
    'host=127.0.0.1',
    `port=${opts.port}`,
    `user=${opts.user}`,
    `pass=${opts.pass}`,
    `mbox=${opts.mbox}`,
    `clients=${opts.clients}`,
    `secs=${opts.secs}`,
    'rawlog',
    ...(opts.extra ?? []),
  ];
  const child = spawn(imaptestBinary(), args, {
    cwd: opts.dir,
    env: {
      ...process.env,
      LD_LIBRARY_PATH: ['/usr/lib/dovecot', process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('latin1')));
  const timer = setTimeout(() => child.kill('SIGKILL'), (opts.secs + 60) * 1000);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearTimeout(timer);
  const errors = output.split('\n').filter((line) => /\bError: /.test(line));
  return { exitCode, output, errors, commands: summaryTotal(output) };
}

/** imaptest ends with "Totals:", a line of command names, percentages, then the counts per command. */
function summaryTotal(output: string): number {
  const at = output.lastIndexOf('Totals:');
  if (at < 0) return 0;
  const counts = output
    .slice(at)
    .split('\n')
    .filter((line) => /^\s*\d+(\s+\d+)+\s*$/.test(line));
  return (counts[0] ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .reduce((n, t) => n + Number(t), 0);
}

/** Every rawlog file of a run (what the server sent, `.in`, and what the client sent, `.out`). */
export function rawlogs(dir: string): { name: string; text: string }[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith('rawlog.'))
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'latin1') }));
}
