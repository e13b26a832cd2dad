// CLOSE expunges \Deleted messages silently (unless read-only), then unselects.
import { defineCommand, noArgs, SELECTED } from '../command.ts';

export default defineCommand({
  states: SELECTED,
  parse: noArgs,
  async run(session) {
    const selected = session.selected!;
    session.select(null);
    if (!selected.readOnly) await session.ctx.store.messages.expunge(selected.folder.id);
  },
});
