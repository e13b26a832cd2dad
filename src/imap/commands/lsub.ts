import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';
import { list, parseList } from './list.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => ({ ...parseList(args), subscribedOnly: true, extended: false }),
  run: (session, request) => list(session, request, 'LSUB'),
});
