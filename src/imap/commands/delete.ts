import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { findFolder } from '../mailboxes.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('mailbox'),
  async run(session, rawName) {
    const folder = findFolder(session, rawName);
    if (folder.name === 'INBOX') throw new ImapError('NO', 'INBOX cannot be deleted', 'CANNOT');
    if (session.selected?.folder.id === folder.id) session.select(null);
    await session.ctx.store.deleteFolder(folder);
    session.ctx.mailboxEvent(session, { kind: 'name', name: folder.name, deleted: true });
  },
});
