import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { applyNotify, parseNotify } from '../notify.ts';
import type { Session } from '../session.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args, session: Session) => parseNotify(args, session),
  run: (session, settings) => applyNotify(session, settings),
});
