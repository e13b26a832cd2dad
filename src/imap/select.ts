// SELECT and EXAMINE (RFC 3501 6.3.1/6.3.2) with CONDSTORE and QRESYNC parameters (RFC 7162).
import { Args, BadArguments } from './args.ts';
import { ImapError, type Reply } from './command.ts';
import { findFolder } from './mailboxes.ts';
import { formatSequenceSet, inRanges, type Range } from './sequence.ts';
import { Selected } from './selected.ts';
import type { Session } from './session.ts';

interface Qresync {
  uidValidity: number;
  modseq: number;
  knownUids: Range[] | null;
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: Qresync | null;
}

export function parseSelect(args: Args): SelectArgs {
  const result: SelectArgs = { mailbox: args.astring('mailbox'), condstore: false, qresync: null };
  if (!args.remaining) return result;
  const params = new Args(args.list('select parameters'));
  while (params.remaining) {
    const name = params.atom('select parameter').toUpperCase();
    if (name === 'CONDSTORE') result.condstore = true;
    else if (name === 'QRESYNC') {
      const q = new Args(params.list('QRESYNC parameters'));
      const uidValidity = q.number('UIDVALIDITY');
      const modseq = q.number('MODSEQ');
      const knownUids = q.peek()?.kind === 'atom' ? q.sequenceSet('known UIDs') : null;
      if (q.remaining) q.list('sequence match data'); // only an optimisation for the server; ignored
      q.end();
      result.qresync = { uidValidity, modseq, knownUids };
    } else throw new BadArguments(`Unknown select parameter ${name}`);
  }
  return result;
}

export async function select(session: Session, args: SelectArgs, readOnly: boolean): Promise<Reply> {
  // A failed SELECT leaves no mailbox selected (RFC 3501 6.3.1).
  if (session.selected) {
    session.select(null);
    if (session.qresync) session.send('* OK [CLOSED] Previous mailbox closed');
  }
  if (args.qresync && !session.qresync) throw new ImapError('BAD', 'QRESYNC is not enabled');
  if (args.condstore) session.enabled.add('CONDSTORE');
  const folder = findFolder(session, args.mailbox);
  const selected = new Selected(folder, readOnly, []);
  // Watch before reading so no change falls between the snapshot and the subscription.
  session.select(selected);
  const messages = await session.ctx.store.messages.listShared(folder.id); // read only here: no copies
  selected.uids = session.ctx.uidLists.ofMessages(folder.id, messages);
  if (!session.rev2)
    for (const uid of await session.ctx.recent.claim(folder.id, selected.uids, !readOnly)) selected.recent.add(uid);

  selected.learnKeywords(messages);
  // One write for the whole untagged block: a socket write per line cost more than the SELECT.
  const lines: string[] = [];
  lines.push(...selected.flagsResponses(session.ctx.limits.maxKeywordsPerMailbox));
  lines.push(`* ${messages.length} EXISTS`);
  if (!session.rev2) {
    lines.push(`* ${selected.recent.size} RECENT`);
    const firstUnseen = messages.findIndex((m) => !m.flags.includes('\\Seen'));
    if (firstUnseen >= 0) lines.push(`* OK [UNSEEN ${firstUnseen + 1}] First unseen`);
  }
  lines.push(`* OK [UIDVALIDITY ${folder.uidValidity}] UIDs valid`);
  lines.push(`* OK [UIDNEXT ${folder.uidNext}] Predicted next UID`);
  lines.push(`* OK [HIGHESTMODSEQ ${folder.highestModSeq}] Highest`);
  if (session.rev2) lines.push(`* LIST () "/" ${session.mailboxName(folder.name)}`);
  session.write(`${lines.join('\r\n')}\r\n`);

  const q = args.qresync;
  if (q && q.uidValidity === folder.uidValidity) {
    const changes = await session.ctx.store.messages.changesSince(folder.id, q.modseq);
    const max = selected.uids[selected.uids.length - 1] ?? 0;
    const vanished = changes
      .filter((c) => c.kind === 'expunge')
      .flatMap((c) => c.uids)
      .filter((uid) => !q.knownUids || inRanges(uid, q.knownUids, max));
    if (vanished.length) session.send(`* VANISHED (EARLIER) ${formatSequenceSet([...new Set(vanished)])}`);
    messages.forEach((m, i) => {
      if (m.modseq > q.modseq)
        session.send(`* ${i + 1} FETCH (UID ${m.uid} FLAGS ${selected.flagList(m)} MODSEQ (${m.modseq}))`);
    });
  }
  return { code: readOnly ? 'READ-ONLY' : 'READ-WRITE', text: `${readOnly ? 'EXAMINE' : 'SELECT'} completed` };
}
