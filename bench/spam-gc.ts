// Collections in the classify path of a process shaped like the server's, not the latency bench's
// (issue 18: are the 10–40 ms scavenges that land on a message real in the MX, or an artefact of what
// bench/spam-latency.ts keeps alive: the whole corpus, two trained models, an API server?).
// Trains a store capped as the server's (the config default) on the split of bench/spam-latency.ts,
// closes it, then for each V8 flag set starts a child process that opens the store as the server does
// (the model loaded from disk), reads each test message from disk when it classifies it (as the MX
// gets it off the socket: nothing else kept), classifies every one once to warm up, then again timed,
// and reports which messages had a collection inside, the CPU without them, the allocation per message
// and the memory the process holds.
//   node bench/spam-gc.ts [--limit N] [--flags "--max-semi-space-size=32"]... (default: no flags)
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';
import { CONFIG_DEFAULTS } from '../src/config/defaults.ts';
import { classifyMessage, spamSettings } from '../src/services/spam.ts';
import { trainMany } from '../src/spam/classifier.ts';
import { Store } from '../src/store/index.ts';
import { SERVER_SCOPE } from '../src/store/spam.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { requireCorpus } from './lib/corpus.ts';
import { reportCollections, spread, timedRun, watchCollections, type MessageRun } from './lib/gc.ts';
import { CORPUS_DIR, loadCorpus, spreadOver, withoutSpamHeaders } from './spam-corpus.ts';

const args = process.argv.slice(2);
const valuesOf = (name: string) => args.flatMap((a, i) => (args[i - 1] === name ? [a] : []));
const BATCH = 200;

if (args[0] === '--child') await child(args[1]!, args[2]!);
else await parent();

async function parent(): Promise<void> {
  requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));
  const limit = Number(valuesOf('--limit')[0] ?? Infinity);
  const flagSets = valuesOf('--flags');
  if (flagSets.length === 0) flagSets.push('');
  const samples = await loadCorpus(0.4);
  const training = samples.filter((s) => !s.test);
  const testing = spreadOver(
    samples.filter((s) => s.test),
    limit,
  );
  const dir = tempDir('wrenmail-bench-gc-');
  try {
    const store = await Store.open(join(dir.path, 'store'));
    const maxTokens = CONFIG_DEFAULTS.spam.bayes_max_tokens;
    for (let i = 0; i < training.length; i += BATCH) {
      const batch = training.slice(i, i + BATCH);
      await trainMany(
        store,
        batch.map((s) => ({ input: withoutSpamHeaders(s.raw), class: s.class })),
        { maxTokens },
      );
    }
    await store.close();
    const list = join(dir.path, 'tests.json');
    writeFileSync(list, JSON.stringify(testing.map((s) => s.source)));
    console.log(`trained ${training.length} messages (cap ${maxTokens}); ${testing.length} test messages`);
    for (const flags of flagSets) {
      console.log(`\nchild: node ${flags || '(no flags)'}`);
      const own = process.argv[1]!;
      const childArgs = [...flags.split(' ').filter(Boolean), own, '--child', join(dir.path, 'store'), list];
      process.stdout.write(execFileSync(process.execPath, childArgs, { encoding: 'utf8' }));
    }
  } finally {
    dir.remove();
  }
}

async function child(storeDir: string, list: string): Promise<void> {
  const store = await Store.open(storeDir);
  const settings = spamSettings({ store });
  const model = await store.spam.model(SERVER_SCOPE);
  const sources = JSON.parse(readFileSync(list, 'utf8')) as string[];
  const read = (source: string) => withoutSpamHeaders(readFileSync(join(CORPUS_DIR, source)));
  for (const source of sources) await classifyMessage({ store }, settings, read(source)); // JIT warm-up
  const runs: MessageRun[] = [];
  const collections = watchCollections();
  for (const source of sources) {
    const raw = read(source);
    runs.push((await timedRun(() => classifyMessage({ store }, settings, raw))).run);
  }
  console.log(`  whole path: CPU ${spread(runs.map((r) => r.cpu))}; wall ${spread(runs.map((r) => r.end - r.start))}`);
  reportCollections(runs, await collections.stop());
  const m = process.memoryUsage();
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MB`;
  console.log(
    `  memory: rss ${mb(m.rss)}, heap total ${mb(m.heapTotal)}, used ${mb(m.heapUsed)}, array buffers ${mb(m.arrayBuffers)}; new space ${mb(young.space_size)} (${model.counts.size} tokens in the model)`,
  );
  await store.close();
}
