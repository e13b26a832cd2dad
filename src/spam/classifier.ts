// Package spam implements the scorers of the inbound classify stage (SpamScorer in types.ts: header
// rules, Bayes, DNSBL/URIBL, rspamd) and training (docs/ARCHITECTURE.md §11.2). Invariant: token counts
// are loaded once per scope and owned in memory (store.spam), so classifying reads no LevelDB per token.
// May import the other pipelines' types, foundation and base.
//
// The Bayesian classifier as the rest of the server uses it: train / untrain / classify a message,
// and a SpamScorer for the inbound classify stage. Counts live in the store (store.spam), one
// server-wide model and, with `perAccount`, one per account.
//
// Training records: the server model keys them by the message's sha256 alone, so mail that 500 users
// report counts once and the last verdict wins; an account model keys them by account and sha256.
// Either way a message trained twice as the same class counts once, and trained as the other class
// moves its counts.
import { blobHash } from '../store/blobs.ts';
import type { Store } from '../store/index.ts';
import { SERVER_SCOPE, accountScope, type SpamClass, type SpamTotals, type TrainingResult } from '../store/spam.ts';
import {
  DEFAULT_BAYES,
  FORMAT_TOKEN,
  bandRule,
  chiCombine,
  scoreFor,
  selectClues,
  tokenProbability,
  type BayesOptions,
  type Clue,
} from './bayes.ts';
import { headLength, tokenize, type MailInput } from './tokenize.ts';
import type { SpamHit, SpamInput, SpamScorer } from './types.ts';

export type { MailInput } from './tokenize.ts';
export type { SpamClass, TrainingResult } from '../store/spam.ts';

export interface ClassifierOptions extends Partial<BayesOptions> {
  /** Keep a model per account besides the server's, and classify with it once it has enough data. */
  perAccount?: boolean;
}

export interface MessageOptions extends ClassifierOptions {
  /** The account that trains or receives the message. */
  accountId?: string;
}

export interface BayesVerdict {
  /** The indicator I in [0, 1]; null when the classifier abstains. */
  probability: number | null;
  /** Points this adds to the rule score: 0 when abstaining. */
  score: number;
  /** Points it adds when nothing else adds any (`aloneCurve`): 0 when abstaining. */
  scoreAlone: number;
  /** Content rules whose own tokens carry a verdict the words do not: their points do not corroborate it. */
  echoedRules: string[];
  /** BAYES_00 … BAYES_999, or null when abstaining. */
  rule: string | null;
  /** Why it abstained. */
  reason: string | null;
  /** The strongest clues, strongest first. */
  clues: Clue[];
  model: 'server' | 'account';
  trained: SpamTotals;
}

const TOP_CLUES = 12;

const settings = (options: ClassifierOptions): BayesOptions => {
  const o = { ...DEFAULT_BAYES };
  for (const key of Object.keys(o) as (keyof BayesOptions)[])
    if (options[key] !== undefined) (o as Record<string, unknown>)[key] = options[key];
  return o;
};

const rawOf = (input: MailInput): Buffer => (Buffer.isBuffer(input) ? input : input.raw);

function scopes(options: MessageOptions): string[] {
  return options.perAccount && options.accountId ? [SERVER_SCOPE, accountScope(options.accountId)] : [SERVER_SCOPE];
}

/** Trains (or untrains, class null) a batch of messages: one durable write per model. */
export async function trainMany(
  store: Store,
  items: { input: MailInput; class: SpamClass | null }[],
  options: MessageOptions = {},
): Promise<TrainingResult> {
  const changes = items.map((item) => ({
    sha: blobHash(rawOf(item.input)),
    class: item.class,
    tokens: item.class === null ? [] : tokenize(item.input),
  }));
  const maxTokens = settings(options).maxTokens;
  const results = await Promise.all(scopes(options).map((scope) => store.spam.apply(scope, changes, maxTokens)));
  return results[0]!; // the server model's; an account model takes the same changes
}

/** Trains one message as spam or ham; again as the same class changes nothing. */
export function train(
  store: Store,
  input: MailInput,
  cls: SpamClass,
  options: MessageOptions = {},
): Promise<TrainingResult> {
  return trainMany(store, [{ input, class: cls }], options);
}

/** Forgets what one message taught, if it was trained. */
export function untrain(store: Store, input: MailInput, options: MessageOptions = {}): Promise<TrainingResult> {
  return trainMany(store, [{ input, class: null }], options);
}

/** Spam probability of a message, its score points and the clues, or an abstention. */
export async function classify(store: Store, input: MailInput, options: MessageOptions = {}): Promise<BayesVerdict> {
  const o = settings(options);
  const enough = (t: SpamTotals) => t.spam >= o.minSpam && t.ham >= o.minHam;
  let model = await store.spam.model(SERVER_SCOPE);
  let which: BayesVerdict['model'] = 'server';
  if (options.perAccount && options.accountId) {
    const own = await store.spam.model(accountScope(options.accountId));
    if (enough(own.totals)) {
      model = own;
      which = 'account';
    }
  }
  const trained = { ...model.totals };
  if (!enough(trained)) {
    const reason = `not enough training: ${trained.spam} spam and ${trained.ham} ham of ${o.minSpam} and ${o.minHam}`;
    return {
      probability: null,
      score: 0,
      scoreAlone: 0,
      echoedRules: [],
      rule: null,
      reason,
      clues: [],
      model: which,
      trained,
    };
  }
  const f = (spam: number, ham: number) => tokenProbability(spam, ham, trained.spam, trained.ham, o);
  const read = (t: string) => model.read(t, f);
  const { probability, score, scoreAlone, echoedRules, clues } = bayesVerdict(
    tokenize(input),
    read,
    o,
    headLength(input),
  );
  return {
    probability,
    score,
    scoreAlone,
    echoedRules,
    rule: bandRule(probability),
    reason: null,
    clues: clues.slice(0, TOP_CLUES),
    model: which,
    trained,
  };
}

