// What another node's Bayes training costs a node on a shared store (issue 20, docs/ARCHITECTURE.md
// §4.8): two stores in this process on one PostgreSQL database (`shared`), a server model of TOKENS
// tokens trained through A and loaded by B; then A trains one message of 200 tokens (100 new) at a
// time, and B's next use of the model (SpamCounts.model, as a classify does) is timed until it shows
// that training. Median of RUNS. Also the time of a whole read of the model, for reference.
// Usage: BENCH_TOKENS=100000 node bench/spam-nodes.ts
import { loadavg } from 'node:os';
import { Store } from '../src/store/index.ts';
import { SERVER_SCOPE, SpamCounts, type TrainingChange } from '../src/store/spam.ts';
import { testDatabase } from '../test/helpers/store.ts';

const TOKENS = Number(process.env.BENCH_TOKENS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const PER_MESSAGE = 5_000;

const url = await testDatabase('bench-spam-nodes');
const a = await Store.open('', { postgresUrl: url, shared: true });
const b = await Store.open('', { postgresUrl: url, shared: true });

const message = (sha: string, from: number, count: number): TrainingChange => ({
  sha,
  class: 'spam',
  tokens: Array.from({ length: count }, (_, i) => `token${from + i}`),
});

let started = performance.now();
for (let n = 0; n * PER_MESSAGE < TOKENS; n++)
  await a.spam.apply(SERVER_SCOPE, [message(`seed${n}`, n * PER_MESSAGE, PER_MESSAGE)]);
console.log(`model of ${TOKENS} tokens trained through A in ${(performance.now() - started).toFixed(0)} ms`);

started = performance.now();
await new SpamCounts(b.kv).model(SERVER_SCOPE);
const whole = performance.now() - started;
await b.spam.model(SERVER_SCOPE);

const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
const catchUps: number[] = [];
const notes: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const trained = (await a.spam.model(SERVER_SCOPE)).totals.spam + 1;
  const at = performance.now();
  await a.spam.apply(SERVER_SCOPE, [message(`run${run}`, TOKENS - 100 + run * 100, 200)]);
  for (;;) {
    const call = performance.now();
    const model = await b.spam.model(SERVER_SCOPE);
    if (model.totals.spam === trained) {
      catchUps.push(performance.now() - call);
      notes.push(performance.now() - at);
      break;
    }
    if (performance.now() - at > 30_000) throw new Error('B never saw the training');
    await new Promise((r) => setTimeout(r, 2));
  }
}
console.log(
  `B's model() that brought in one training elsewhere: median ${median(catchUps).toFixed(1)} ms ` +
    `(${catchUps.map((ms) => ms.toFixed(1)).join(' ')}); from A's commit to B up to date ${median(notes).toFixed(1)} ms; ` +
    `whole read of the model ${whole.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(2)}`,
);
await Promise.all([a.close(), b.close()]);
process.exit(0);
