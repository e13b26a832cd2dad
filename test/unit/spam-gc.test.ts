// What a classification computes once per Buffer (index, header block, decoded parts, tokens, features)
// dies with the Buffer in a young-generation collection (issue 18: kept in WeakMaps, whose values V8's
// scavenger treats as strong, every message since the last scavenge was copied and promoted with it).
import { deepStrictEqual } from 'node:assert';
import { inspect } from 'node:util';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeptWith } from '../../src/mime/kept-with.ts';
import { contentFeatures } from '../../src/spam/content.ts';
import { tokenize } from '../../src/spam/tokenize.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'major' | 'minor'; execution: 'sync' }) => void;

/** An HTML message of 300 lines, each with words and a link of its own (about 3,000 distinct tokens). */
const message = (n: number) =>
  Buffer.from(
    `From: a${n}@example.com\r\nSubject: hello ${n}\r\nContent-Type: text/html\r\n\r\n<p>${Array.from(
      { length: 300 },
      (_, line) => `words${n}x${line} of text here <a href="http://x${n}.example.com/p${line}">link</a>\r\n`,
    ).join('')}`,
  );

test('each cache keeps its own value per key, hidden from inspect and deep equality', () => {
  const names = new KeptWith<Buffer, string>();
  const sizes = new KeptWith<Buffer, number>();
  const a = Buffer.from('same bytes');
  const b = Buffer.from('same bytes');
  names.set(a, 'a');
  sizes.set(a, 10);
  names.set(b, 'b');
  assert.is(names.get(a), 'a');
  assert.is(sizes.get(a), 10);
  assert.is(names.get(b), 'b');
  assert.is(sizes.get(b), undefined);
  assert.is(names.get(Buffer.from('same bytes')), undefined);
  assert.is(inspect(a), inspect(Buffer.from('same bytes')));
  deepStrictEqual(a, Buffer.from('same bytes'));
});

test("a message's parse, tokens and features die with its Buffer in a young-generation collection", () => {
  const classify = (raw: Buffer) => {
    tokenize(raw);
    contentFeatures(raw);
  };
  for (let n = 1; n <= 300; n++) classify(message(-n)); // compiled before measuring
  gc();
  gc();
  const before = getHeapStatistics().used_heap_size;
  for (let n = 0; n < 200; n++) classify(message(n));
  gc({ type: 'minor', execution: 'sync' });
  gc({ type: 'minor', execution: 'sync' });
  const kept = getHeapStatistics().used_heap_size - before;
  // Kept in WeakMaps: 5.2 MB (26 KB a message, promoted to the old generation); on the Buffer: 0.5 MB.
  assert.ok(kept < 2 * 2 ** 20, `${(kept / 2 ** 20).toFixed(1)} MB kept after two minor collections`);
});

test.run();