const NONE: string[] = [];
const RULE_TOKEN = 'rule:';

/**
 * The clues' chi-square verdict. Only a spam verdict is pulled toward unsure on fewer than
 * `fullStrengthClues`: a few clues saying ham cost a spam at most, and auto-learning's ham guard
 * (Bayes ≤ 0.2) reads them as before.
 */
function combined(clues: Clue[], o: BayesOptions): number {
  const indicator = chiCombine(clues.map((c) => c.probability)).indicator;
  return indicator > 0.5 ? 0.5 + (indicator - 0.5) * Math.min(1, clues.length / o.fullStrengthClues) : indicator;
}

/**
 * The Bayes probability and score points of a message's tokens, given each token's f(w) under a model trained
 * enough. `head`: the first tokens that make the message's head (tokenize.ts headLength); a ham verdict costs
 * points only when they too read as ham (their own verdict below the curve's zero), so prose or dictionary
 * words padded after a spam's pitch cannot buy it ham points (issue 18: trec07p's 2007 spam, a stock tip or
 * a price list and then paragraphs of novels or manuals, Bayes p 0.00–0.2 and −3 points).
 */
export function bayesVerdict(
  tokens: string[],
  probabilityOf: (token: string, at: number) => number,
  o: BayesOptions,
  head = tokens.length,
): { probability: number; score: number; scoreAlone: number; clues: Clue[]; echoedRules: string[] } {
  // The head's tokens' f(w) as the pass reads them: the head's verdict below reads them again, and a model
  // lookup is a cache miss (0.12–0.17 µs a token with a cold cache; the head is the header tokens and ten words').
  const ofHeadTokens = new Float64Array(Math.min(head, tokens.length));
  const clues = selectClues(
    tokens,
    (token, at) => {
      const p = probabilityOf(token, at);
      if (at < ofHeadTokens.length) ofHeadTokens[at] = p;
      return p;
    },
    o,
  );
  const probability = combined(clues, o);
  const points = (curve: [number, number][]) => Math.round(scoreFor(probability, curve) * 10) / 10;
  const verdict = {
    probability,
    score: points(o.scoreCurve),
    scoreAlone: points(o.aloneCurve),
    clues,
    echoedRules: NONE,
  };
  const words = probability > 0.5 ? clues.filter((c) => !FORMAT_TOKEN.test(c.token)) : null;
  const wordsSay = words && combined(words, o);
  if (wordsSay !== null && wordsSay < o.wordsSure) {
    // Carried by the message's format (BayesOptions.wordsSure): it junks only beside a rule's point; and when
    // the words read as ham (their own verdict would cost points), a content rule whose token is among its
    // spam clues is that fact again, not a second one.
    verdict.scoreAlone = 0;
    if (scoreFor(wordsSay, o.scoreCurve) < 0)
      verdict.echoedRules = clues.flatMap((c) =>
        c.probability > 0.5 && c.token.startsWith(RULE_TOKEN) ? [c.token.slice(RULE_TOKEN.length)] : [],
      );
  }
  if (verdict.score >= 0 || head >= tokens.length) return verdict;
  const ofHead = bayesVerdict(tokens.slice(0, head), (_, at) => ofHeadTokens[at]!, o);
  return ofHead.score < 0 ? verdict : { ...verdict, score: 0, scoreAlone: Math.max(verdict.scoreAlone, 0) };
}

/** The Bayes scorer, and the verdict behind its hit (the API reports the probability beside the score). */
export interface BayesScorer extends SpamScorer {
  /** This input's verdict: computed once per input, whether the scorer or its caller asks first. */
  verdict(input: SpamInput): Promise<BayesVerdict>;
}

export const isBayesScorer = (scorer: SpamScorer): scorer is BayesScorer => 'verdict' in scorer;

/** The classifier as a scorer of the inbound classify stage; no hit while it abstains. */
export function bayesScorer(store: Store, options: ClassifierOptions = {}): BayesScorer {
  const verdicts = new WeakMap<SpamInput, Promise<BayesVerdict>>();
  const verdict = (input: SpamInput): Promise<BayesVerdict> => {
    let v = verdicts.get(input);
    if (!v) {
      // One recipient account: its own model may apply; several: the server's.
      const accountId = input.accountIds.length === 1 ? input.accountIds[0] : undefined;
      v = classify(store, input.raw, { ...options, accountId });
      verdicts.set(input, v);
    }
    return v;
  };
  return {
    name: 'bayes',
    verdict,
    async score(input): Promise<SpamHit[]> {
      const v = await verdict(input);
      if (v.probability === null || v.rule === null) return [];
      return [
        {
          rule: v.rule,
          score: v.score,
          scoreAlone: v.scoreAlone,
          notCorroboratedBy: v.echoedRules,
          description: `Bayesian spam probability ${(v.probability * 100).toFixed(1)}%`,
        },
      ];
    },
  };
}
