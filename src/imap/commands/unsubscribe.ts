import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { setSubscribed } from './subscribe.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.astring('mailbox'),
  run: (session, name) => setSubscribed(session, name, false),
});
