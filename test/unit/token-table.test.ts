// The Bayes model's token table (src/store/token-table.ts) answers as a Map of token → counts would:
// every token apart (no two of a million distinct tokens share a fingerprint), deletions that leave no
// tombstones (backward shift), growth and compaction, and insertion order for pruning.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TokenTable } from '../../src/store/token-table.ts';

const counts = (table: TokenTable, token: string) => table.read(token, (spam, ham) => [spam, ham]);

test('a million distinct tokens keep their own counts', () => {
  const table = new TokenTable();
  const N = 1_000_000;
  // Tokens as the tokenizer cuts them: short, alike, differing in a character or two.
  const token = (i: number) => (i % 3 === 0 ? `w${i}` : i % 3 === 1 ? `h:subject:${i.toString(36)}` : `${i}x`);
  for (let i = 0; i < N; i++) table.set(token(i), i % 1000, (i * 7) % 1000 || 1);
  assert.is(table.size, N);
  let wrong = 0;
  for (let i = 0; i < N; i++) {
    const [spam, ham] = counts(table, token(i));
    if (spam !== i % 1000 || ham !== ((i * 7) % 1000 || 1)) wrong++;
  }
  assert.is(wrong, 0);
  assert.equal(counts(table, 'never-added'), [0, 0]);
});

test('random sets and deletions agree with a Map at every step, order included', () => {
  const table = new TokenTable(16);
  const map = new Map<string, [number, number]>();
  let seed = 12345;
  const random = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  for (let step = 0; step < 200_000; step++) {
    const token = `t${random(5000)}`; // few tokens: deletions and re-insertions collide in probe runs
    const removing = random(3) === 0;
    const pair: [number, number] = removing ? [0, 0] : [random(50), random(50) + 1];
    table.set(token, ...pair);
    if (removing) map.delete(token);
    else map.set(token, pair); // an existing key keeps its place, as in the table
    if (step % 20_000 === 0 || step === 199_999) {
      assert.is(table.size, map.size);
      assert.equal([...table.tokens()], [...map.keys()], 'insertion order, as a Map keeps it');
      for (const [t, pair] of map) assert.equal(counts(table, t), pair);
    }
  }
  for (let i = 0; i < 5000; i++) if (!map.has(`t${i}`)) assert.equal(counts(table, `t${i}`), [0, 0]);
});

test('emptied and filled again, it stays consistent', () => {
  const table = new TokenTable();
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 50_000; i++) table.set(`r${i}`, 1, round);
    for (let i = 0; i < 50_000; i += 2) table.set(`r${i}`, 0, 0);
    assert.is(table.size, 25_000);
    assert.equal(counts(table, 'r1'), [1, round]);
    assert.equal(counts(table, 'r2'), [0, 0]);
    for (let i = 1; i < 50_000; i += 2) table.set(`r${i}`, 0, 0);
    assert.is(table.size, 0);
    assert.equal([...table.tokens()], []);
  }
});

test.run();
