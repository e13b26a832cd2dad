// SEARCH and UID SEARCH answers: classic "* SEARCH" or ESEARCH (RFC 4731, default under IMAP4rev2).
import { defineCommand, type Reply, SELECTED } from './command.ts';
import { parseSearch, runSearch, type SearchRequest } from './search.ts';
import { formatSequenceSet } from './sequence.ts';
import type { Session } from './session.ts';

export async function search(session: Session, request: SearchRequest, byUid: boolean, tag: string): Promise<Reply> {
  const found = await runSearch(session, request.key);
  const numbers = found.map((f) => (byUid ? f.message.uid : f.seq));
  const returns = request.returns ?? (session.rev2 ? [] : null);
  const wanted = returns?.length ? returns : ['ALL'];
  // MODSEQ: the highest of the messages the answer reports; only the MIN/MAX one when that is all it reports (RFC 4731 3.2)
  const reported = returns === null || wanted.includes('ALL') || wanted.includes('COUNT')
    ? found
    : [wanted.includes('MIN') ? found[0] : undefined, wanted.includes('MAX') ? found.at(-1) : undefined].filter((f) => f !== undefined);
  const modseq = session.condstore && usesModseq(request) ? reported.reduce((n, f) => Math.max(n, f.message.modseq), 0) : 0;
  if (returns === null) {
    session.send(`* SEARCH${numbers.map((n) => ` ${n}`).join('')}${modseq ? ` (MODSEQ ${modseq})` : ''}`);
    return {};
  }
  const parts = [`* ESEARCH (TAG "${tag}")`];
  if (byUid) parts.push('UID');
  if (numbers.length) {
    // found is in sequence order, so both numberings ascend
    if (wanted.includes('MIN')) parts.push(`MIN ${numbers[0]}`);
    if (wanted.includes('MAX')) parts.push(`MAX ${numbers[numbers.length - 1]}`);
  }
  if (wanted.includes('COUNT')) parts.push(`COUNT ${numbers.length}`);
  if (wanted.includes('ALL') && numbers.length) parts.push(`ALL ${formatSequenceSet(numbers)}`);
  if (modseq) parts.push(`MODSEQ ${modseq}`);
  session.send(parts.join(' '));
  return {};
}

const usesModseq = (request: SearchRequest): boolean => JSON.stringify(request.key).includes('"op":"modseq"');

export const searchCommand = (byUid: boolean) =>
  defineCommand({ states: SELECTED, holdsExpunges: true, parse: parseSearch, run: (session, request: SearchRequest, tag) => search(session, request, byUid, tag) });
