import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: (args: Args) => args.atom('mechanism').toUpperCase(),
  async run(session, mechanism, tag) {
    if (mechanism !== 'DEFLATE') throw new ImapError('NO', `Unknown compression mechanism ${mechanism}`);
    if (session.transport.compressed) throw new ImapError('NO', 'Compression is already active', 'COMPRESSIONACTIVE');
    session.send(`${tag} OK DEFLATE active`);
    session.transport.startCompression();
    return { done: true };
  },
});
