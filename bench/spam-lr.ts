// Does a discriminative model generalize across sources better than Wren's Bayes (issue 18)? Online
// logistic regression over hashed binary features, as the best filters of the TREC 2006/2007 spam track
// did it (Goodman & Yih, CEAS 2006; Sculley & Wachman, SIGIR 2007; Cormack's TREC 2007 overview): one
// weight per hashed feature, p = σ(bias + Σ w), after each training message every present feature's weight
// moves by rate × (y − p), no smoothing. Features, each counted once per message:
//   tokens: the Bayes tokenizer's tokens (src/spam/tokenize.ts);
//   bytes: byte 4-grams of the message's first --window bytes, header and body as received (X-Spam-* removed);
//   writer: the same, with the trace fields a relay or the collecting site adds left out (TRACE_FIELD);
//   tokens+bytes: both in one table.
// For each leave-one-source-out split (bench/spam-corpus.ts) and the mixed split (1/3 of both real sources
// tested, as bench/spam-sweep.ts), beside Bayes (the classifier's probability, counts in memory as the
// sweep keeps them): each model alone (caught at ≤ 0.5% ham, AUC), and with the rule points as the verdict
// adds them, rule points + the classifier's curve (DEFAULT_BAYES.scoreCurve) of a probability calibrated
// on the TRAINING part only: a class-balanced Platt fit σ(a·z + b) of the training messages' out-of-fold
// scores (--folds models, each trained without one fold), never of the left-out source. Bayes gets the same
// treatment beside its hand curve (the figure of record). "Both": rules + the mean of the Bayes (hand curve)
// and the LR points. Training time, weights touched, and classification CPU per message are printed too.
//
//   node bench/spam-lr.ts [--only NAME] [--folds 5] [--seeds 1,2,3] [--lr-only] ['{"features":"bytes","rate":0.01}' ...]
//     each JSON argument is one LR setting (LrSetting: features, bits, rate, passes, cap, window, l2, average,
//     clues, normalize), merged over DEFAULT_LR; none: the three feature sets at the defaults
//     --seeds: the training orders (each its own model; the table shows each and their mean)
//     --lr-only: skip the out-of-fold models and the combined rows (the settings sweep)
//     --weights N: for token models, the N tokens of largest weight either way, with their training counts
import { join } from 'node:path';
import { DEFAULT_BAYES, scoreFor, tokenProbability } from '../src/spam/bayes.ts';
import { bayesVerdict } from '../src/spam/classifier.ts';
import { requireCorpus } from './lib/corpus.ts';
import {
  BODY_ONLY_SOURCES,
  CORPUS_DIR,
  losoSplits,
  pct,
  prepareCorpus,
  sourceOf,
  splitPoint,
  summary,
  type Prepared,
} from './spam-corpus.ts';
import { argOption, args } from './lib/args.ts';

interface LrSetting {
  features: 'tokens' | 'bytes' | 'writer' | 'tokens+bytes';
  /** log2 of the weight table's size. */
  bits: number;
  /** Step size: each present feature's weight moves by rate × (y − p). Cormack's TREC 2007 LR: 0.002. */
  rate: number;
  /** Passes over the training messages, each in a new shuffled order. */
  passes: number;
  /** At most this many tokens a message (its first ones: header, MIME, rules, then the body), 0: all. */
  cap: number;
  /** Bytes read for the 4-grams (Sculley & Wachman: the first 3,000). */
  window: number;
  /** L2 shrinkage of the present features' weights at each step (w ← w − rate·l2·w), 0: none. */
  l2: number;
  /** Classify with the weights averaged over all training steps rather than the last ones. */
  average: boolean;
  /** Classify with the message's this many strongest weights only (OnlineLr.strongest), 0: all. */
  clues: number;
  /** Each feature worth 1/√n of a message with n features (unit-length vectors, as Sculley & Wachman's). */
  normalize: boolean;
}

const DEFAULT_LR: LrSetting = {
  features: 'tokens',
  bits: 20,
  rate: 0.002,
  passes: 1,
  cap: 0,
  window: 3000,
  l2: 0,
  average: false,
  clues: 0,
  normalize: false,
};

const only = argOption('--only', '');
const FOLDS = Number(argOption('--folds', '5'));
const SEEDS = argOption('--seeds', '1').split(',').map(Number);
const LR_ONLY = args.includes('--lr-only');
const SHOW_WEIGHTS = Number(argOption('--weights', '0'));
const JUNK = 5;
const settings: LrSetting[] = args
  .filter((a) => a.startsWith('{'))
  .map((a) => ({ ...DEFAULT_LR, ...(JSON.parse(a) as Partial<LrSetting>) }));
