// A labelled spam/ham folder (spam/ and ham/ below it) split into training and test sets by a hash
// of each file's path: fixed, so runs and the SpamAssassin comparison all see the same split. The
// shared corpus (../shared/corpus, see its README.md) for bench/spam.ts; the in-repo fixtures
// (test/fixtures/spamassassin) for test/e2e/spam-classifier.test.ts.
import { createHash } from 'node:crypto';
import { relative } from 'node:path';
import { UNAUTHENTICATED } from '../src/dns/auth-verdict.ts';
import { parseHeaders } from '../src/mime/parsed-headers.ts';
import { messageIndex } from '../src/spam/normalize.ts';
import { headerRules } from '../src/spam/rules.ts';
import { headLength, tokenize } from '../src/spam/tokenize.ts';
import type { SpamClass } from '../src/store/spam.ts';
import { readMessages } from '../src/spam/train.ts';
import { SHARED_CORPUS } from './lib/corpus.ts';

export const CORPUS_DIR = process.env.WRENMAIL_SPAM_CORPUS ?? SHARED_CORPUS;

export interface Sample {
  /** Path relative to the corpus directory. */
  source: string;
  raw: Buffer;
  class: SpamClass;
  test: boolean;
}

/** Share of the corpus in [0, 1) a path falls at: the split key. */
export function splitPoint(source: string): number {
  return createHash('sha256').update(source).digest().readUInt32BE(0) / 2 ** 32;
}

/** Every message of `dir`, `testShare` of them (by path hash) marked as test, the rest as training. */
export async function loadCorpus(testShare: number, dir = CORPUS_DIR): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const cls of ['spam', 'ham'] as SpamClass[]) {
    for await (const { source, raw } of readMessages(`${dir}/${cls}`)) {
      const rel = relative(dir, source);
      if (rel.endsWith('.md')) continue;
      out.push({ source: rel, raw, class: cls, test: splitPoint(rel) < testShare });
    }
  }
  return out;
}

/** At most `limit` of `tests`, spread evenly over them (the latency benches' test messages). */
export function spreadOver<T>(tests: T[], limit: number): T[] {
  const step = Math.max(1, tests.length / Math.min(limit, tests.length));
  return Array.from({ length: Math.floor(tests.length / step) }, (_, i) => tests[Math.floor(i * step)]!);
}

export interface Confusion {
  spam: number; // test spam
  ham: number; // test ham
  caught: number; // spam called spam
  falsePositives: number; // ham called spam
  unsureSpam: number; // abstentions / unsure band, by class
  unsureHam: number;
}

export function rates(c: Confusion): {
  accuracy: number;
  falsePositiveRate: number;
  falseNegativeRate: number;
  catchRate: number;
} {
  return {
    accuracy: (c.caught + c.ham - c.falsePositives) / (c.spam + c.ham),
    falsePositiveRate: c.falsePositives / c.ham,
    falseNegativeRate: (c.spam - c.caught) / c.spam,
    catchRate: c.caught / c.spam,
  };
}

