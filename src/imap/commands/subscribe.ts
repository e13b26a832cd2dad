import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { findFolder } from '../mailboxes.ts';
import { Tx } from '../../store/index.ts';
import type { Session } from '../session.ts';

/** Subscriptions are a flag on existing folders; a name without a folder cannot be subscribed. */
export async function setSubscribed(session: Session, rawName: string, subscribed: boolean): Promise<void> {
  const folder = findFolder(session, rawName);
  const tx = new Tx();
  session.ctx.store.folders.setSubscribed(tx, folder, subscribed);
  await session.ctx.store.kv.commit(tx);
}

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('mailbox'),
  run: (session, name) => setSubscribed(session, name, true),
});
