import { atomsOf, BadArguments, type Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { findFolder, STATUS_ITEMS, statusItems } from '../mailboxes.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const mailbox = args.astring('mailbox');
    const items = atomsOf(args.list('status items'), 'status item').map((s) => s.toUpperCase());
    if (!items.length || items.some((s) => !STATUS_ITEMS.has(s))) throw new BadArguments('Unknown status item');
    return { mailbox, items };
  },
  async run(session, { mailbox, items }) {
    const folder = findFolder(session, mailbox);
    session.send(`* STATUS ${session.mailboxName(folder.name)} ${await statusItems(session, folder, items)}`);
  },
});
