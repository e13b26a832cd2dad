import type { Args } from '../args.ts';
import { logIn, requirePrivacy } from '../auth.ts';
import { defineCommand, NOT_AUTHENTICATED } from '../command.ts';

export default defineCommand({
  states: NOT_AUTHENTICATED,
  parse: (args: Args) => ({ user: args.astring('user name'), password: args.astring('password') }),
  async run(session, { user, password }) {
    requirePrivacy(session);
    return logIn(session, user, password);
  },
});
