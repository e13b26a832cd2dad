// Bayesian classifier benchmark: accuracy on the shared corpus split (the one test/e2e/spam-corpus
// uses), classification time per message (median, p99), model load time and memory with 10,000
// trained messages; with --sa, SpamAssassin (Debian `spamassassin`: sa-learn on the same training
// split, `spamassassin -L --mbox` on the same test messages, local tests only, no network) beside it.
//
//   node bench/spam.ts [--sa] [--sa-sample N]     (N test messages for SpamAssassin, default 1000)
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { classify, trainMany } from '../src/spam/classifier.ts';
import { Store } from '../src/store/index.ts';
import { SERVER_SCOPE } from '../src/store/spam.ts';
import { loadCorpus, pct, rates, splitPoint, type Confusion, type Sample } from './spam-corpus.ts';

const args = process.argv.slice(2);
const withSa = args.includes('--sa');
const saSample = Number(args[args.indexOf('--sa-sample') + 1]) || 1000;
const JUNK = 5;

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const emptyConfusion = (): Confusion => ({ spam: 0, ham: 0, caught: 0, falsePositives: 0, unsureSpam: 0, unsureHam: 0 });
const count = (c: Confusion, cls: 'spam' | 'ham', junk: boolean) => {
  if (cls === 'spam') {
    c.spam++;
    if (junk) c.caught++;
  } else {
    c.ham++;
    if (junk) c.falsePositives++;
  }
};
const line = (name: string, c: Confusion) => {
  const r = rates(c);
  console.log(`${name.padEnd(28)} ${String(c.spam + c.ham).padStart(6)} ${pct(r.accuracy).padStart(8)} ${pct(r.falsePositiveRate).padStart(8)} ${pct(r.falseNegativeRate).padStart(8)}`);
};

if (args[0] === '--measure-model') {
  // In a fresh process, so the heap holds nothing but the store and the model.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const store = await Store.open(args[1]!);
  const t = performance.now();
  const model = await store.spam.model(SERVER_SCOPE);
  const loadMs = performance.now() - t;
  gc();
  console.log(JSON.stringify({ tokens: model.counts.size, heapMb: (process.memoryUsage().heapUsed - before) / 2 ** 20, loadMs }));
  await store.close();
  process.exit(0);
}

