// RENAME moves the folder's children along; RENAME INBOX moves INBOX's messages into a new folder
// and leaves INBOX empty (RFC 3501 6.3.5).
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { DELIMITER, findFolder } from '../mailboxes.ts';
import { Tx } from '../../store/index.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => ({ from: args.astring('mailbox'), to: args.astring('new name') }),
  async run(session, { from, to }) {
    const { store } = session.ctx;
    const accountId = session.account!.id;
    const folder = findFolder(session, from);
    const oldName = folder.name;
    const newName = session.parseMailboxName(to);
    if (!newName || newName.split(DELIMITER).some((p) => p === ''))
      throw new ImapError('NO', 'Invalid mailbox name', 'CANNOT');
    if (store.folders.byName(accountId, newName)) throw new ImapError('NO', 'Target mailbox exists', 'ALREADYEXISTS');
    if (newName.startsWith(folder.name + DELIMITER))
      throw new ImapError('NO', 'Cannot move a mailbox into itself', 'CANNOT');
    if (folder.name === 'INBOX') {
      const target = await store.createFolder(accountId, newName);
      const uids = (await store.messages.listShared(folder.id)).map((m) => m.uid);
      if (uids.length) await store.messages.copy(folder.id, uids, target.id, true);
      session.ctx.mailboxEvent(session, { kind: 'name', name: newName });
      return;
    }
    const tx = new Tx();
    const prefix = folder.name + DELIMITER;
    for (const child of store.folders.list(accountId).filter((f) => f.name.startsWith(prefix))) {
      store.folders.rename(tx, child, newName + DELIMITER + child.name.slice(prefix.length));
    }
    store.folders.rename(tx, folder, newName);
    // Parents the new name implies are created, as CREATE would.
    const parts = newName.split(DELIMITER);
    for (let i = 1; i < parts.length; i++) {
      const path = parts.slice(0, i).join(DELIMITER);
      if (!store.folders.byName(accountId, path)) store.folders.create(tx, accountId, path, null, false); // CREATE does not subscribe (as Dovecot)
    }
    await store.kv.commit(tx);
    session.ctx.mailboxEvent(session, { kind: 'name', name: newName, oldName });
  },
});