export const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The message without X-Spam-* header fields (other filters' verdicts), body untouched. */
export function withoutSpamHeaders(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const blank = /^\r?\n|\n\r?\n/.exec(text);
  const end = blank ? blank.index + (blank[0][0] === '\n' ? 1 : 0) : text.length;
  const header = text.slice(0, end).replace(/^X-Spam-[^:\n]*:[^\n]*(?:\n[ \t][^\n]*)*\n?/gim, '');
  return header.length === end ? raw : Buffer.from(header + text.slice(end), 'latin1');
}

/**
 * The samples in an order whose every prefix is a stratified sample: each class and source ("spam/trec07p")
 * in proportion, and within one in path-hash order (fixed, unrelated to date or file name). A filter
 * too slow for the whole set checks a prefix of it, as far as its time box goes.
 */
export function stratifiedOrder<T extends Sample>(samples: T[]): T[] {
  const groups = new Map<string, T[]>();
  for (const s of samples) {
    const key = s.source.split('/').slice(0, 2).join('/');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(s);
  }
  const strata = [...groups.values()].map((of) => ({
    of: of.sort((a, b) => splitPoint(a.source) - splitPoint(b.source)),
    taken: 0,
  }));
  const out: T[] = [];
  while (out.length < samples.length) {
    // The stratum furthest behind its share takes the next place.
    let next = strata[0]!;
    for (const g of strata)
      if (
        g.taken < g.of.length &&
        (next.taken >= next.of.length || (g.taken + 0.5) / g.of.length < (next.taken + 0.5) / next.of.length)
      )
        next = g;
    out.push(next.of[next.taken++]!);
  }
  return out;
}

/** A sample's source: the corpus folder under spam/ or ham/ ("trec07p", "enron-spam"). */
export const sourceOf = (s: Sample): string => s.source.split('/')[1]!;

/** Sources whose files are not RFC 5322 messages (Enron-Spam: subject and lower-cased body only). */
export const BODY_ONLY_SOURCES = new Set(['enron-spam']);

export interface LosoSplit<T extends Sample = Sample> {
  name: string;
  /** Tested on real RFC 5322 mail (the targets apply); false for the body-only Enron files. */
  real: boolean;
  train: T[];
  test: T[];
}

/**
 * Leave-one-source-out: for each real source with both spam and ham (at least 20 of each), trained on
 * the other real sources and tested on it; then the body-only files, trained on every real source.
 */
export function losoSplits<T extends Sample>(samples: T[]): LosoSplit<T>[] {
  const real = samples.filter((s) => !BODY_ONLY_SOURCES.has(sourceOf(s)));
  const sources = [...new Set(real.map(sourceOf))].sort();
  const splits: LosoSplit<T>[] = [];
  for (const source of sources) {
    const test = real.filter((s) => sourceOf(s) === source);
    if (test.filter((s) => s.class === 'spam').length < 20 || test.filter((s) => s.class === 'ham').length < 20)
      continue;
    splits.push({ name: `${source} (left out)`, real: true, train: real.filter((s) => sourceOf(s) !== source), test });
  }
  for (const source of BODY_ONLY_SOURCES) {
    const test = samples.filter((s) => sourceOf(s) === source);
    if (test.length) splits.push({ name: `${source} (body-only)`, real: false, train: real, test });
  }
  return splits;
}

/**
 * At most `cap` spam and `cap` ham of `train`, a path-hash pick (fixed, unrelated to date or file name): the
 * private held-out run trains 1,200 + 1,200 messages of the shared corpus, so a model this size is the one
 * that meets mail of sources it never saw. An infinite cap keeps everything.
 */
export function cappedTraining<T extends Sample>(train: T[], cap: number): T[] {
  if (!Number.isFinite(cap)) return train;
  const pick = (cls: SpamClass) =>
    train
      .filter((s) => s.class === cls)
      .sort((a, b) => splitPoint(`cap:${a.source}`) - splitPoint(`cap:${b.source}`))
      .slice(0, cap);
  return [...pick('spam'), ...pick('ham')];
}

/** A sample tokenized and rule-scored once, for the in-memory replays (spam-sweep.ts, spam-fit.ts). */
export interface Prepared extends Sample {
  tokens: string[];
  /** The first `head` tokens are the message's head (tokenize.ts headLength). */
  head: number;
  hits: { rule: string; score: number }[];
}

/** What the rules see of a message received with authentication "none", from no hosted sender. */
export const unauthenticatedInput = (raw: Buffer) => ({
  raw,
  headers: parseHeaders(raw),
  auth: UNAUTHENTICATED,
  mailFrom: '',
  fromHosted: false,
  accountIds: [],
});

/** The whole corpus, X-Spam-* removed, each message tokenized and scored by the rules (authentication "none"). */
export async function prepareCorpus(): Promise<Prepared[]> {
  return (await loadCorpus(0)).map((s) => {
    const raw = withoutSpamHeaders(s.raw);
    const input = unauthenticatedInput(raw);
    const hits = (headerRules.score(input) as { rule: string; score: number }[]).map(({ rule, score }) => ({
      rule,
      score,
    }));
    return { ...s, raw, tokens: tokenize(raw), head: headLength(raw), hits };
  });
}

/**
 * Scores against labels: caught and ham junked at `junkAt`, spam caught at the score that junks no more
 * than 0.5% of ham, and the ROC AUC (ties count half).
 */
export function summary(xs: { spam: boolean; score: number }[], junkAt: number) {
  const spam = xs.filter((x) => x.spam).map((x) => x.score);
  const ham = xs
    .filter((x) => !x.spam)
    .map((x) => x.score)
    .sort((a, b) => b - a);
  const threshold = ham[Math.floor(ham.length * 0.005)]!;
  let ordered = 0;
  for (const s of spam) for (const h of ham) ordered += s > h ? 1 : s === h ? 0.5 : 0;
  return {
    caught: spam.filter((x) => x >= junkAt).length / spam.length,
    fp: ham.filter((x) => x >= junkAt).length / ham.length,
    atTarget: spam.filter((x) => x > threshold).length / spam.length,
    auc: ordered / (spam.length * ham.length),
  };
}

/**
 * Short mail, as the contest set's commercial spam is (issue 18): under SHORT_WORDS words of visible body text
 * (the decoded text parts, HTML as its text, as the search index reads it; a word is a run of non-space holding a
 * letter or digit). Bayes has few clues in it and a one-line reply is as short.
 */
export const SHORT_WORDS = 60;
export function visibleWords(raw: Buffer): number {
  let n = 0;
  // Runs of non-space, then a letter or digit in each: linear, where one pattern for both backtracks on long runs.
  for (const m of messageIndex(raw).search.text.matchAll(/\S+/g))
    if (/[\p{L}\p{N}]/u.test(m[0]) && ++n === SHORT_WORDS) break;
  return n;
}
export const isShort = (raw: Buffer): boolean => visibleWords(raw) < SHORT_WORDS;
