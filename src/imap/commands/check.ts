// Every write is durable when it is acknowledged, so there is nothing to checkpoint.
import { defineCommand, noArgs, SELECTED } from '../command.ts';

export default defineCommand({ states: SELECTED, parse: noArgs, async run() {} });
