import { ANY, defineCommand, noArgs } from '../command.ts';

export default defineCommand({
  states: ANY,
  parse: noArgs,
  async run(session) {
    session.send(`* CAPABILITY ${session.capabilities().join(' ')}`);
  },
});
