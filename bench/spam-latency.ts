// Classification latency and model memory of the spam classifier on the shared corpus (issue 18: p99 <
// 5 ms, memory bounded whatever the training volume). Trained on the corpus split of bench/spam.ts
// (60% by path hash), then each test message (40%) is classified:
//   1. in process, the API's path (services/spam.ts classifyMessage: parse, rules, content features,
//      Bayes), each message a fresh Buffer as the MX gets it, so no per-Buffer cache helps;
//   2. the same path cut into stages (parse, content features, tokenize, rules, Bayes), to say which
//      stage the slow messages spend their time in, and what those messages look like;
//   3. through POST /api/v1/spam/classify over loopback HTTP (server and client in this process).
// Each reports p50 / p99 / max of wall time and of this process's CPU time (process.cpuUsage): the CPU
// figure is what other processes on a loaded machine do not distort.
// Then the memory cap: the same training into a store capped at --cap tokens and one uncapped, then
// --rounds more passes over the training split, each message with 30 random tokens of its own (a
// hash-buster's noise, as a busy installation's mail brings new tokens without end), reporting the
// tokens held and the model's heap after each round, and the verdicts on the test split at the end.
//
//   node bench/spam-latency.ts [--limit N] [--rounds K] [--cap TOKENS] [--slowest N] [--passes P]
//     --limit: classify at most N test messages (spread over the split; default all)
//     --rounds: noise rounds after the clean training (default 3; 0 skips the volume check)
//     --cap: the capped store's maxTokens (default: the config default, spam.bayes_max_tokens)
//     --slowest: list the N slowest messages by CPU with their size and shape (default 10)
//     --passes: classify the test messages P times in section 1 (default 1), each pass reported: the first pays V8
//       compiling the path (bench/RESULTS.md, `spamcpu`), the later ones are what a running server pays
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CONFIG_DEFAULTS } from '../src/config/defaults.ts';
import { classifyMessage, spamSettings } from '../src/services/spam.ts';
import { classify as bayesClassify, trainMany } from '../src/spam/classifier.ts';
import { contentFeatures } from '../src/spam/content/index.ts';
import { messageIndex } from '../src/spam/normalize.ts';
import { headerRules } from '../src/spam/rules.ts';
import { tokenize } from '../src/spam/tokenize.ts';
import { Store } from '../src/store/index.ts';
import { SERVER_SCOPE } from '../src/store/spam.ts';
import { startApi } from '../test/helpers/api.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { requireCorpus } from './lib/corpus.ts';
import {
  CORPUS_DIR,
  loadCorpus,
  pct,
  spreadOver,
  summary,
  unauthenticatedInput,
  withoutSpamHeaders,
  type Sample,
} from './spam-corpus.ts';
import { reportCollections, spread, timedRun, watchCollections, type MessageRun } from './lib/gc.ts';
import { settledInUse } from './lib/memory.ts';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const limit = option('--limit', Infinity);
const rounds = option('--rounds', 3);
const cap = option('--cap', CONFIG_DEFAULTS.spam.bayes_max_tokens);
const slowest = option('--slowest', 10);
const passes = option('--passes', 1);
const NOISE = 30;
const BATCH = 200;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));

/** Wall and CPU milliseconds of one call. */
async function timed<T>(fn: () => T | Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu0);
  return { value, wall, cpu: (used.user + used.system) / 1000 };
}

/** The model's memory: loaded afresh from disk between two full collections. */
async function modelHeapMb(store: Store): Promise<{ tokens: number; mb: number }> {
  store.spam.forget();
  const before = await settledInUse(gc);
  const model = await store.spam.model(SERVER_SCOPE);
  return { tokens: model.counts.size, mb: ((await settledInUse(gc)) - before) / 2 ** 20 };
}

