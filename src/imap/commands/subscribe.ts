import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { Tx } from '../../store/index.ts';
import type { Session } from '../session.ts';

/** Any name may be subscribed, existing or not (RFC 3501 6.3.6); a folder's subscription is a flag on it. */
export async function setSubscribed(session: Session, rawName: string, subscribed: boolean): Promise<void> {
  const tx = new Tx();
  const name = session.parseMailboxName(rawName);
  session.ctx.store.folders.subscribe(tx, session.account!.id, name, subscribed);
  await session.ctx.store.kv.commit(tx);
  session.ctx.mailboxEvent(session, { kind: 'subscription', name, subscribed });
}

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('mailbox'),
  run: (session, name) => setSubscribed(session, name, true),
});
