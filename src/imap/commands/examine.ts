import { AUTHENTICATED, defineCommand } from '../command.ts';
import { parseSelect, select } from '../select.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: parseSelect,
  run: (session, args) => select(session, args, true),
});
