// COPY and MOVE (RFC 6851) with COPYUID (RFC 4315). For MOVE the EXPUNGEs come from the change notice.
import type { Args } from './args.ts';
import { defineCommand, ImapError, type Reply, SELECTED } from './command.ts';
import { findTarget } from './mailboxes.ts';
import { uidsOf } from './messages.ts';
import { formatSequenceSet, type Range } from './sequence.ts';
import type { Session } from './session.ts';
import { StoreError } from '../store/index.ts';

export const parseCopy = (args: Args): { ranges: Range[]; mailbox: string } => ({
  ranges: args.sequenceSet(),
  mailbox: args.astring('mailbox'),
});

export async function copy(
  session: Session,
  args: { ranges: Range[]; mailbox: string },
  byUid: boolean,
  move: boolean,
): Promise<Reply> {
  const selected = session.selected!;
  if (move && selected.readOnly) throw new ImapError('NO', 'Mailbox is read-only', 'READ-ONLY');
  const target = findTarget(session, args.mailbox);
  const uids = uidsOf(selected, args.ranges, byUid).filter((uid) => !selected.expunged.has(uid));
  if (!uids.length) return { text: 'No messages' };
  // Checked in the store, with the copy's batch (on a shared store against every folder as stored, §4.8).
  const quota = target.id !== selected.folder.id && !move ? session.account!.quotaBytes : 0;
  try {
    const mapping = await session.ctx.store.messages.copy(selected.folder.id, uids, target.id, move, quota);
    if (!mapping.from.length) return { text: 'No messages' };
    session.ctx.onCopy?.(session.account!.id, selected.folder, target, mapping.to);
    const code = `COPYUID ${target.uidValidity} ${formatSequenceSet(mapping.from, false)} ${formatSequenceSet(mapping.to, false)}`;
    if (move) {
      session.send(`* OK [${code}] Moved`);
      return {};
    }
    return { code };
  } catch (err) {
    if (err instanceof StoreError && err.code === 'not_found')
      throw new ImapError('NO', 'Mailbox does not exist', 'TRYCREATE');
    if (err instanceof StoreError && err.code === 'quota') throw new ImapError('NO', 'Quota exceeded', 'OVERQUOTA');
    throw err;
  }
}

export const copyCommand = (byUid: boolean, move: boolean) =>
  defineCommand({
    states: SELECTED,
    parse: parseCopy,
    run: (session, args: { ranges: Range[]; mailbox: string }) => copy(session, args, byUid, move),
  });
