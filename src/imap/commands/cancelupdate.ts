// CANCELUPDATE (RFC 5267 4.2): stops the live results of the given search tags.
import type { Args } from '../args.ts';
import { defineCommand, SELECTED } from '../command.ts';

export default defineCommand({
  states: SELECTED,
  parse(args: Args) {
    const tags = [args.astring('tag')];
    while (args.remaining) tags.push(args.astring('tag'));
    return tags;
  },
  async run(session, tags) {
    const sel = session.selected!;
    sel.contexts = sel.contexts.filter((c) => !tags.includes(c.tag));
  },
});
