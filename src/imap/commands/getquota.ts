// QUOTA (RFC 9208): one root per account, "" , with the account's storage limit.
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import type { Session } from '../session.ts';

export function quotaLine(session: Session): string {
  const account = session.account!;
  const used = Math.ceil(session.ctx.store.folders.usage(account.id).bytes / 1024);
  const limit = account.quotaBytes ? ` (STORAGE ${used} ${Math.floor(account.quotaBytes / 1024)})` : ' ()';
  return `* QUOTA ""${limit}`;
}

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('quota root'),
  async run(session, root) {
    if (root !== '') throw new ImapError('NO', 'No such quota root', 'NONEXISTENT');
    session.send(quotaLine(session));
  },
});
