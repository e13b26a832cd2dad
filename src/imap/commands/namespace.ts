import { AUTHENTICATED, defineCommand, noArgs } from '../command.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: noArgs,
  async run(session) {
    session.send('* NAMESPACE (("" "/")) NIL NIL');
  },
});
