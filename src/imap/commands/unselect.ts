import { defineCommand, noArgs, SELECTED } from '../command.ts';

export default defineCommand({
  states: SELECTED,
  parse: noArgs,
  async run(session) {
    session.select(null);
  },
});