/** Trains `samples` in batches; with `noise`, each message as a new one with 30 random tokens of its own. */
async function trainAll(store: Store, samples: Sample[], maxTokens: number, noise: boolean): Promise<void> {
  for (let i = 0; i < samples.length; i += BATCH) {
    const batch = samples.slice(i, i + BATCH);
    if (!noise) {
      await trainMany(
        store,
        batch.map((s) => ({ input: s.raw, class: s.class })),
        { maxTokens },
      );
      continue;
    }
    // Straight to the store (what trainMany does after tokenizing): the message's own tokens, shuffled
    // noise, and a fresh record key, as if a new message.
    const changes = batch.map((s) => {
      const tokens = [...tokenize(s.raw), ...Array.from({ length: NOISE }, () => randomBytes(6).toString('base64url'))];
      for (let k = tokens.length - 1; k > 0; k--) {
        const j = Math.floor(Math.random() * (k + 1));
        [tokens[k], tokens[j]] = [tokens[j]!, tokens[k]!];
      }
      return { sha: randomBytes(32).toString('hex'), class: s.class, tokens };
    });
    await store.spam.apply(SERVER_SCOPE, changes, maxTokens);
  }
}

/** Verdicts of the API path on the test split: caught / ham junked at 5, caught at ≤0.5% ham, AUC. */
async function verdicts(store: Store, test: Sample[]): Promise<string> {
  const settings = spamSettings({ store });
  const xs: { spam: boolean; score: number }[] = [];
  for (const s of test)
    xs.push({ spam: s.class === 'spam', score: (await classifyMessage({ store }, settings, s.raw)).result.score });
  const r = summary(xs, 5);
  return `caught ${pct(r.caught)}, ham junked ${pct(r.fp)}, at ≤0.5% ham ${pct(r.atTarget)}, AUC ${r.auc.toFixed(4)}`;
}

