// CATENATE (RFC 4469): an APPENDed message built from literal TEXT parts and URL parts, each URL an
// IMAP URL (RFC 5092) naming a message or a section of one in the user's own mailboxes.
import { Args, BadArguments } from './args.ts';
import { ImapError } from './command.ts';
import { authorizedTarget, parseImapUrl } from './imap-url.ts';
import type { Token } from './parser.ts';
import type { Session } from './session.ts';

export type CatenatePart = { kind: 'text'; data: Buffer } | { kind: 'url'; url: string };

/** The parenthesised list after CATENATE: TEXT literal / URL astring, at least one. */
export function parseCatenate(tokens: Token[]): CatenatePart[] {
  const args = new Args(tokens);
  const parts: CatenatePart[] = [];
  while (args.remaining) {
    const kind = args.atom('TEXT or URL').toUpperCase();
    if (kind === 'URL') parts.push({ kind: 'url', url: args.astring('URL') });
    else if (kind === 'TEXT') {
      const t = args.next('TEXT literal');
      if (t.kind !== 'string' || !t.literal) throw new BadArguments('TEXT needs a literal');
      parts.push({ kind: 'text', data: t.value });
    } else throw new BadArguments(`Unknown CATENATE part ${kind.slice(0, 20)}`);
  }
  if (!parts.length) throw new BadArguments('Empty CATENATE');
  return parts;
}

/** The bytes a URL names, or NO [BADURL] (RFC 4469 5); a URLAUTH URL (RFC 4467) may name another user's. */
async function fetchUrl(session: Session, url: string): Promise<Buffer> {
  const parsed = parseImapUrl(url);
  const found =
    parsed && (await authorizedTarget(session.ctx.store, parsed, { account: session.account!, submitter: false }));
  if (!found) throw new ImapError('NO', 'Invalid or inaccessible URL', `BADURL ${JSON.stringify(url)}`);
  return session.ctx.store.read(found.target.message, found.target.start, found.target.end);
}

/** The message the parts make; NO [BADURL] for any URL that names nothing, NO [TOOBIG] past `limit`. */
export async function catenate(session: Session, parts: CatenatePart[], limit: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let size = 0;
  for (const part of parts) {
    const data = part.kind === 'text' ? part.data : await fetchUrl(session, part.url);
    size += data.length;
    if (size > limit) throw new ImapError('NO', 'Message too large', 'TOOBIG');
    pieces.push(data);
  }
  return Buffer.concat(pieces);
}
