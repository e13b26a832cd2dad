import type { Folder, Store } from '../store/index.ts';
import { train, type ClassifierOptions } from './classifier.ts';
import type { RspamdClient } from './rspamd.ts';

export interface FeedbackOptions extends ClassifierOptions {
  /** Also teach this rspamd (its controller's /learnspam, /learnham); a failure there is counted, not thrown. */
  rspamd?: RspamdClient;
}

/** What a user's move or copy says about messages: into Junk is spam, out of Junk (not to Trash) is ham. */
export function verdictOfMove(source: Folder, target: Folder): 'spam' | 'ham' | null {
  const junk = (f: Folder) => f.specialUse === '\\Junk';
  if (junk(target) && !junk(source)) return 'spam';
  if (junk(source) && !junk(target) && target.specialUse !== '\\Trash') return 'ham';
  return null;
}

/**
 * Trains the classifier from messages a user moved or copied (IMAP COPY/MOVE, the mailbox API).
 * The classifier keys training by content hash, so moving the same message twice counts once (rspamd
 * too: it answers "already learned").
 */
export async function learnFromMove(
  store: Store,
  accountId: string,
  source: Folder,
  target: Folder,
  targetUids: number[],
  options: FeedbackOptions = {},
): Promise<number> {
  const verdict = verdictOfMove(source, target);
  if (!verdict || targetUids.length === 0) return 0;
  let trained = 0;
  for (const uid of targetUids) {
    // The record and its bytes from one view: a message expunged right after the move is read whole
    // or skipped, never a "missing chunks" error. One view per message: training may be slow.
    const raw = await store.withView(async (view) => {
      const [message] = await view.getMany(target.id, [uid]);
      return message ? view.read(message) : null;
    });
    if (!raw) continue;
    await train(store, raw, verdict, { ...options, accountId });
    await options.rspamd?.learn(raw, verdict);
    trained += 1;
  }
  return trained;
}
