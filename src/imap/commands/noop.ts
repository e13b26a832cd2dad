// Does nothing itself: the session announces pending mailbox changes after every command.
import { ANY, defineCommand, noArgs } from '../command.ts';

export default defineCommand({ states: ANY, parse: noArgs, async run() {} });