const tmp = mkdtempSync(join(tmpdir(), 'wrenmail-bench-spam-'));
try {
  const samples = await loadCorpus(0.4);
  const training = samples.filter((s) => !s.test);
  const testing = samples.filter((s) => s.test);

  // 1. Accuracy and per-message time on the split.
  let store = await Store.open(join(tmp, 'split'));
  let t = performance.now();
  for (let i = 0; i < training.length; i += 200) await trainMany(store, training.slice(i, i + 200).map((s) => ({ input: s.raw, class: s.class })));
  const trainMs = performance.now() - t;
  const ours = emptyConfusion();
  const verdicts = new Map<string, boolean>(); // source → junked, to compare on SpamAssassin's sample
  const times: number[] = [];
  for (const s of testing) {
    t = performance.now();
    const v = await classify(store, s.raw);
    times.push(performance.now() - t);
    count(ours, s.class, v.score >= JUNK);
    verdicts.set(s.source, v.score >= JUNK);
  }
  await store.close();
  times.sort((a, b) => a - b);
  console.log(`training: ${training.length} messages in ${(trainMs / 1000).toFixed(1)} s (${(trainMs / training.length).toFixed(2)} ms each, batches of 200)`);
  console.log(`classification (tokenize + index + score): median ${quantile(times, 0.5).toFixed(2)} ms, p99 ${quantile(times, 0.99).toFixed(2)} ms, max ${times[times.length - 1]!.toFixed(1)} ms`);

  // 2. Model size with 10,000 trained messages: load time and heap of the in-memory counts.
  const tenK = [...samples].sort((a, b) => splitPoint(a.source) - splitPoint(b.source)).slice(0, 10_000);
  store = await Store.open(join(tmp, 'tenk'));
  for (let i = 0; i < tenK.length; i += 500) await trainMany(store, tenK.slice(i, i + 500).map((s) => ({ input: s.raw, class: s.class })));
  await store.close();
  const measured = spawnSync(process.execPath, [import.meta.filename, '--measure-model', join(tmp, 'tenk')], { encoding: 'utf8' });
  const { tokens, heapMb, loadMs } = JSON.parse(measured.stdout) as { tokens: number; heapMb: number; loadMs: number };
  const diskMb = Number(spawnSync('du', ['-sm', join(tmp, 'tenk')], { encoding: 'utf8' }).stdout.split('\t')[0]);
  console.log(`model of ${tenK.length} messages: ${tokens} tokens, ${heapMb.toFixed(0)} MB heap, loaded in ${loadMs.toFixed(0)} ms; ${diskMb} MB on disk (counts + training records)`);

  // 3. Side by side.
  console.log(`\n${'filter'.padEnd(28)} ${'tested'.padStart(6)} ${'accuracy'.padStart(8)} ${'FP'.padStart(8)} ${'FN'.padStart(8)}`);
  line('wrenmail bayes (alone)', ours);
  if (withSa) spamAssassin(training, testing.filter((_, i) => i % Math.max(1, Math.floor(testing.length / saSample)) === 0).slice(0, saSample), verdicts);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

function mbox(messages: Sample[]): string {
  return messages.map((s) => `From bench@localhost Thu Jan  1 00:00:00 1970\n${s.raw.toString('latin1').replace(/\r\n/g, '\n').replace(/^(>*From )/gm, '>$1')}\n`).join('');
}

function spamAssassin(training: Sample[], testing: Sample[], ours: Map<string, boolean>): void {
  const dir = join(tmp, 'sa');
  mkdirSync(dir);
  // Local tests only, Bayes on with our training, nothing learned automatically while testing.
  // The plugin loaders (*.pre, Bayes among them) come from the system config this one replaces.
  for (const pre of readdirSync('/etc/spamassassin').filter((f) => f.endsWith('.pre'))) copyFileSync(join('/etc/spamassassin', pre), join(dir, pre));
  writeFileSync(join(dir, 'local.cf'), `use_bayes 1\nbayes_auto_learn 0\nbayes_path ${dir}/bayes\nskip_rbl_checks 1\ndns_available no\n`);
  const sa = (cmd: string, argv: string[], input?: string) => {
    const r = spawnSync(cmd, ['--siteconfigpath', dir, ...argv], { input, encoding: 'latin1', maxBuffer: 1 << 30, timeout: 30 * 60_000 });
    if (r.status !== 0 && r.status !== 1) throw new Error(`${cmd} failed (${r.status}): ${r.stderr?.slice(0, 500)}`);
    return r.stdout;
  };
  let t = performance.now();
  for (const cls of ['spam', 'ham'] as const) {
    writeFileSync(join(dir, `${cls}.mbox`), mbox(training.filter((s) => s.class === cls)), 'latin1');
    sa('sa-learn', [`--${cls}`, '--mbox', '--no-sync', join(dir, `${cls}.mbox`)]);
  }
  sa('sa-learn', ['--sync']);
  const learnS = (performance.now() - t) / 1000;
  writeFileSync(join(dir, 'test.mbox'), mbox(testing), 'latin1');
  t = performance.now();
  const out = sa('spamassassin', ['-L', '--mbox', join(dir, 'test.mbox')]);
  const perMsg = (performance.now() - t) / testing.length;
  const statuses = [...out.matchAll(/^X-Spam-Status: (Yes|No), score=(-?[\d.]+)[^\n]*(?:\n[ \t][^\n]*)*/gm)];
  if (statuses.length !== testing.length) throw new Error(`SpamAssassin returned ${statuses.length} verdicts for ${testing.length} messages`);
  const whole = emptyConfusion();
  const bayes = emptyConfusion();
  const mineOnSample = emptyConfusion();
  testing.forEach((s, i) => {
    const status = statuses[i]![0];
    count(whole, s.class, statuses[i]![1] === 'Yes');
    count(bayes, s.class, /BAYES_(9[59]|999)/.test(status));
    count(mineOnSample, s.class, ours.get(s.source)!);
  });
  console.log(`spamassassin: sa-learn ${training.length} messages in ${learnS.toFixed(0)} s; spamassassin -L ${perMsg.toFixed(0)} ms per message`);
  line(`spamassassin -L (sample)`, whole);
  line(`spamassassin BAYES_95+ only`, bayes);
  line('wrenmail bayes (same sample)', mineOnSample);
}
