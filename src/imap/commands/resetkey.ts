// RESETKEY (RFC 4467 6.2): a new access key for one mailbox, or for all of the user's, which
// revokes every URLAUTH URL made with the old one.
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { findFolder } from '../mailboxes.ts';
import { urlAuthKeys } from '../../store/urlauth-keys.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const mailbox = args.remaining ? args.astring('mailbox') : null;
    const mechanisms: string[] = [];
    while (args.remaining) mechanisms.push(args.atom('mechanism'));
    return { mailbox, mechanisms };
  },
  async run(session, { mailbox, mechanisms }) {
    const unknown = mechanisms.find((m) => m.toUpperCase() !== 'INTERNAL');
    if (unknown) throw new ImapError('NO', `Unknown URLAUTH mechanism ${unknown.slice(0, 20)}`, 'URLMECH INTERNAL');
    const keys = urlAuthKeys(session.ctx.store.kv);
    if (mailbox === null) {
      await keys.reset(session.account!.id);
      return { text: 'All keys removed' };
    }
    // The key is made again on the next GENURLAUTH; URLMECH names the mechanisms (RFC 4467 6.2).
    await keys.reset(session.account!.id, findFolder(session, mailbox).id);
    return { code: 'URLMECH INTERNAL', text: 'Key removed' };
  },
});
