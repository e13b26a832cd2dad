// GENURLAUTH (RFC 4467 6.1): makes URLAUTH-authorized URLs from rump URLs of the session user's own
// mailboxes with the INTERNAL mechanism, the only one Wren has (RFC 4467 7).
import { imapString } from '../../mime/imap-syntax.ts';
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { parseImapUrl, urlAuthToken, urlOwner } from '../imap-url.ts';
import { urlAuthKeys } from '../../store/urlauth-keys.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const requests: { rump: string; mechanism: string }[] = [];
    do requests.push({ rump: args.astring('URL'), mechanism: args.atom('mechanism') });
    while (args.remaining);
    return requests;
  },
  async run(session, requests) {
    const { store } = session.ctx;
    const urls: string[] = [];
    for (const { rump, mechanism } of requests) {
      if (mechanism.toUpperCase() !== 'INTERNAL')
        throw new ImapError('NO', `Unknown URLAUTH mechanism ${mechanism.slice(0, 20)}`, 'URLMECH INTERNAL');
      const bad = (why: string): ImapError => new ImapError('NO', why, `BADURL ${imapString(rump)}`);
      const url = parseImapUrl(rump);
      // an absolute URL with a userid and an access identifier, no token yet (RFC 4467 3, 6.1)
      if (!url?.host || url.access === null || url.mechanism !== null) throw bad('Not a URLAUTH rump URL');
      if ((await urlOwner(store, url))?.id !== session.account!.id)
        throw bad('The URL must name one of your own mailboxes');
      if (!/^(anonymous|authuser|(user|submit)\+.+)$/i.test(url.access)) throw bad('Unknown access identifier');
      const folder = store.folders.byName(
        session.account!.id,
        url.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : url.mailbox,
      );
      if (!folder) throw bad('Mailbox does not exist');
      const key = await urlAuthKeys(store.kv).getOrCreate(session.account!.id, folder.id);
      urls.push(`${rump}:internal:${urlAuthToken(key, rump)}`);
    }
    session.send(`* GENURLAUTH ${urls.map(imapString).join(' ')}`);
  },
});