if (settings.length === 0)
  for (const features of ['tokens', 'bytes', 'tokens+bytes'] as const) settings.push({ ...DEFAULT_LR, features });

requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));
let t0 = performance.now();
const samples = await prepareCorpus();
console.log(
  `tokenized and rule-scored ${samples.length} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);

// ---------------------------------------------------------------------------------------------
// Hashed features

/** MurmurHash3's finalizer: a bijection on 32 bits whose every output bit depends on every input bit. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the string's UTF-16 units, `seed` folded in first, then mixed. */
function hashString(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

// Different seeds keep a token and a 4-gram from landing on the same weight by construction.
const TOKEN_SEED = 0x746f6b;
const BYTES_SEED = 0x62797465;

/**
 * Header fields a relay or the collecting site adds rather than the writer: the tokenizer learns none of
 * them (leave-one-source-out, relay names named the corpus, not spam; bench/RESULTS.md "Content features
 * and a source-blind tokenizer"). Authentication results are the rules' evidence.
 */
const TRACE_FIELD =
  /^(received|return-path|delivered-to|x-original-to|envelope-to|x-envelope-[a-z-]*|authentication-results|received-spf|arc-[a-z-]*|dkim-signature|domainkey-signature|x-spam[a-z-]*|status|x-status|x-keywords|x-uid|x-uidl|lines|content-length|x-ids|x-sender|x-beenthere|x-mailman-version|list-[a-z-]*|precedence|errors-to|sender|mailing-list|x-loop)\s*:/i;

/** The message without its trace fields (TRACE_FIELD), the body untouched. */
function withoutTrace(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const blank = /\r?\n\r?\n/.exec(text);
  const end = blank ? blank.index : text.length;
  const kept: string[] = [];
  let keep = true;
  for (const line of text.slice(0, end).split('\n')) {
    if (line[0] !== ' ' && line[0] !== '\t') keep = !TRACE_FIELD.test(line);
    if (keep) kept.push(line);
  }
  return Buffer.from(`${kept.join('\n')}${text.slice(end)}`, 'latin1');
}

/** The distinct table slots of a message's features, in a stamped scratch table (no Set per message). */
class Featurizer {
  private readonly stamp: Uint32Array;
  private generation = 0;
  private readonly out: Int32Array = new Int32Array(8192);
  private n = 0;

  readonly bits: number;

  constructor(bits: number) {
    this.bits = bits;
    this.stamp = new Uint32Array(1 << bits);
  }

  private begin(): void {
    this.n = 0;
    if (++this.generation === 0xffffffff) {
      this.stamp.fill(0);
      this.generation = 1;
    }
  }

  private add(hash: number): void {
    const slot = hash >>> (32 - this.bits);
    if (this.stamp[slot] === this.generation || this.n === this.out.length) return;
    this.stamp[slot] = this.generation;
    this.out[this.n++] = slot;
  }

  private tokens(tokens: string[], cap: number): void {
    const n = cap > 0 ? Math.min(cap, tokens.length) : tokens.length;
    for (let i = 0; i < n; i++) this.add(hashString(tokens[i]!, TOKEN_SEED));
  }

  private bytes(raw: Buffer, window: number): void {
    const end = Math.min(raw.length, window);
    if (end < 4) return;
    let gram = (raw[0]! << 16) | (raw[1]! << 8) | raw[2]!;
    for (let i = 3; i < end; i++) {
      gram = ((gram << 8) | raw[i]!) >>> 0;
      this.add(mix32(gram ^ BYTES_SEED));
    }
  }

  /** The slots of one message under `s`, a copy the caller keeps. */
  of(message: { tokens: string[]; raw: Buffer; writer: Buffer }, s: LrSetting): Int32Array {
    this.begin();
    if (s.features === 'tokens' || s.features === 'tokens+bytes') this.tokens(message.tokens, s.cap);
    if (s.features === 'bytes' || s.features === 'tokens+bytes') this.bytes(message.raw, s.window);
    if (s.features === 'writer') this.bytes(message.writer, s.window);
    return this.out.slice(0, this.n);
  }
}

// ---------------------------------------------------------------------------------------------
// Online logistic regression

class OnlineLr {
  readonly weights: Float32Array;
  bias = 0;
  private readonly rate: number;
  private readonly l2: number;
  private readonly normalize: boolean;
  /** With averaging: each change to a weight times the step it was made at (Daumé's averaged perceptron). */
  private readonly timed: Float64Array | null;
  private timedBias = 0;
  private steps = 1;

  constructor(s: LrSetting) {
    this.weights = new Float32Array(1 << s.bits);
    this.rate = s.rate;
    this.l2 = s.l2;
    this.normalize = s.normalize;
    this.timed = s.average ? new Float64Array(1 << s.bits) : null;
  }

  /** The log-odds of spam. */
  score(x: Int32Array): number {
    let z = 0;
    for (let i = 0; i < x.length; i++) z += this.weights[x[i]!]!;
    return this.bias + z * this.valueOf(x);
  }

  /** What one present feature is worth in this message. */
  private valueOf(x: Int32Array): number {
    return this.normalize && x.length > 0 ? 1 / Math.sqrt(x.length) : 1;
  }

  /**
   * The log-odds from the `clues` weights of largest magnitude among the message's features only, as
   * Bayes takes its 30 strongest clues: does a crowd of weak features (hash-buster padding) outvote the
   * strong ones across sources?
   */
  strongest(x: Int32Array, clues: number): number {
    if (x.length <= clues) return this.score(x);
    const present = Float64Array.from(x, (slot) => this.weights[slot]!);
    present.sort((a, b) => Math.abs(b) - Math.abs(a));
    let z = 0;
    for (let i = 0; i < clues; i++) z += present[i]!;
    return this.bias + z * this.valueOf(x);
  }

  /**
   * One gradient step of the log loss on one message (spam: y = 1). Untraining the message would be the
   * same step with the sign of its stored (y − p) reversed; see the report in bench/RESULTS.md.
   */
  train(x: Int32Array, spam: boolean): number {
    const z = this.score(x);
    const step = this.rate * ((spam ? 1 : 0) - 1 / (1 + Math.exp(-z)));
    const featureStep = step * this.valueOf(x);
    const shrink = this.rate * this.l2;
    for (let i = 0; i < x.length; i++) {
      const slot = x[i]!;
      const change = featureStep - this.weights[slot]! * shrink;
      this.weights[slot]! += change;
      if (this.timed) this.timed[slot]! += this.steps * change;
    }
    this.bias += step;
    this.timedBias += this.steps * step;
    this.steps++;
    return step;
  }

  /**
   * With averaging, the weights become their mean over every step of training, so the last messages of an
   * order do not outweigh the first (Polyak-Ruppert averaging; measured: it did not make the left-out
   * figures steadier from one order to another, bench/RESULTS.md).
   */
  finish(): void {
    if (!this.timed) return;
    for (let i = 0; i < this.weights.length; i++) this.weights[i]! -= this.timed[i]! / this.steps;
    this.bias -= this.timedBias / this.steps;
  }

  /** Weights that any message moved. */
  touched(): number {
    let n = 0;
    for (let i = 0; i < this.weights.length; i++) if (this.weights[i] !== 0) n++;
    return n;
  }
}

/** mulberry32: a seeded order, so a run is repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function shuffled<T>(xs: T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

interface Vectorized {
  x: Int32Array;
  spam: boolean;
}

function trainLr(train: Vectorized[], s: LrSetting, seed: number): OnlineLr {
  const model = new OnlineLr(s);
  const random = seeded(seed);
  for (let pass = 0; pass < s.passes; pass++) for (const m of shuffled(train, random)) model.train(m.x, m.spam);
  model.finish();
  return model;
}

const scoreOf = (model: OnlineLr, x: Int32Array, s: LrSetting) =>
  s.clues > 0 ? model.strongest(x, s.clues) : model.score(x);

/** The tokens of the SHOW_WEIGHTS largest weights either way, with their weight and training counts [spam/ham]. */
function strongestTokens(model: OnlineLr, train: Prepared[], s: LrSetting): string {
  const counts = new Map<string, [number, number]>();
  for (const m of train)
    for (const t of s.cap > 0 ? m.tokens.slice(0, s.cap) : m.tokens) {
      const c = counts.get(t) ?? [0, 0];
      c[m.class === 'spam' ? 0 : 1]++;
      counts.set(t, c);
    }
  const shift = 32 - s.bits;
  const ranked = [...counts].map(([token, c]) => ({
    token,
    c,
    w: model.weights[hashString(token, TOKEN_SEED) >>> shift]!,
  }));
  ranked.sort((a, b) => b.w - a.w);
  const show = (xs: typeof ranked) => xs.map((r) => `${r.token}=${r.w.toFixed(2)}[${r.c.join('/')}]`).join('  ');
  return `    spammiest: ${show(ranked.slice(0, SHOW_WEIGHTS))}\n    hammiest: ${show(ranked.slice(-SHOW_WEIGHTS).reverse())}`;
}

// ---------------------------------------------------------------------------------------------
// Bayes, as bench/spam-sweep.ts replays it

type Counts = { counts: Map<string, [number, number]>; totals: { spam: number; ham: number } };

function countsOf(train: Prepared[]): Counts {
  const m: Counts = { counts: new Map(), totals: { spam: 0, ham: 0 } };
  for (const s of train) {
    m.totals[s.class]++;
    const k = s.class === 'spam' ? 0 : 1;
    for (const t of s.tokens) {
      const c = m.counts.get(t) ?? [0, 0];
      c[k]++;
      m.counts.set(t, c);
    }
  }
  return m;
}

const bayesP = (s: Prepared, m: Counts) =>
  bayesVerdict(
    s.tokens,
    (t) => tokenProbability(...(m.counts.get(t) ?? [0, 0]), m.totals.spam, m.totals.ham, DEFAULT_BAYES),
    DEFAULT_BAYES,
  ).probability;

// ---------------------------------------------------------------------------------------------
// Calibration on the training part and the verdict's combination

const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-6), 1 - 1e-6);
  return Math.log(q / (1 - q));
};
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * Class-balanced Platt scaling: a, b minimising the log loss of σ(a·z + b), each class half the weight,
 * against Platt's smoothed targets (n+1)/(n+2) and 1/(n+2): out-of-fold scores that separate the
 * training classes completely (Bayes' chi-square saturates at 0 and 1) would otherwise send a to infinity.
 */
function platt(zs: number[], spam: boolean[]): { a: number; b: number } {
  const nSpam = spam.filter(Boolean).length;
  const nHam = spam.length - nSpam;
  const weight = (isSpam: boolean) => (isSpam ? 0.5 / nSpam : 0.5 / nHam);
  const target = (isSpam: boolean) => (isSpam ? (nSpam + 1) / (nSpam + 2) : 1 / (nHam + 2));
  // Cross-entropy against the targets, computed without overflow for large |a·z + b|.
  const loss = (a: number, b: number) => {
    let sum = 0;
    for (let i = 0; i < zs.length; i++) {
      const u = a * zs[i]! + b;
      const softplus = Math.max(u, 0) + Math.log1p(Math.exp(-Math.abs(u))); // −log(1 − σ(u))
      sum += weight(spam[i]!) * (softplus - target(spam[i]!) * u);
    }
    return sum;
  };
  // Newton's method on two parameters, each step halved until the loss falls (a full step can overshoot
  // when the scores nearly separate the classes).
  let a = 1;
  let b = 0;
  let current = loss(a, b);
  for (let it = 0; it < 100; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-12;
    let hab = 0;
    let hbb = 1e-12;
    for (let i = 0; i < zs.length; i++) {
      const w = weight(spam[i]!);
      const p = sigmoid(a * zs[i]! + b);
      const err = (p - target(spam[i]!)) * w;
      const curv = p * (1 - p) * w;
      ga += err * zs[i]!;
      gb += err;
      haa += curv * zs[i]! ** 2;
      hab += curv * zs[i]!;
      hbb += curv;
    }
    const det = haa * hbb - hab * hab;
    let da = (hbb * ga - hab * gb) / det;
    let db = (haa * gb - hab * ga) / det;
    let next = loss(a - da, b - db);
    for (let halvings = 0; next > current && halvings < 30; halvings++) {
      da /= 2;
      db /= 2;
      next = loss(a - da, b - db);
    }
    if (next > current) break;
    a -= da;
    b -= db;
    const gain = current - next;
    current = next;
    if (gain < 1e-12) break;
  }
  return { a, b };
}

/** The classifier's points for a probability, rounded as classifier.ts rounds them. */
const curvePoints = (p: number) => Math.round(scoreFor(p, DEFAULT_BAYES.scoreCurve) * 10) / 10;
const rulePoints = (s: Prepared) => s.hits.reduce((sum, h) => sum + h.score, 0);
const verdict = (s: Prepared, points: number) => Math.round((rulePoints(s) + points) * 10) / 10;

/** Which fold (of FOLDS) a training message is in: by path hash, as bench/spam-fit.ts folds. */
const foldOf = (s: Prepared) => Math.floor(splitPoint(`fold:${s.source}`) * FOLDS);

// ---------------------------------------------------------------------------------------------
// The splits

type Scored = { spam: boolean; score: number };
const cell = (xs: Scored[], withVerdict: boolean) => {
  const r = summary(xs, JUNK);
  return withVerdict
    ? `${pct(r.caught)} / ${pct(r.fp)} / ${pct(r.atTarget)} / ${r.auc.toFixed(4)}`
    : `${pct(r.atTarget)} / ${r.auc.toFixed(4)}`;
};
/** Caught / ham junked / caught at ≤ 0.5% ham / AUC, each the mean over the orders. */
const means = (rows: number[][]) => {
  const mean = (k: number) => rows.reduce((sum, r) => sum + r[k]!, 0) / rows.length;
  return `${pct(mean(0))} / ${pct(mean(1))} / ${pct(mean(2))} / ${mean(3).toFixed(4)}`;
};
const percentile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)]!;

type Message = Prepared & { writer: Buffer };
const messages: Message[] = samples.map((s) => ({ ...s, writer: withoutTrace(s.raw) }));
const real = messages.filter((s) => !BODY_ONLY_SOURCES.has(sourceOf(s)));
const mixed = {
  name: 'mixed real sources (1/3 test)',
  train: real.filter((s) => splitPoint(s.source) >= 1 / 3),
  test: real.filter((s) => splitPoint(s.source) < 1 / 3),
};
const featurizers = new Map<number, Featurizer>();
const featurizer = (bits: number) => {
  let f = featurizers.get(bits);
  if (!f) featurizers.set(bits, (f = new Featurizer(bits)));
  return f;
};

for (const split of [...losoSplits(messages), mixed]) {
  if (only && !split.name.includes(only)) continue;
  const spamOf = (xs: Prepared[]) => xs.map((s) => s.class === 'spam');
  const testSpam = spamOf(split.test);
  const trainSpam = spamOf(split.train);
  console.log(
    `\n== ${split.name}: train ${trainSpam.filter(Boolean).length}+${trainSpam.filter((x) => !x).length}, test ${testSpam.filter(Boolean).length}+${testSpam.filter((x) => !x).length}`,
  );

  // Bayes: alone, with the hand curve (the verdict as shipped), and with a curve calibrated like the LR's.
  t0 = performance.now();
  const bayesModel = countsOf(split.train);
  const bayesTrainMs = performance.now() - t0;
  const bayesTest = split.test.map((s) => bayesP(s, bayesModel));
  const bayesHandPoints = bayesTest.map(curvePoints);
  console.log(
    `Bayes (trained in ${bayesTrainMs.toFixed(0)} ms, ${bayesModel.counts.size} tokens)   alone ${cell(
      bayesTest.map((p, i) => ({ spam: testSpam[i]!, score: p })),
      false,
    )} | + rules, hand curve ${cell(
      split.test.map((s, i) => ({ spam: testSpam[i]!, score: verdict(s, bayesHandPoints[i]!) })),
      true,
    )}`,
  );
  if (!LR_ONLY) {
    const oof = new Array<number>(split.train.length);
    for (let f = 0; f < FOLDS; f++) {
      const m = countsOf(split.train.filter((s) => foldOf(s) !== f));
      split.train.forEach((s, i) => {
        if (foldOf(s) === f) oof[i] = logit(bayesP(s, m));
      });
    }
    const { a, b } = platt(oof, trainSpam);
    console.log(
      `Bayes + rules, curve of the Platt-calibrated p (a ${a.toFixed(3)}, b ${b.toFixed(3)}, out-of-fold on training): ${cell(
        split.test.map((s, i) => ({
          spam: testSpam[i]!,
          score: verdict(s, curvePoints(sigmoid(a * logit(bayesTest[i]!) + b))),
        })),
        true,
      )}`,
    );
  }

  for (const setting of settings) {
    const f = featurizer(setting.bits);
    t0 = performance.now();
    const train: Vectorized[] = split.train.map((s) => ({ x: f.of(s, setting), spam: s.class === 'spam' }));
    const featureUs = ((performance.now() - t0) * 1000) / split.train.length;
    const meanFeatures = train.reduce((n, m) => n + m.x.length, 0) / train.length;
    const label = JSON.stringify(
      Object.fromEntries(
        Object.entries(setting).filter(([k, v]) => v !== DEFAULT_LR[k as keyof LrSetting] || k === 'features'),
      ),
    );
    const perSeed: { alone: number; aloneAuc: number; combined: number[]; both: number[] }[] = [];
    for (const seed of SEEDS) {
      t0 = performance.now();
      const model = trainLr(train, setting, seed);
      const trainMs = performance.now() - t0;
      const zs = split.test.map((s) => scoreOf(model, f.of(s, setting), setting));
      // Classification as a server would do it, the features of the message then the sum, timed on a
      // second round (the first warmed the code): the tokens are the Bayes tokenizer's, already paid for.
      const times: number[] = [];
      const cpu = process.cpuUsage();
      for (const s of split.test) {
        const t = performance.now();
        scoreOf(model, f.of(s, setting), setting);
        times.push(performance.now() - t);
      }
      const used = process.cpuUsage(cpu);
      const aloneXs = zs.map((z, i) => ({ spam: testSpam[i]!, score: z }));
      const alone = summary(aloneXs, Number.POSITIVE_INFINITY);
      const line = [
        `LR ${label} seed ${seed}: alone ${cell(aloneXs, false)}`,
        `train ${trainMs.toFixed(0)} ms (${((trainMs * 1000) / (train.length * setting.passes)).toFixed(1)} µs/msg/pass, features ${featureUs.toFixed(0)} µs/msg, ${meanFeatures.toFixed(0)}/msg)`,
        `weights ${model.touched()} of ${model.weights.length} (${(model.weights.byteLength / 2 ** 20).toFixed(0)} MB dense)`,
        `classify CPU ${((used.user + used.system) / split.test.length).toFixed(0)} µs/msg, wall p99 ${(percentile(times, 0.99) * 1000).toFixed(0)} µs`,
      ];
      const result = { alone: alone.atTarget, aloneAuc: alone.auc, combined: [] as number[], both: [] as number[] };
      if (!LR_ONLY) {
        // The curve's calibration from the training part only: each fold scored by a model trained without it.
        const oof = new Array<number>(split.train.length);
        for (let k = 0; k < FOLDS; k++) {
          const m = trainLr(
            train.filter((_, i) => foldOf(split.train[i]!) !== k),
            setting,
            seed,
          );
          train.forEach((v, i) => {
            if (foldOf(split.train[i]!) === k) oof[i] = scoreOf(m, v.x, setting);
          });
        }
        const { a, b } = platt(oof, trainSpam);
        const lrPoints = zs.map((z) => curvePoints(sigmoid(a * z + b)));
        const combinedXs = split.test.map((s, i) => ({ spam: testSpam[i]!, score: verdict(s, lrPoints[i]!) }));
        const bothXs = split.test.map((s, i) => ({
          spam: testSpam[i]!,
          score: verdict(s, (lrPoints[i]! + bayesHandPoints[i]!) / 2),
        }));
        const c = summary(combinedXs, JUNK);
        const both = summary(bothXs, JUNK);
        result.combined = [c.caught, c.fp, c.atTarget, c.auc];
        result.both = [both.caught, both.fp, both.atTarget, both.auc];
        line.push(
          `Platt a ${a.toFixed(3)} b ${b.toFixed(3)}`,
          `+ rules ${cell(combinedXs, true)}`,
          `rules + mean(Bayes, LR) points ${cell(bothXs, true)}`,
        );
      }
      perSeed.push(result);
      console.log(line.join('\n    '));
      if (SHOW_WEIGHTS && setting.features === 'tokens') console.log(strongestTokens(model, split.train, setting));
    }
    if (SEEDS.length > 1) {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      console.log(
        `  mean of ${SEEDS.length} orders: alone at ≤0.5% ${pct(mean(perSeed.map((r) => r.alone)))} (${perSeed.map((r) => pct(r.alone)).join(', ')}) AUC ${mean(perSeed.map((r) => r.aloneAuc)).toFixed(4)}` +
          (LR_ONLY
            ? ''
            : `; + rules ${means(perSeed.map((r) => r.combined))}; rules + mean(Bayes, LR) ${means(perSeed.map((r) => r.both))}`),
      );
    }
  }
}
