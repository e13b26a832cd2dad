// The MIME indexer over the in-repo third-party fixtures (test/fixtures/mime, real messages from
// parser test suites and MUAs, each folder with its NOTICE.md): nothing throws, every node's byte
// range is consistent, section numbers find every node, and each node's body re-indexed on its own
// (and mangled copies of each message) never throws either. The same checks over the whole shared
// corpus are a bench: bench/mime-corpus.ts.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkAll,
  checkMangled,
  checkPartBodies,
  indexingSpeed,
  loadMessages,
  type Sample,
} from '../helpers/mime-check.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/mime/', import.meta.url));
const { files, samples } = loadMessages(FIXTURES);

const headerOf = (raw: Buffer): Buffer => {
  const lf = raw.indexOf('\n\n');
  const crlf = raw.indexOf('\r\n\r\n');
  return raw.subarray(
    0,
    [lf, crlf].filter((i) => i >= 0).reduce((a, b) => Math.min(a, b), raw.length),
  );
};
const having = (test: (s: Sample) => boolean): number => samples.filter(test).length;

test('the fixtures cover the edge cases the indexer must survive', () => {
  // Byte-level features of the raw files, as the corpus's SOURCES.md tags them.
  const features = {
    files,
    messages: samples.length,
    crlf: having((s) => s.raw.includes('\r\n')),
    lfOnly: having((s) => !s.raw.includes('\r\n')),
    eightBitHeader: having((s) => headerOf(s.raw).some((b) => b > 0x7f)),
    encodedWords: having((s) => /=\?[^?]+\?[bq]\?/i.test(headerOf(s.raw).toString('latin1'))),
    rfc2231: having((s) => /;\s*[a-z-]+\*(\d+\*?)?=/i.test(s.raw.toString('latin1'))), // name*0*=… (RFC 2231)
    mboxSplit: having((s) => s.name.includes('.mbox#')),
    hugeHeader: having((s) => headerOf(s.raw).length > 100_000),
  };
  console.log(`  fixtures: ${JSON.stringify(features)}`);
  assert.ok(files >= 235, `only ${files} fixture files`);
  assert.ok(samples.length >= 280, `only ${samples.length} messages`);
  for (const [name, n] of Object.entries(features)) assert.ok(n > 0, `no fixture with ${name}`);
});

test('every fixture message indexes without throwing and keeps the range invariants', () => {
  const stats = checkAll(samples);
  console.log(
    `  ${files} files, ${samples.length} messages (mbox files split), ${stats.nodes} MIME nodes, ${stats.multipart} multipart, ` +
      `${stats.embedded} embedded messages, nesting depth ${stats.maxDepth}, encodings ${[...stats.encodings].sort().join(' ')}`,
  );
  assert.ok(
    stats.multipart >= 140 && stats.embedded >= 60 && stats.maxDepth >= 4,
    JSON.stringify({ ...stats, encodings: undefined }),
  );
  for (const cte of ['7bit', '8bit', 'base64', 'quoted-printable', 'binary'])
    assert.ok(stats.encodings.has(cte), `no ${cte} part`);
});

test("every node's body, indexed on its own, never throws", () => {
  console.log(`  re-indexed ${checkPartBodies(samples)} part bodies standalone`);
});

test('mangled fixture messages (truncated, bytes overwritten) never throw', () => {
  console.log(`  ${checkMangled(samples)} mangled messages indexed`);
});

test('timing (printed, not asserted)', () => {
  console.log(`  ${indexingSpeed(samples)}`);
});

test.run();
