// SEARCH and UID SEARCH answers: classic "* SEARCH" or ESEARCH (RFC 4731, default under IMAP4rev2).
// SORT's command is here too (sort.ts is the ordering only), as it keeps its result like SEARCH.
import { defineCommand, type Reply, SELECTED } from './command.ts';
import { parseSearch, runSearch, type SearchRequest } from './search.ts';
import { keepContext } from './search-context.ts';
import { searchWithFields } from './ordered.ts';
import { parseSort, sortMessages } from './sort.ts';
import { formatSequenceSet, numberBytes } from './sequence.ts';
import type { Session } from './session.ts';
import type { Message } from '../store/index.ts';

export async function search(session: Session, request: SearchRequest, byUid: boolean, tag: string): Promise<Reply> {
  const found = await runSearch(session, request.key);
  sendResult(session, { verb: 'SEARCH', tag, byUid, request, found, ordered: false });
  keepContext(session, tag, byUid, request, () => found.map((f) => f.message.uid));
  return {};
}

/**
 * A SEARCH or SORT answer: the classic "* SEARCH"/"* SORT" list, or ESEARCH (RFC 4731, RFC 5267
 * ESORT, default under IMAP4rev2) with its MIN/MAX/COUNT/ALL/PARTIAL and, under CONDSTORE, MODSEQ.
 * `found` is in answer order: ascending for SEARCH, the sort order for SORT.
 */
export function sendResult(
  session: Session,
  r: {
    verb: 'SEARCH' | 'SORT';
    tag: string;
    byUid: boolean;
    request: SearchRequest;
    found: { message: Message; seq: number }[];
    ordered: boolean;
  },
): void {
  const { found, request } = r;
  const numberOf = (f: { message: Message; seq: number }): number => (r.byUid ? f.message.uid : f.seq);
  const numbers = found.map(numberOf);
  const returns = request.returns ?? (session.rev2 && r.verb === 'SEARCH' ? [] : null);
  const wanted = returns?.length ? returns : ['ALL'];
  const partial = request.partial ? found.slice(request.partial[0] - 1, request.partial[1]) : [];
  // MODSEQ: the highest of the messages the answer reports; only the MIN/MAX one when that is all it reports (RFC 4731 3.2)
  const reported =
    returns === null || wanted.includes('ALL') || wanted.includes('COUNT')
      ? found
      : [
          wanted.includes('MIN') ? found[0] : undefined,
          wanted.includes('MAX') ? found.at(-1) : undefined,
          ...partial,
        ].filter((f) => f !== undefined);
  const modseq =
    session.condstore && usesModseq(request) ? reported.reduce((n, f) => Math.max(n, f.message.modseq), 0) : 0;
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
    parts.push(
      `PARTIAL (${low}:${high} ${partial.length ? formatSequenceSet(partial.map(numberOf), !r.ordered) : 'NIL'})`,
    );
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
      sendResult(session, { verb: 'SORT', tag, byUid, request, found: sorted, ordered: true });
      keepContext(session, tag, byUid, request, () => sorted.map((s) => s.message.uid));
    },
  });