console.log(
  `${new Date().toISOString()}  load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const loaded = await loadCorpus(0.4);
const samples = loaded.map((s) => ({ ...s, raw: withoutSpamHeaders(s.raw) }));
const training = samples.filter((s) => !s.test);
const allTests = samples.filter((s) => s.test);
const testing = spreadOver(allTests, limit);
console.log(`corpus: ${training.length} training, ${testing.length} of ${allTests.length} test messages classified`);

// Rate limits out of the way (600 requests a minute by default would refuse most of the split).
const unlimited = { limit: Number.MAX_SAFE_INTEGER, windowMs: 60_000 };
const api = await startApi({ validateResponses: false, rateLimits: { management: unlimited, sending: unlimited } });
const dir = tempDir('wrenmail-bench-latency-');
const capped = await Store.open(dir.path);
try {
  const store = api.store; // uncapped: the API's own store
  const t = performance.now();
  await trainAll(store, training, Infinity, false);
  console.log(`trained ${training.length} messages in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  await trainAll(capped, training, cap, false);
  const settings = spamSettings({ store });

  // 1. The API's path in process, a fresh Buffer per message; the collections that ran inside each one.
  for (let pass = 1; pass <= passes; pass++) {
    const whole = { wall: [] as number[], cpu: [] as number[] };
    const runs: MessageRun[] = [];
    const collections = watchCollections();
    for (const s of testing) {
      const raw = Buffer.from(s.raw);
      const { run } = await timedRun(() => classifyMessage({ store }, settings, raw));
      whole.wall.push(run.end - run.start);
      whole.cpu.push(run.cpu);
      runs.push(run);
    }
    const label = pass === 1 ? 'whole path  ' : `pass ${pass}      `;
    console.log(`\nin process, ${label} wall ${spread(whole.wall)}   CPU ${spread(whole.cpu)}`);
    reportCollections(runs, await collections.stop());
  }

  // 2. The same, stage by stage (each stage's cache is filled by the one before, as in the real path),
  // each the least of 3 runs on fresh Buffers: the message's own cost, without GC pauses or preemption.
  const stages = ['parse', 'features', 'tokenize', 'rules', 'bayes'] as const;
  const cpuBy: Record<(typeof stages)[number], number[]> = {
    parse: [],
    features: [],
    tokenize: [],
    rules: [],
    bayes: [],
  };
  const perMessage: { s: Sample; cpu: Record<string, number> }[] = [];
  for (const s of testing) {
    const cpu: Record<string, number> = {};
    for (let run = 0; run < 3; run++) {
      const raw = Buffer.from(s.raw);
      const least = (stage: string, ms: number) => void (cpu[stage] = Math.min(cpu[stage] ?? Infinity, ms));
      least('parse', (await timed(() => messageIndex(raw))).cpu);
      least('features', (await timed(() => contentFeatures(raw))).cpu);
      least('tokenize', (await timed(() => tokenize(raw))).cpu);
      const input = unauthenticatedInput(raw);
      least('rules', (await timed(() => headerRules.score(input))).cpu);
      least('bayes', (await timed(() => bayesClassify(store, raw))).cpu);
    }
    for (const stage of stages) cpuBy[stage].push(cpu[stage]!);
    perMessage.push({ s, cpu });
  }
  for (const stage of stages) console.log(`  stage ${stage.padEnd(9)} CPU ${spread(cpuBy[stage])}`);
  const total = (m: { cpu: Record<string, number> }) => Object.values(m.cpu).reduce((a, b) => a + b, 0);
  console.log(`  slowest ${slowest} by CPU (all stages, least of 3 runs each):`);
  for (const m of perMessage.sort((a, b) => total(b) - total(a)).slice(0, slowest)) {
    const text = m.s.raw.toString('latin1');
    const index = messageIndex(m.s.raw);
    const shape = [
      `${(m.s.raw.length / 1024).toFixed(0)} KB`,
      `${(text.match(/https?:\/\//gi) ?? []).length} URLs`,
      /text\/html/i.test(text) ? 'HTML' : 'no HTML',
      `${index.search.attachments.length} attachments`,
      `text ${(index.search.text.length / 1024).toFixed(0)} KB`,
    ].join(', ');
    const by = stages.map((st) => `${st} ${m.cpu[st]!.toFixed(1)}`).join(' ');
    console.log(`    ${total(m).toFixed(1).padStart(6)} ms  ${m.s.source}  (${shape})  ${by}`);
  }

  // 3. Over HTTP.
  const http = { wall: [] as number[], cpu: [] as number[] };
  const statuses = new Map<number, number>();
  for (const s of testing) {
    const r = await timed(() => api.call('POST', '/spam/classify', { body: { message: s.raw.toString('latin1') } }));
    statuses.set(r.value.status, (statuses.get(r.value.status) ?? 0) + 1);
    http.wall.push(r.wall);
    http.cpu.push(r.cpu);
  }
  console.log(
    `over HTTP (client in process) wall ${spread(http.wall)}   CPU ${spread(http.cpu)}  (status: ${[...statuses].map(([k, n]) => `${k} ×${n}`).join(', ')})`,
  );

  // 4. Memory, clean training and then noise rounds, uncapped and capped.
  const memory = async (round: string) => {
    const off = await modelHeapMb(store);
    const on = await modelHeapMb(capped);
    console.log(
      `  ${round.padEnd(22)} cap off: ${String(off.tokens).padStart(8)} tokens ${off.mb.toFixed(1).padStart(6)} MB   cap ${cap}: ${String(on.tokens).padStart(8)} tokens ${on.mb.toFixed(1).padStart(6)} MB`,
    );
  };
  console.log(`\nmodel memory (heap and typed arrays of the loaded counts), ${training.length} messages a round:`);
  await memory('corpus');
  const clean = { off: await verdicts(store, testing), on: await verdicts(capped, testing) };
  for (let round = 1; round <= rounds; round++) {
    await trainAll(store, training, Infinity, true);
    await trainAll(capped, training, cap, true);
    await memory(`+ round ${round} of noise`);
  }
  console.log(`\nverdicts on the test split (rules + Bayes, Junk at 5):`);
  console.log(`  clean, cap off:       ${clean.off}`);
  console.log(`  clean, cap ${cap}: ${clean.on}`);
  if (rounds > 0) {
    console.log(`  + ${rounds} noise rounds, cap off: ${await verdicts(store, testing)}`);
    console.log(`  + ${rounds} noise rounds, cap ${cap}: ${await verdicts(capped, testing)}`);
  }
  console.log(
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await capped.close();
  dir.remove();
  await api.close();
}
