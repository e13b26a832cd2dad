// CREATE makes missing parents too (RFC 3501 6.3.3 "SHOULD create superior hierarchical names").
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { DELIMITER } from '../mailboxes.ts';
import { StoreError, Tx } from '../../store/index.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => {
    const name = args.astring('mailbox');
    if (args.remaining) args.list('create parameters'); // USE (...) etc.: not supported, ignored
    return name;
  },
  async run(session, rawName) {
    const name = session.parseMailboxName(rawName);
    const parts = name.split(DELIMITER);
    if (!name || parts.some((p) => p === '') || /[\x00-\x1f\x7f*%]/.test(name))
      throw new ImapError('NO', 'Invalid mailbox name', 'CANNOT');
    const { store } = session.ctx;
    const accountId = session.account!.id;
    if (store.folders.byName(accountId, name)) throw new ImapError('NO', 'Mailbox already exists', 'ALREADYEXISTS');
    const tx = new Tx();
    try {
      for (let i = 1; i <= parts.length; i++) {
        const path = parts.slice(0, i).join(DELIMITER);
        if (!store.folders.byName(accountId, path)) store.folders.create(tx, accountId, path, null, false); // CREATE does not subscribe (as Dovecot)
      }
    } catch (err) {
      if (err instanceof StoreError && err.code === 'exists')
        throw new ImapError('NO', 'Mailbox already exists', 'ALREADYEXISTS');
      throw err;
    }
    await store.kv.commit(tx);
    session.ctx.mailboxEvent(session, { kind: 'name', name });
  },
});
