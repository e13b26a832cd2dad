// RFC 2971. The client's identification is only logged.
import { tokenText, type Args } from '../args.ts';
import { ANY, defineCommand } from '../command.ts';

export default defineCommand({
  states: ANY,
  parse(args: Args) {
    if (args.accept('NIL')) return {};
    const items = args.list('ID parameters');
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < items.length && i < 60; i += 2) {
      const value = items[i + 1]!;
      fields[tokenText(items[i]!).toLowerCase().slice(0, 64)] =
        value.kind === 'atom' && value.value.toUpperCase() === 'NIL' ? '' : tokenText(value).slice(0, 256);
    }
    return fields;
  },
  async run(session, fields) {
    session.ctx.logger?.debug({ session: session.id, client: fields }, 'imap client id');
    session.send('* ID ("name" "Wren Mail" "vendor" "Wren Mail")');
  },
});
