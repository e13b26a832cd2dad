// The statistics, as SpamBayes does them (Gary Robinson's "A statistical approach to the spam
// problem", Linux Journal 2003): a smoothed spam probability f(w) per token, the strongest clues
// combined with Fisher's chi-square method into S (spamminess) and H (hamminess), and the indicator
// I = (1 + S - H) / 2: near 1 spam, near 0 ham, around 0.5 when the evidence is weak or conflicting.
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export interface BayesOptions {
  /** Robinson's s: how much an unknown token's prior weighs against its counts (SpamBayes 0.45). */
  unknownWordStrength: number;
  /** Robinson's x: the probability of a token never seen (0.5). */
  unknownWordProb: number;
  /** Tokens whose |f(w) - 0.5| is below this are not clues (0.1). */
  minimumProbStrength: number;
  /**
   * At most this many clues, the strongest (30; SpamBayes 150). Across sources, 150 lets a crowd of
   * tokens seen a few times in one corpus outvote the strong ones: leave-one-source-out AUC of the
   * Bayes probability 0.912 → 0.944 (SA public left out) and 0.936 → 0.944 (trec07p left out).
   */
  maxDiscriminators: number;
  /** Abstain until this many spam and this many ham messages were trained (200 each). */
  minSpam: number;
  minHam: number;
  /**
   * Probability → score points, piecewise linear through these [probability, points] knots,
   * added to the rule score. Default: 0 → -3, 0.2 to 0.4 → 0 (unsure is no evidence), 0.7 → +5
   * (the default Junk threshold on its own), 0.95 → +5.5, 1 → +7. On the shared corpus split 0.7 is
   * where ham stays well under 1% wrongly junked (0.5%) while over 90% of spam is caught; SpamBayes'
   * 0.9 cutoff would let a fifth of the hash-buster spam through. The rise from 0.95 to 1 ranks what
   * Bayes is sure of above what a few rules say (trec07p left out: caught at ≤0.5% ham 44.5% → 61.0%;
   * the verdict at the default threshold is the same).
   */
  scoreCurve: [number, number][];
  /**
   * The same for a verdict no other hit corroborates (the rules and other scorers add no points): Bayes
   * alone junks only from 0.9, not 0.7. Trained on other mail than the test mail, its 0.7–0.9 with no rule
   * point is shops' and newsletters' ham as often as spam (junked no more: trec07p left out 3 ham and no
   * spam, the mixed third 2 ham and no spam, SA public left out 2 spam), while a rule beside it still
   * makes 0.7 enough.
   */
  aloneCurve: [number, number][];
  /**
   * A spam verdict on fewer clues than this is pulled toward unsure (0.5) in proportion: chi-square combining
   * takes three clues at their word, and with one token of 65 spam and no ham (`body:empty`) and two
   * weak ones it says 0.98. Encrypted mail (no text to read), short notices and attachments alone have
   * that few: of the shared MIME corpus' 778 messages, a model trained as the held-out run trains it
   * junked 555, 423 with 20 (bench/spam-modern-ham.ts); SA public and trec07p left out lose a spam each.
   */
  fullStrengthClues: number;
  /**
   * A spam verdict whose words alone (its clues outside FORMAT_TOKEN's families, combined the same way)
   * stay under this is carried by the message's format: it junks only beside a rule's point. When the
   * words even read as ham (under scoreCurve's zero, 0.2), a content rule whose own `rule:` token is among
   * its spam clues does not count as that point: it is the same fact twice. The shared corpus' ham is of
   * 2002 and 2007, mostly plain text, so a model trained on it reads today's HTML, base64 and inline
   * pictures as spam (`encoding:base64` [155 spam / 6 ham], `html:cid` [103/1], `rule:HTML_IMAGE_ONLY`
   * [100/0]): a phone's photo with a line of text, a notification with a logo. 0.7, where a verdict junks
   * beside a rule (scoreCurve). Trained as the held-out run trains: trec07p left out junks 4.95% of its
   * ham, not 6.00%, and the real modern mail of the MIME corpus 9 of 63, not 11 (bench/RESULTS.md,
   * branch `spamera`).
   */
  wordsSure: number;
  /** The model's memory cap: past this many tokens the rarest are pruned (75–95 bytes a token in memory). */
  maxTokens: number;
}

export const DEFAULT_BAYES: BayesOptions = {
  unknownWordStrength: 0.45,
  unknownWordProb: 0.5,
  minimumProbStrength: 0.1,
  maxDiscriminators: 30,
  minSpam: CONFIG_DEFAULTS.spam.bayes_min_spam,
  minHam: CONFIG_DEFAULTS.spam.bayes_min_ham,
  scoreCurve: [
    [0, -3],
    [0.2, 0],
    [0.4, 0],
    [0.7, 5],
    [0.95, 5.5],
    [1, 7],
  ],
  aloneCurve: [
    [0, -3],
    [0.2, 0],
    [0.4, 0],
    [0.9, 5],
    [0.95, 5.5],
    [1, 7],
  ],
  fullStrengthClues: 20,
  wordsSure: 0.7,
  maxTokens: CONFIG_DEFAULTS.spam.bayes_max_tokens,
};

