import type { Args } from '../args.ts';
import { defineCommand, SELECTED } from '../command.ts';
import { uidsOf } from '../messages.ts';
import { expunge } from './expunge.ts';

export default defineCommand({
  states: SELECTED,
  parse: (args: Args) => args.sequenceSet('UID set'),
  run: (session, ranges) => expunge(session, uidsOf(session.selected!, ranges, true)),
});
