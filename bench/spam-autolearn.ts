// Auto-learning measured prequentially (issue 18): does training Bayes on the mail the rules are sure of
// (SpamAssassin's bayes_auto_learn, rspamd's autolearn) move the leave-one-source-out splits, and how
// often does it learn the wrong class? After training on a split's training sources as spam-loso.ts does,
// the left-out messages are classified one at a time in an order (seeded shuffles, or the source's own:
// trec07p's inmail numbers run in time), each verdict recorded AS GIVEN at that moment (the figures:
// caught / ham junked at Junk 5, caught at ≤ 0.5% ham, AUC over those verdicts), and then the message is
// trained into the model if the setting says it qualifies. In memory, as spam-sweep.ts replays the
// splits (tokens and rule hits computed once; counts keyed by the message's sha256 as the store keys
// them, so a message learned twice counts once). The row "none" is the no-auto-learn baseline of the
// same run (order does not matter to it).
//
//   node bench/spam-autolearn.ts [--only NAME] [--orders source,1,2,3] [--settings sa,sa-guard,...]
//     [--train-cap 1200]: train on at most this many spam and this many ham of the training sources
//     (a hash-ordered pick), as the private held-out set is trained
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { countedHits } from '../src/inbound/classify.ts';
import { parseDate } from '../src/mime/date.ts';
import { parseHeaders } from '../src/mime/parsed-headers.ts';
import { DEFAULT_BAYES, tokenProbability } from '../src/spam/bayes.ts';
import { bayesVerdict } from '../src/spam/classifier.ts';
import { AUTO_LEARN, autoLearnClass, type AutoLearnThresholds } from '../src/spam/autolearn.ts';
import type { SpamClass } from '../src/store/spam.ts';
import { requireCorpus } from './lib/corpus.ts';
import {
  BODY_ONLY_SOURCES,
  CORPUS_DIR,
  cappedTraining,
  losoSplits,
  pct,
  prepareCorpus,
  sourceOf,
  splitPoint,
  summary,
  type Prepared,
} from './spam-corpus.ts';
import { argOption } from './lib/args.ts';

const only = argOption('--only', '');
const ORDERS = argOption('--orders', 'source,1').split(',');
const TRAIN_CAP = Number(argOption('--train-cap', 'Infinity'));
const JUNK = 5;

/** A setting: the product's thresholds (src/spam/autolearn.ts), and SpamAssassin's learn-on-error mode. */
interface Setting {
  name: string;
  t: AutoLearnThresholds;
  /** SpamAssassin's bayes_auto_learn_on_error: learn only what Bayes got wrong (spam below 0.5, ham above). */
  onError?: boolean;
}

const NEVER = { spamAt: Infinity, hamAt: -Infinity };
// minBalance 0: no balance check. hamBayesMax 1: no Bayes guard on ham.
const SA = { ...AUTO_LEARN, hamBayesMax: 1, minBalance: 0 };
const SETTINGS: Setting[] = [
  // SpamAssassin's defaults (bayes_auto_learn_threshold_spam 12, _nonspam 0.1, 3 header and 3 body points).
  { name: 'sa', t: SA },
  // Ham only when Bayes agrees (≤ 0.2: the curve's 0 point).
  { name: 'sa-guard', t: { ...SA, hamBayesMax: 0.2 } },
  // Our rule points run lower than SpamAssassin's: twice the Junk threshold, the same header/body split.
  { name: 'r10-guard', t: { ...SA, hamBayesMax: 0.2, spamAt: 10 } },
  // Where the rules alone would junk it with room to spare, any mix of header and body.
  { name: 'r8-guard', t: { ...SA, hamBayesMax: 0.2, spamAt: 8, headerMin: 0, bodyMin: 0 } },
  { name: 'r6-guard', t: { ...SA, hamBayesMax: 0.2, spamAt: 6, headerMin: 0, bodyMin: 0 } },
  { name: 'r6-spam-only', t: { ...SA, spamAt: 6, headerMin: 0, bodyMin: 0, hamAt: NEVER.hamAt } },
  { name: 'r8-on-error', t: { ...SA, hamBayesMax: 0.2, spamAt: 8, headerMin: 0, bodyMin: 0 }, onError: true },
  { name: 'ham-guard-only', t: { ...SA, hamBayesMax: 0.2, spamAt: NEVER.spamAt } },
  // With rspamd's check_balance: the product's default (AUTO_LEARN).
  { name: 'sa-guard-bal', t: AUTO_LEARN },
  { name: 'r10-guard-bal', t: { ...AUTO_LEARN, spamAt: 10 } },
  { name: 'r8-guard-bal', t: { ...AUTO_LEARN, spamAt: 8, headerMin: 0, bodyMin: 0 } },
  { name: 'r6-guard-bal', t: { ...AUTO_LEARN, spamAt: 6, headerMin: 0, bodyMin: 0 } },
];
const chosen = argOption('--settings', SETTINGS.map((s) => s.name).join(',')).split(',');

requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));
const samples = (await prepareCorpus()).map((s) => ({ ...s, sha: createHash('sha256').update(s.raw).digest('hex') }));
type Sample = (typeof samples)[number];

