// SEARCH and UID SEARCH answers: classic "* SEARCH" or ESEARCH (RFC 4731, default under IMAP4rev2).
// SORT's command is here too (sort.ts is the ordering only), as it keeps its result like SEARCH.
import { defineCommand, type Reply, SELECTED } from './command.ts';
import { parseSearch, runSearch, searchNumbers, type SearchRequest } from './search.ts';
import { keepContext } from './search-context.ts';
import { searchWithFields } from './ordered.ts';
import { parseSort, sortMessages } from './sort.ts';
import { formatSequenceSet, numberBytes } from './sequence.ts';
import type { Session } from './session.ts';

export async function search(session: Session, request: SearchRequest, byUid: boolean, tag: string): Promise<Reply> {
  if (usesModseq(request)) {
    // MODSEQ in the answer: the matches' records are needed (RFC 7162 3.1.5)
    const found = await runSearch(session, request.key);
    const numbers = found.map((f) => (byUid ? f.message.uid : f.seq));
    sendResult(session, { verb: 'SEARCH', tag, byUid, request, numbers, modseqs: found.map((f) => f.message.modseq) });
    keepContext(session, tag, byUid, request, () => found.map((f) => f.message.uid));
    return {};
  }
  const { seqs, uids } = await searchNumbers(session, request.key);
  sendResult(session, { verb: 'SEARCH', tag, byUid, request, numbers: byUid ? uids : seqs, modseqs: null });
  keepContext(session, tag, byUid, request, () => Array.from(uids));
  return {};
}

/**
 * A SEARCH or SORT answer: the classic "* SEARCH"/"* SORT" list, or ESEARCH (RFC 4731, RFC 5267
 * ESORT, default under IMAP4rev2) with its MIN/MAX/COUNT/ALL/PARTIAL and, under CONDSTORE, MODSEQ.
 * `numbers` (UIDs or sequence numbers) are in answer order: ascending for SEARCH, the sort order for
 * SORT; `modseqs` are theirs, in the same order, when the search key asks about MODSEQ.
 */
export function sendResult(
  session: Session,
  r: {
    verb: 'SEARCH' | 'SORT';
    tag: string;
    byUid: boolean;
    request: SearchRequest;
    numbers: ArrayLike<number> & { slice(start?: number, end?: number): ArrayLike<number> };
    modseqs: number[] | null;
  },
): void {
  const { numbers, request } = r;
  const ordered = r.verb === 'SORT';
  const returns = request.returns ?? (session.rev2 && r.verb === 'SEARCH' ? [] : null);
  const wanted = returns?.length ? returns : ['ALL'];
  const partial = request.partial ? Array.from(numbers.slice(request.partial[0] - 1, request.partial[1])) : [];
  // MODSEQ: the highest of the messages the answer reports; only the MIN/MAX one when that is all it reports (RFC 4731 3.2)
  const modseqs = r.modseqs ?? [];
  const reported =
    returns === null || wanted.includes('ALL') || wanted.includes('COUNT')
      ? modseqs
      : [
          wanted.includes('MIN') ? modseqs[0] : undefined,
          wanted.includes('MAX') ? modseqs.at(-1) : undefined,
          ...(request.partial ? modseqs.slice(request.partial[0] - 1, request.partial[1]) : []),
        ].filter((m) => m !== undefined);
  const modseq = session.condstore && r.modseqs ? reported.reduce((n, m) => Math.max(n, m), 0) : 0;
  // The number lists are written as bytes in pieces (numberBytes): an answer can name every message.
  if (returns === null) {
    session.writeAll(numberBytes(`* ${r.verb}`, numbers, false, `${modseq ? ` (MODSEQ ${modseq})` : ''}\r\n`));
    return;
  }
  const parts = [`* ESEARCH (TAG "${r.tag}")`];
  if (r.byUid) parts.push('UID');
  if (numbers.length) {
    // in answer order: the lowest for SEARCH, the first in sort order for SORT
    if (wanted.includes('MIN')) parts.push(`MIN ${numbers[0]}`);
    if (wanted.includes('MAX')) parts.push(`MAX ${numbers[numbers.length - 1]}`);
  }
  if (wanted.includes('COUNT')) parts.push(`COUNT ${numbers.length}`);
  // a SORT result keeps its order: only ascending runs are shortened to ranges (SEARCH's ascend already)
  const all = wanted.includes('ALL') && numbers.length > 0;
  const head = parts.join(' ');
  parts.length = 0;
  if (request.partial) {
    const [low, high] = request.partial;
    parts.push(`PARTIAL (${low}:${high} ${partial.length ? formatSequenceSet(partial, !ordered) : 'NIL'})`);
  }
  if (modseq) parts.push(`MODSEQ ${modseq}`);
  const tail = parts.map((p) => ` ${p}`).join('');
  if (all) session.writeAll(numberBytes(`${head} ALL `, numbers, true, `${tail}\r\n`));
  else session.send(`${head}${tail}`);
}

const usesModseq = (request: SearchRequest): boolean => JSON.stringify(request.key).includes('"op":"modseq"');

export const searchCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseSearch,
    run: (session, request: SearchRequest, tag) => search(session, request, byUid, tag),
  });

export const sortCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseSort,
    async run(session, request, tag) {
      const sorted = sortMessages(await searchWithFields(session, request.key), request.criteria);
      sendResult(session, {
        verb: 'SORT',
        tag,
        byUid,
        request,
        numbers: sorted.map((s) => (byUid ? s.message.uid : s.seq)),
        modseqs: usesModseq(request) ? sorted.map((s) => s.message.modseq) : null,
      });
      keepContext(session, tag, byUid, request, () => sorted.map((s) => s.message.uid));
    },
  });
