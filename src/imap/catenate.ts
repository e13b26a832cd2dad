// CATENATE (RFC 4469): an APPENDed message built from literal TEXT parts and URL parts, each URL an
// IMAP URL (RFC 5092) naming a message or a section of one in the user's own mailboxes.
import { sectionRange } from '../mime/index.ts';
import type { SectionPart } from '../mime/types.ts';
import { Args, BadArguments } from './args.ts';
import { ImapError } from './command.ts';
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

const URL_PATH = /^\/(.+?)(?:;uidvalidity=(\d+))?\/;uid=(\d+)(?:\/;section=([^/]*))?(?:\/;partial=(\d+)(?:\.(\d+))?)?$/i;
const SECTION = /^(?:(\d+(?:\.\d+)*)(?:\.(header|text|mime))?|(header|text))$/i;

/** The bytes a URL names, or NO [BADURL] (RFC 4469 5). */
async function fetchUrl(session: Session, url: string): Promise<Buffer> {
  const bad = (): ImapError => new ImapError('NO', 'Invalid or inaccessible URL', `BADURL ${JSON.stringify(url)}`);
  let path = url;
  const absolute = /^imap:\/\/(?:([^@/;]+)(?:;[^@/]*)?@)?[^/]+(\/.*)$/i.exec(url);
  if (absolute) {
    // only the session's own mailboxes can be read
    if (absolute[1] && decodeURIComponent(absolute[1]).toLowerCase() !== session.account!.address.toLowerCase()) throw bad();
    path = absolute[2]!;
  }
  const m = URL_PATH.exec(path);
  if (!m) throw bad();
  let name: string;
  try {
    name = decodeURIComponent(m[1]!);
  } catch {
    throw bad();
  }
  const { store } = session.ctx;
  const folder = store.folders.byName(session.account!.id, name);
  if (!folder || (m[2] && Number(m[2]) !== folder.uidValidity)) throw bad();
  const message = await store.messages.get(folder.id, Number(m[3]));
  if (!message) throw bad();
  let start = 0;
  let end = message.size;
  if (m[4]) {
    const section = SECTION.exec(m[4]);
    if (!section) throw bad();
    const numbers = section[1] ? section[1].split('.').map(Number) : [];
    const part = (section[2] ?? section[3] ?? '').toUpperCase() as SectionPart;
    const range = sectionRange(await store.blobs.structure(message.blob), numbers, part);
    if (!range) throw bad();
    ({ start, end } = range);
  }
  if (m[5]) {
    start = Math.min(end, start + Number(m[5]));
    if (m[6]) end = Math.min(end, start + Number(m[6]));
  }
  return store.read(message, start, end);
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

