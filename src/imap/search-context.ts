// CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4): a SEARCH or SORT with RETURN (UPDATE) stays live
// while its mailbox is selected; as messages start or stop matching, the session sends
// "ESEARCH (TAG ...) ADDTO/REMOVEFROM" — removals before the EXPUNGEs that cause them, additions
// after the EXISTS that announces them — until CANCELUPDATE.
import { searchNumbers, type SearchRequest } from './search.ts';
import { searchWithFields } from './ordered.ts';
import { formatSequenceSet } from './sequence.ts';
import type { Selected } from './selected.ts';
import type { Session } from './session.ts';
import { sortMessages, type SortRequest } from './sort.ts';

export interface SearchContext {
  tag: string;
  byUid: boolean;
  request: SearchRequest | SortRequest;
  /** The result as the client knows it, by UID, in answer order. */
  uids: number[];
  /** The result as it now is, between the removals and the additions of one announcement. */
  next?: number[];
}

const isSort = (request: SearchRequest | SortRequest): request is SortRequest => 'criteria' in request;

/** Keeps a result live when its RETURN options ask for UPDATE (`uids` is only listed then). */
export function keepContext(
  session: Session,
  tag: string,
  byUid: boolean,
  request: SearchRequest | SortRequest,
  uids: () => number[],
): void {
  if (request.returns?.includes('UPDATE')) session.selected!.contexts.push({ tag, byUid, request, uids: uids() });
}

/** Evaluates every live context again, then reports the messages that left each result. */
export async function reportRemovals(session: Session, sel: Selected): Promise<void> {
  for (const context of sel.contexts) {
    const { request } = context;
    context.next = isSort(request)
      ? sortMessages(await searchWithFields(session, request.key), request.criteria).map((s) => s.message.uid)
      : Array.from((await searchNumbers(session, request.key)).uids);
    const keep = new Set(context.next);
    const gone = context.uids.filter((uid) => !keep.has(uid));
    if (!gone.length) continue;
    if (isSort(request)) {
      // one at a time from the end, so each position is right when the client applies it
      for (let i = context.uids.length - 1; i >= 0; i--) {
        if (!keep.has(context.uids[i]!)) send(session, sel, context, 'REMOVEFROM', i + 1, [context.uids[i]!]);
      }
    } else send(session, sel, context, 'REMOVEFROM', 0, gone);
    context.uids = context.uids.filter((uid) => keep.has(uid));
  }
}

/** Reports the messages that joined each result (after EXISTS has announced new ones). */
export function reportAdditions(session: Session, sel: Selected): void {
  for (const context of sel.contexts) {
    if (!context.next) continue;
    const known = new Set(context.uids);
    const added = context.next.filter((uid) => !known.has(uid));
    if (added.length) {
      // SEARCH results are unordered sets: position 0; SORT ones go in at their place in the new order
      if (isSort(context.request))
        context.next.forEach((uid, i) => !known.has(uid) && send(session, sel, context, 'ADDTO', i + 1, [uid]));
      else send(session, sel, context, 'ADDTO', 0, added);
    }
    context.uids = context.next.filter((uid) => sel.seqOf(uid));
    context.next = undefined;
  }
}

function send(
  session: Session,
  sel: Selected,
  context: SearchContext,
  what: 'ADDTO' | 'REMOVEFROM',
  position: number,
  uids: number[],
): void {
  const numbers = context.byUid ? uids : uids.map((uid) => sel.seqOf(uid));
  session.send(
    `* ESEARCH (TAG "${context.tag}")${context.byUid ? ' UID' : ''} ${what} (${position} ${formatSequenceSet(numbers, !isSort(context.request))})`,
  );
}