/** Token counts as the store holds them: one training record per sha256, moved when relearned. */
class Model {
  readonly counts = new Map<string, [number, number]>();
  readonly totals = { spam: 0, ham: 0 };
  private readonly learned = new Map<string, SpamClass>();
  learn(s: Sample, cls: SpamClass): void {
    const before = this.learned.get(s.sha);
    if (before === cls) return;
    if (before) this.add(s, before, -1);
    this.add(s, cls, 1);
    this.learned.set(s.sha, cls);
  }
  private add(s: Sample, cls: SpamClass, by: 1 | -1): void {
    const k = cls === 'spam' ? 0 : 1;
    this.totals[cls] += by;
    for (const t of s.tokens) {
      const c = this.counts.get(t) ?? [0, 0];
      c[k] += by;
      this.counts.set(t, c);
    }
  }
  verdict(s: Sample) {
    const { spam, ham } = this.totals;
    return bayesVerdict(
      s.tokens,
      (t) => tokenProbability(...(this.counts.get(t) ?? [0, 0]), spam, ham, DEFAULT_BAYES),
      DEFAULT_BAYES,
    );
  }
}

/** The class a setting would learn the message as, or null. */
function decide(a: Setting, s: Sample, p: number, totals: Model['totals']): SpamClass | null {
  const cls = autoLearnClass(s.hits, p, totals, a.t);
  return a.onError && (cls === 'spam' ? p >= 0.5 : p <= 0.5) ? null : cls;
}

/** Source order: trec07p's inmail number (one numbering over spam and ham, in time), else the Date field. */
function sourceKey(s: Sample): number {
  const inmail = /inmail\.(\d+)$/.exec(s.source);
  if (inmail) return Number(inmail[1]);
  return parseDate(parseHeaders(s.raw).get('date')) ?? 0;
}

function ordered(test: Sample[], order: string): Sample[] {
  if (order === 'source') {
    const key = new Map(test.map((s) => [s, sourceKey(s)]));
    return [...test].sort((a, b) => key.get(a)! - key.get(b)! || (a.source < b.source ? -1 : 1));
  }
  return [...test].sort((a, b) => splitPoint(`order${order}:${a.source}`) - splitPoint(`order${order}:${b.source}`));
}

const real = samples.filter((s) => !BODY_ONLY_SOURCES.has(sourceOf(s)));
const mixed = {
  name: 'mixed real sources (1/3 test)',
  train: real.filter((s) => splitPoint(s.source) >= 1 / 3),
  test: real.filter((s) => splitPoint(s.source) < 1 / 3),
};
for (const split of [...losoSplits(samples), mixed]) {
  if (only && !split.name.includes(only)) continue;
  const train = cappedTraining(split.train, TRAIN_CAP);
  const fresh = () => {
    const m = new Model();
    for (const s of train) m.learn(s, s.class);
    return m;
  };
  console.log(
    `${split.name}: trained ${train.filter((s) => s.class === 'spam').length}+${train.filter((s) => s.class === 'ham').length}, tested ${split.test.filter((s) => s.class === 'spam').length}+${split.test.filter((s) => s.class === 'ham').length}`,
  );
  const report = (name: string, scored: { spam: boolean; score: number }[], learned: string) => {
    const r = summary(scored, JUNK);
    console.log(
      `  ${name.padEnd(26)} caught ${pct(r.caught).padStart(7)} ham ${pct(r.fp).padStart(6)} | ≤0.5%: ${pct(r.atTarget).padStart(7)} AUC ${r.auc.toFixed(4)}  ${learned}`,
    );
  };
  const base = fresh();
  report(
    'none',
    split.test.map((s) => ({ spam: s.class === 'spam', score: scoreOf(s, base.verdict(s)) })),
    '',
  );
  for (const a of SETTINGS) {
    if (!chosen.includes(a.name)) continue;
    for (const order of ORDERS) {
      const m = fresh();
      const learned = { spam: 0, ham: 0, hamAsSpam: 0, spamAsHam: 0 };
      const scored = ordered(split.test, order).map((s) => {
        const v = m.verdict(s);
        const cls = decide(a, s, v.probability, m.totals);
        if (cls) {
          learned[cls]++;
          if (cls !== s.class) learned[cls === 'spam' ? 'hamAsSpam' : 'spamAsHam']++;
          m.learn(s, cls);
        }
        return { spam: s.class === 'spam', score: scoreOf(s, v) };
      });
      report(
        `${a.name} (order ${order})`,
        scored,
        `learned ${learned.spam} as spam (${learned.hamAsSpam} ham), ${learned.ham} as ham (${learned.spamAsHam} spam)`,
      );
    }
  }
}

/** The verdict's score: rule points plus the Bayes points, counted as classify.ts counts them. */
function scoreOf(s: Prepared, bayes: { score: number; scoreAlone: number; echoedRules: string[] }): number {
  const { score, scoreAlone, echoedRules } = bayes;
  const verdict = { rule: 'BAYES', score, scoreAlone, notCorroboratedBy: echoedRules };
  return countedHits([...s.hits, verdict].map((h) => ({ description: '', ...h }))).score;
}
