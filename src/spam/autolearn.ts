// Auto-learning, as SpamAssassin's AutoLearnThreshold plugin (bayes_auto_learn) and rspamd's Bayes
// autolearn do it: a message whose verdict is sure without Bayes is trained into the server model as it
// is classified, so the model follows the installation's own mail without anyone labelling it.
// Measured prequentially on the leave-one-source-out splits (bench/spam-autolearn.ts, bench/RESULTS.md
// "Auto-learning"): with SpamAssassin public left out, caught 62.74% → 78.2–79.8% at 0.25–0.36% ham
// junked in three orders; the other splits as before or better.
import { metrics, type AutoLearnOutcome } from '../metrics/registry.ts';
import type { Store } from '../store/index.ts';
import type { SpamClass, SpamTotals } from '../store/spam.ts';
import { trainMany, type ClassifierOptions } from './classifier.ts';
import { BODY_RULES } from './rules.ts';
import type { SpamHit } from './types.ts';

export interface AutoLearnThresholds {
  /** Learn as spam from these points without Bayes, with at least `headerMin` of header and `bodyMin` of body points. */
  spamAt: number;
  headerMin: number;
  bodyMin: number;
  /** Learn as ham at or below these points without Bayes … */
  hamAt: number;
  /** … when Bayes speaks and says at most this: spam the rules miss (most of a new source's) is not learned as ham. */
  hamBayesMax: number;
  /**
   * rspamd's check_balance (min_balance 0.9): a class is not learned while the model holds more than
   * (other + 1) / minBalance of it, so learning one side only cannot tilt the model. Without it, the ham
   * of a left-out source learned alone cost 1.5–2 points of its spam caught (trec07p left out).
   */
  minBalance: number;
}

/** SpamAssassin's defaults (12 points, 3 of header and 3 of body; ham at 0.1), Bayes ≤ 0.2, rspamd's balance. */
export const AUTO_LEARN: AutoLearnThresholds = {
  spamAt: 12,
  headerMin: 3,
  bodyMin: 3,
  hamAt: 0.1,
  hamBayesMax: 0.2,
  minBalance: 0.9,
};

const isBayes = (rule: string) => rule.startsWith('BAYES_');

/**
 * The class to learn a message as, or null: from its rule hits (any Bayes hit among them is left out),
 * the Bayes probability it was given (null: Bayes abstained) and the model's trained totals.
 */
export function autoLearnClass(
  hits: Pick<SpamHit, 'rule' | 'score'>[],
  probability: number | null,
  totals: SpamTotals,
  t: AutoLearnThresholds = AUTO_LEARN,
): SpamClass | null {
  let header = 0;
  let body = 0;
  for (const h of hits) {
    if (isBayes(h.rule)) continue;
    if (BODY_RULES.has(h.rule)) body += h.score;
    else header += h.score;
  }
  const points = header + body;
  const tilted = (cls: SpamClass) => totals[cls] > (totals[cls === 'spam' ? 'ham' : 'spam'] + 1) / t.minBalance;
  if (points >= t.spamAt && header >= t.headerMin && body >= t.bodyMin) return tilted('spam') ? null : 'spam';
  if (points <= t.hamAt && probability !== null && probability <= t.hamBayesMax) return tilted('ham') ? null : 'ham';
  return null;
}

export interface AutoLearner {
  /** Queues a message to be learned as `cls` (with `accountId`'s own model too, when per-account models are on). */
  offer(raw: Buffer, cls: SpamClass, accountId?: string): void;
  /** Learns what is queued now; resolves when it is written. */
  flush(): Promise<void>;
}

/**
 * Offers waiting at most: learning is opportunistic, so when mail comes faster than the model is written
 * the rest is dropped (and counted) rather than held in memory without bound.
 */
export const MAX_QUEUED = 1000;

/**
 * Learns the offered messages in batches, off the SMTP reply's path: a batch starts `delayMs` after its
 * first message (the 250 is written by then), one trainMany (one durable write per model, keyed by
 * content hash) per recipient account. A failed write is reported to `onError`; the mail is delivered.
 * Queued offers include those of batches still being written, up to `maxQueued`.
 */
export function createAutoLearner(
  store: Store,
  options: ClassifierOptions,
  onError: (err: unknown) => void,
  delayMs = 200,
  maxQueued = MAX_QUEUED,
): AutoLearner {
  let queued: { raw: Buffer; cls: SpamClass; accountId?: string }[] = [];
  let pending = 0; // offered and not yet written (queued or in a batch being written)
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  const count = (items: typeof queued, outcome: AutoLearnOutcome) => {
    for (const cls of ['spam', 'ham'] as const) {
      const n = items.filter((item) => item.cls === cls).length;
      if (n) metrics.autoLearn(cls, outcome, n);
    }
  };
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = queued;
    queued = [];
    writing = writing.then(async () => {
      const byAccount = Map.groupBy(batch, (item) => item.accountId);
      for (const [accountId, items] of byAccount)
        await trainMany(
          store,
          items.map((item) => ({ input: item.raw, class: item.cls })),
          { ...options, accountId },
        ).then(
          () => count(items, 'learned'),
          (err) => {
            count(items, 'failed');
            onError(err);
          },
        );
      pending -= batch.length;
    });
    return writing;
  };
  return {
    offer(raw, cls, accountId) {
      if (pending >= maxQueued) {
        metrics.autoLearn(cls, 'dropped');
        return;
      }
      pending++;
      queued.push({ raw, cls, accountId });
      if (!timer) {
        timer = setTimeout(() => void flush(), delayMs);
        timer.unref();
      }
    },
    flush,
  };
}
