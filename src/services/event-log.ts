// The event log read as history: a team's or a mailbox's events newest first, what each counts
// towards (sent, failed, deferred, received), and how far back the log still reaches.
import { keys, ranges } from '../store/keys.ts';
import type { Store, StoredEvent } from '../store/index.ts';

const SCAN_CHUNK = 500;

/**
 * A team's (or one mailbox's) events, newest first, from before `beforeSeq`. Reads the store's
 * per-team and per-account event indexes backwards (Events.list only reads forwards).
 */
export async function* eventsNewestFirst(
  deps: { store: Store },
  scope: { teamId: string; accountId?: string },
  beforeSeq?: number,
): AsyncGenerator<StoredEvent> {
  const range = scope.accountId ? ranges.accountEvents(scope.accountId, 0) : ranges.teamEvents(scope.teamId, 0);
  let lt =
    beforeSeq === undefined
      ? range.lt
      : scope.accountId
        ? keys.accountEvent(scope.accountId, beforeSeq)
        : keys.teamEvent(scope.teamId, beforeSeq);
  for (;;) {
    const found = await deps.store.kv.keys({ gt: range.gt, lt, reverse: true, limit: SCAN_CHUNK });
    if (found.length === 0) return;
    const seqs = found.map((k) => parseInt(k.slice(k.lastIndexOf('/') + 1), 16));
    for (const event of await deps.store.kv.getMany<StoredEvent>(seqs.map(keys.event))) {
      if (event && event.teamId === scope.teamId) yield event;
    }
    if (found.length < SCAN_CHUNK) return;
    lt = found.at(-1)!;
  }
}

export const RECEIVED = ['message.received', 'message.received.spam'];

/** What one event adds to the counts (a cancel or a failure event names several recipients). */
export function countOf(event: StoredEvent): { sent: number; failed: number; deferred: number; received: number } {
  const recipients = Array.isArray(event.data.recipients) ? event.data.recipients.length : 1;
  return {
    sent: event.type === 'message.delivered' ? 1 : 0,
    failed: event.type === 'message.bounced' ? 1 : event.type === 'message.failed' ? recipients : 0,
    deferred: event.type === 'message.deferred' ? 1 : 0,
    received: RECEIVED.includes(event.type) ? 1 : 0,
  };
}

/** Time of the oldest event still kept (counts before it are gone), or null with an empty log. */
export async function retainedSince(deps: { store: Store }): Promise<number | null> {
  const seq = await deps.store.events.oldestSeq();
  const oldest = seq ? await deps.store.events.get(seq) : undefined;
  return oldest ? oldest.time : null;
}
