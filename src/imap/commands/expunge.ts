// The EXPUNGE responses themselves come from the store's change notice, like any other session's.
import { defineCommand, ImapError, noArgs, requireSelected, SELECTED } from '../command.ts';
import type { Session } from '../session.ts';

export async function expunge(session: Session, uids?: number[]): Promise<void> {
  const selected = requireSelected(session);
  if (selected.readOnly) throw new ImapError('NO', 'Mailbox is read-only', 'READ-ONLY');
  const { messages } = session.ctx.store;
  if (uids === undefined) {
    await messages.expunge(selected.folder.id);
    return;
  }
  const deleted = (await messages.getMany(selected.folder.id, uids)).filter((m) => m?.flags.includes('\\Deleted'));
  if (deleted.length)
    await messages.expunge(
      selected.folder.id,
      deleted.map((m) => m!.uid),
    );
}

export default defineCommand({ states: SELECTED, parse: noArgs, run: (session) => expunge(session) });
