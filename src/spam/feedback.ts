// What users say of their mail teaches the classifier: a move into or out of Junk, a junk keyword set
// (IMAP STORE, the mailbox API). Protocols report the change; these turn it into a verdict and train.
import { metrics } from '../metrics/registry.ts';
import type { Folder, Store } from '../store/index.ts';
import { train, type ClassifierOptions } from './classifier.ts';
import { JUNK_KEYWORD, PHISHING_KEYWORD } from './keywords.ts';
import type { RspamdClient } from './rspamd.ts';

export interface FeedbackOptions extends ClassifierOptions {
  /** Also teach this rspamd (its controller's /learnspam, /learnham); a failure there is counted, not thrown. */
  rspamd?: RspamdClient;
}

/** Messages of one folder a user judged spam or ham. */
export interface Judgement {
  accountId: string;
  folder: Folder;
  uids: number[];
  verdict: 'spam' | 'ham';
}

const isJunk = (f: Folder) => f.specialUse === '\\Junk';

/** What a user's move or copy says about messages: into Junk is spam, out of Junk (not to Trash) is ham. */
export function verdictOfMove(source: Folder, target: Folder): 'spam' | 'ham' | null {
  if (isJunk(target) && !isJunk(source)) return 'spam';
  if (isJunk(source) && !isJunk(target) && target.specialUse !== '\\Trash') return 'ham';
  return null;
}

/** The judgement in a move or copy of `source`'s messages, now `targetUids` in `target`. */
export function judgementOfMove(
  accountId: string,
  source: Folder,
  target: Folder,
  targetUids: number[],
): Judgement | null {
  const verdict = verdictOfMove(source, target);
  return verdict && targetUids.length ? { accountId, folder: target, uids: targetUids, verdict } : null;
}

// The keywords mail programs set when a message is marked: RFC 5788's $Junk and $NotJunk (Apple Mail,
// Thunderbird), and Thunderbird's older Junk and NonJunk. Flags compare case-insensitively (RFC 3501 §2.3.2).
// A user who marks mail as phishing ($Phishing, RFC 9051 §2.3.2) says it is spam too.
const SPAM_KEYWORDS = new Set([JUNK_KEYWORD.toLowerCase(), PHISHING_KEYWORD.toLowerCase(), 'junk']);
const HAM_KEYWORDS = new Set(['$notjunk', 'notjunk', 'nonjunk']);

/**
 * The judgements in keywords messages gained (`gained`: UID → the flags a message did not have before;
 * a keyword removed says nothing, nor one set again). A junk keyword is spam wherever the message is. A
 * not-junk keyword is ham only in Junk, where it overrules the filter: elsewhere it is what Thunderbird's
 * own filter sets on every message it passes (NonJunk), spam it missed included, and learning those as ham
 * would teach the classifier what a spammer sent. At most two judgements: the messages marked spam, those
 * marked ham.
 */
export function judgementsOfKeywords(accountId: string, folder: Folder, gained: Map<number, string[]>): Judgement[] {
  const marked = { spam: [] as number[], ham: [] as number[] };
  const inJunk = isJunk(folder);
  for (const [uid, flags] of gained) {
    const lower = flags.map((k) => k.toLowerCase());
    const spam = lower.some((k) => SPAM_KEYWORDS.has(k));
    const ham = inJunk && lower.some((k) => HAM_KEYWORDS.has(k));
    // A client that sets both says neither.
    if (spam !== ham) marked[spam ? 'spam' : 'ham'].push(uid);
  }
  return (['spam', 'ham'] as const)
    .filter((verdict) => marked[verdict].length)
    .map((verdict) => ({ accountId, folder, uids: marked[verdict], verdict }));
}

/**
 * Trains the classifier (and rspamd) with the judged messages. The classifier keys training by content
 * hash, so the same message judged twice (moved into Junk and flagged $Junk, as Apple Mail does) counts
 * once; rspamd answers "already learned".
 */
export async function learnJudgement(
  store: Store,
  judgement: Judgement,
  options: FeedbackOptions = {},
): Promise<number> {
  const { accountId, folder, uids, verdict } = judgement;
  let trained = 0;
  for (const uid of uids) {
    // The record and its bytes from one view: a message expunged right after the change is read whole
    // or skipped, never a "missing chunks" error. One view per message: training may be slow.
    const raw = await store.withView(async (view) => {
      const [message] = await view.getMany(folder.id, [uid]);
      return message ? view.read(message) : null;
    });
    if (!raw) continue;
    try {
      await train(store, raw, verdict, { ...options, accountId });
    } catch (err) {
      metrics.userJudgement(verdict, 'failed');
      throw err;
    }
    metrics.userJudgement(verdict, 'learned');
    await options.rspamd?.learn(raw, verdict);
    trained += 1;
  }
  return trained;
}
