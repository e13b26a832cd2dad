// RFC 5161. QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
import type { Args } from '../args.ts';
import { AUTHENTICATED, defineCommand } from '../command.ts';

const KNOWN = new Set(['CONDSTORE', 'QRESYNC', 'UTF8=ACCEPT', 'IMAP4REV2']);

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const names: string[] = [];
    while (args.remaining) names.push(args.atom('capability').toUpperCase());
    if (!names.length) args.atom('capability');
    return names;
  },
  async run(session, names) {
    const newly: string[] = [];
    for (const name of names) {
      if (!KNOWN.has(name) || session.enabled.has(name)) continue;
      session.enabled.add(name);
      newly.push(name);
      if (name === 'QRESYNC') session.enabled.add('CONDSTORE');
    }
    session.send(`* ENABLED${newly.map((n) => ` ${n}`).join('')}`);
  },
});
