// The Bayes model on a store two nodes share (docs/ARCHITECTURE.md §4.8): a node that hears of the
// other's training (`~sp/<scope>/n`) sets only the tokens of the batches it missed (the training log,
// `sp/<scope>/v/…`), instead of reading the whole model again, and ends with the model a full read
// gives: through new, moved and untrained messages, a prune, concurrent training on both nodes, and a
// log that no longer reaches back. Always on PostgreSQL (a private cluster, test/helpers/postgres.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Store } from '../../src/store/index.ts';
import { keys } from '../../src/store/keys.ts';
import { SERVER_SCOPE, SpamCounts, type SpamModel, type TrainingChange } from '../../src/store/spam.ts';
import { testDatabase } from '../helpers/store.ts';

let a: Store;
let b: Store;

test.before(async () => {
  const url = await testDatabase('spam-shared');
  a = await Store.open('', { postgresUrl: url, shared: true });
  b = await Store.open('', { postgresUrl: url, shared: true });
});
test.after(async () => {
  await Promise.all([a?.close(), b?.close()]);
});

/** A message `sha` trained as `cls` with tokens `w<from>` … `w<from + count - 1>`. */
const message = (sha: string, cls: 'spam' | 'ham' | null, from: number, count: number): TrainingChange => ({
  sha,
  class: cls,
  tokens: Array.from({ length: count }, (_, i) => `w${from + i}`),
});

const contents = (model: SpamModel) => ({
  totals: { ...model.totals },
  counts: [...model.counts.tokens()].map((t) => [t, ...model.get(t)]).sort(),
});

/** `store`'s model of the scope equals what a full read of the database gives (waiting up to 2 s for the note). */
async function agrees(store: Store): Promise<SpamModel> {
  const full = contents(await new SpamCounts(store.kv).model(SERVER_SCOPE));
  const deadline = Date.now() + 2000;
  for (;;) {
    const model = await store.spam.model(SERVER_SCOPE);
    if (Date.now() > deadline || JSON.stringify(contents(model)) === JSON.stringify(full)) {
      assert.equal(contents(model), full, 'the model is what the database holds');
      return model;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("node B catches up with node A's training from the log, not by reading the model again", async () => {
  await a.spam.apply(SERVER_SCOPE, [message('m1', 'spam', 0, 3000), message('m2', 'ham', 2000, 3000)]);
  const loaded = await agrees(b);
  const { loads, tokensRead } = b.spam.stats;
  // New, moved and untrained messages, then a prune (a bound below the model's size).
  await a.spam.apply(SERVER_SCOPE, [message('m3', 'spam', 4000, 50)]);
  await a.spam.apply(SERVER_SCOPE, [message('m1', 'ham', 0, 3000)]);
  await a.spam.apply(SERVER_SCOPE, [message('m3', null, 4000, 50)]);
  await a.spam.apply(SERVER_SCOPE, [message('m4', 'spam', 6000, 20)], 5000);
  assert.ok((await a.spam.model(SERVER_SCOPE)).counts.size <= 5000, 'pruned');
  assert.ok((await agrees(b)) === loaded, 'B kept its model and brought it up to date');
  assert.is(b.spam.stats.loads, loads, 'no whole read');
  assert.ok(b.spam.stats.tokensRead - tokensRead < 9000, `${b.spam.stats.tokensRead - tokensRead} tokens read`);
});

test('concurrent training on both nodes counts every message and both end with the stored model', async () => {
  const before = (await a.spam.model(SERVER_SCOPE)).totals.spam;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      (i % 2 ? a : b).spam.apply(SERVER_SCOPE, [message(`c${i}`, 'spam', 10_000 + i * 5, 30)]),
    ),
  );
  for (const store of [a, b]) assert.is((await agrees(store)).totals.spam, before + 20);
});

test('a node whose log does not reach back reads the whole model', async () => {
  await agrees(b);
  const { loads } = b.spam.stats;
  const version = (await a.spam.model(SERVER_SCOPE)).version;
  await a.spam.apply(SERVER_SCOPE, [message('g1', 'ham', 20_000, 10)]);
  await a.spam.apply(SERVER_SCOPE, [message('g2', 'ham', 20_100, 10)]);
  await a.kv.engine.batch([{ type: 'del', key: keys.spamLog(SERVER_SCOPE, version + 1) }]); // as if pruned
  await agrees(b);
  assert.is(b.spam.stats.loads, loads + 1);
});

test.run();