/**
 * Token families that read how a message is built, not what it says: MIME structure and types, transfer
 * encodings, attachments, HTML markup and the content rules' own tokens (tokenize.ts).
 */
export const FORMAT_TOKEN = /^(?:mime|encoding|attachment|html|content-type|rule):/;

export interface Clue {
  token: string;
  /** f(w): the token's smoothed spam probability. */
  probability: number;
}

/** Robinson's f(w) from the token's counts and the trained message totals. */
export function tokenProbability(spam: number, ham: number, nspam: number, nham: number, o: BayesOptions): number {
  const n = spam + ham;
  if (n === 0) return o.unknownWordProb;
  const spamRatio = spam / Math.max(nspam, 1);
  const hamRatio = ham / Math.max(nham, 1);
  const p = spamRatio / (spamRatio + hamRatio);
  const s = o.unknownWordStrength;
  return (s * o.unknownWordProb + n * p) / (s + n);
}

/** P(chi² ≥ x2) with v (even) degrees of freedom: the series for the incomplete gamma function. */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

/** Fisher-Robinson chi-square combining of clue probabilities into the indicator I. */
export function chiCombine(probabilities: number[]): { indicator: number; spamminess: number; hamminess: number } {
  const n = probabilities.length;
  if (n === 0) return { indicator: 0.5, spamminess: 0, hamminess: 0 };
  // Sums of logs rather than logs of products: 150 small factors underflow a double.
  let lnSpam = 0;
  let lnHam = 0;
  for (const p of probabilities) {
    lnSpam += Math.log(1 - p);
    lnHam += Math.log(p);
  }
  const S = 1 - chi2Q(-2 * lnSpam, 2 * n);
  const H = 1 - chi2Q(-2 * lnHam, 2 * n);
  return { indicator: (1 + S - H) / 2, spamminess: S, hamminess: H };
}

/**
 * The strongest clues among `tokens`, by distance of f(w) from 0.5 (`probability`: f(w) of a token),
 * strongest first; ties broken by token so the same message always gets the same clues. The best
 * `maxDiscriminators` are kept as the tokens go by rather than all sorted: a message has hundreds to
 * 3,000 tokens and most are no clue or weaker than the 30th, so most cost one comparison (the same
 * clues as sorting all, in the same order). `probabilityOf` is given the token's place in `tokens` too.
 */
export function selectClues(
  tokens: readonly string[],
  probabilityOf: (token: string, at: number) => number,
  o: BayesOptions,
): Clue[] {
  const max = o.maxDiscriminators;
  // The kept clues as parallel arrays of tokens and plain numbers, moved up in place: a clue object (its f(w)
  // boxed) and splice's result array for every token that enters the top were most of the Bayes stage's
  // allocation (issue 18: a scavenge lands on one of the slowest messages every few hundred).
  const token: string[] = [];
  const probability: number[] = [];
  const strength: number[] = []; // |f(w) - 0.5|
  // a ranks before b: stronger, or as strong and the smaller token.
  const before = (sa: number, ta: string, sb: number, tb: string) => sa > sb || (sa === sb && ta < tb);
  for (let at = 0; at < tokens.length; at++) {
    const t = tokens[at]!;
    const p = probabilityOf(t, at);
    const s = Math.abs(p - 0.5);
    if (s < o.minimumProbStrength) continue;
    const n = token.length;
    if (n >= max && (n === 0 || !before(s, t, strength[n - 1]!, token[n - 1]!))) continue;
    // Its place: after every clue that ranks before it or equal (equal: a repeated token, kept as a sort would).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(s, t, strength[mid]!, token[mid]!)) hi = mid;
      else lo = mid + 1;
    }
    // The weakest falls off the end when the top is full.
    let i = n < max ? n : n - 1;
    for (; i > lo; i--) {
      token[i] = token[i - 1]!;
      probability[i] = probability[i - 1]!;
      strength[i] = strength[i - 1]!;
    }
    token[lo] = t;
    probability[lo] = p;
    strength[lo] = s;
  }
  return token.map((t, i) => ({ token: t, probability: probability[i]! }));
}

/** Score points for a spam probability, on the piecewise-linear curve. */
export function scoreFor(probability: number, curve: [number, number][]): number {
  const first = curve[0]!;
  if (probability <= first[0]) return first[1];
  for (let i = 1; i < curve.length; i++) {
    const [x1, y1] = curve[i]!;
    const [x0, y0] = curve[i - 1]!;
    if (probability <= x1) return x1 === x0 ? y1 : y0 + ((y1 - y0) * (probability - x0)) / (x1 - x0);
  }
  return curve[curve.length - 1]![1];
}

/** SpamAssassin-style rule name for a probability band, so X-Spam-Status reads the same way. */
export function bandRule(probability: number): string {
  const bands: [number, string][] = [
    [0.01, '00'],
    [0.05, '05'],
    [0.2, '20'],
    [0.4, '40'],
    [0.6, '50'],
    [0.8, '60'],
    [0.95, '80'],
    [0.99, '95'],
    [0.999, '99'],
  ];
  for (const [upTo, name] of bands) if (probability < upTo) return `BAYES_${name}`;
  return 'BAYES_999';
}
