// The shared spam/ham corpus (../shared/corpus, see its README.md) split into training and test
// sets by a hash of each file's path: fixed, so runs, the e2e test and the SpamAssassin comparison
// all see the same split. Used by test/e2e/spam-corpus.test.ts and bench/spam.ts.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import type { SpamClass } from '../src/store/spam.ts';
import { readMessages } from '../src/spam/train.ts';

export const CORPUS_DIR = process.env.WRENMAIL_SPAM_CORPUS ?? new URL('../../shared/corpus', import.meta.url).pathname;

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

export const corpusAvailable = (): boolean => existsSync(`${CORPUS_DIR}/spam`) && existsSync(`${CORPUS_DIR}/ham`);

/** Every corpus message, `testShare` of them (by path hash) marked as test, the rest as training. */
export async function loadCorpus(testShare: number): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const cls of ['spam', 'ham'] as SpamClass[]) {
    for await (const { source, raw } of readMessages(`${CORPUS_DIR}/${cls}`)) {
      const rel = relative(CORPUS_DIR, source);
      if (rel.endsWith('.md')) continue;
      out.push({ source: rel, raw, class: cls, test: splitPoint(rel) < testShare });
    }
  }
  return out;
}

export interface Confusion {
  spam: number; // test spam
  ham: number; // test ham
  caught: number; // spam called spam
  falsePositives: number; // ham called spam
  unsureSpam: number; // abstentions / unsure band, by class
  unsureHam: number;
}

export function rates(c: Confusion): { accuracy: number; falsePositiveRate: number; falseNegativeRate: number; catchRate: number } {
  return {
    accuracy: (c.caught + c.ham - c.falsePositives) / (c.spam + c.ham),
    falsePositiveRate: c.falsePositives / c.ham,
    falseNegativeRate: (c.spam - c.caught) / c.spam,
    catchRate: c.caught / c.spam,
  };
}

export const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
