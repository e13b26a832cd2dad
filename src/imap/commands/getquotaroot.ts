import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { findFolder } from '../mailboxes.ts';
import { quotaLine } from './getquota.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('mailbox'),
  async run(session, mailbox) {
    const folder = findFolder(session, mailbox);
    session.send(`* QUOTAROOT ${session.mailboxName(folder.name)} ""`);
    session.send(quotaLine(session));
  },
});
