// The text IMAP SEARCH TEXT/BODY and the mailbox API search match against (issue 17), built once per
// message content at delivery: "contains the specified string" (RFC 3501 6.4.4, RFC 9051 6.4.4),
// case-insensitive, over what the client would see decoded. What is in it follows Dovecot (no fts
// plugin), the answers clients compare with:
// - headers: every line of every header block (the message's, each MIME part's, each attached
//   message's), unfolded, RFC 2047 encoded-words decoded; a line without a colon is kept too (a
//   header block that never ends, as in body-only files, is searched all the same);
// - body: each text/* and message/* leaf part, transfer-decoded and converted to UTF-8 from its
//   charset; HTML as its source (markup included, entities not decoded), every alternative; other
//   parts (images, PDFs, ...) are not searched; preambles and epilogues neither.
// Deliberate differences: 8-bit text without a charset label is read as UTF-8, else Windows-1252
// (Dovecot reads it as UTF-8 only, so "für" in Latin-1 matches here and not there); case folding
// is toLowerCase (Dovecot's i;unicode-casemap also decomposes, so its "e" matches "é"); at most
// FULLTEXT_CAP bytes per message are kept.
//
// Stored as UTF-8 bytes: the header section, NUL, the body section. SEARCH TEXT looks in both, BODY
// in the second; NUL cannot occur in a search string, so a match never spans the two.
import { decodeCharset, decodedLines } from './decode.ts';
import { decodeHeaderBytes } from './headers.ts';
import { safeDecodeWords } from './search-text.ts';
import type { MimeNode } from './types.ts';

/** Bytes kept per message (headers and body together); text past it is not searched. */
export const FULLTEXT_CAP = 1024 * 1024;
/** Raw body bytes decoded per part at most: enough for the cap whatever the encoding. */
const PART_SOURCE_CAP = 4 * FULLTEXT_CAP;

export const SECTION_BREAK = 0;

/** Case folding shared by the stored text and the search strings. */
export const foldCase = (s: string): string => s.toLowerCase();

function headerText(buf: Buffer, start: number, end: number): string {
  const raw = decodeHeaderBytes(buf, start, end);
  // Unfold (RFC 5322 2.2.3): a line break followed by white space is removed, the space stays.
  return raw
    .replace(/\r?\n(?=[ \t])/g, '')
    .split(/\r?\n/)
    .filter((line) => line !== '')
    .map((line) => (line.includes('=?') ? safeDecodeWords(line) : line))
    .join('\n');
}

function walk(buf: Buffer, node: MimeNode, heads: string[], bodies: string[], budget: { left: number }): void {
  if (budget.left <= 0) return;
  if (node.bodyStart > node.start) {
    const head = headerText(buf, node.start, node.bodyStart);
    heads.push(head);
    budget.left -= head.length;
  }
  if (node.children) {
    for (const child of node.children) walk(buf, child, heads, bodies, budget);
    return;
  }
  if (node.message) {
    walk(buf, node.message.node, heads, bodies, budget);
    return;
  }
  if (node.type !== 'text' && node.type !== 'message') return;
  // Decoded once per part: shared with the search text (search-text.ts) and the spam features.
  const text = decodedLines(buf, node, PART_SOURCE_CAP);
  if (!text) return;
  bodies.push(text);
  budget.left -= text.length;
}

/** The folded searchable text of a message (header section, NUL, body section), at most FULLTEXT_CAP bytes. */
export function fulltextText(buf: Buffer, root: MimeNode): Buffer {
  const heads: string[] = [];
  const bodies: string[] = [];
  try {
    walk(buf, root, heads, bodies, { left: FULLTEXT_CAP });
  } catch {
    // Never lose a delivery over search text: at worst the whole message is one body.
    heads.length = 0;
    bodies.splice(0, bodies.length, decodeCharset(buf.subarray(0, PART_SOURCE_CAP), undefined));
  }
  // NUL marks the section break only: one inside the content (an encoded-word can carry it) is a space.
  const clean = (parts: string[]) => foldCase(parts.join('\n')).replaceAll('\0', ' ');
  // Each section encoded into the result: no joined copy of the body's text is built (issue 17). NUL
  // between them, so no surrogate pair spans the two and the bytes are those of the joined text.
  const head = clean(heads);
  const body = clean(bodies);
  const headLength = Buffer.byteLength(head, 'utf8');
  const out = Buffer.allocUnsafe(headLength + 1 + Buffer.byteLength(body, 'utf8'));
  out.write(head, 0, 'utf8');
  out[headLength] = SECTION_BREAK;
  out.write(body, headLength + 1, 'utf8');
  if (out.length <= FULLTEXT_CAP) return out;
  // Cut on a character boundary (a UTF-8 continuation byte is 10xxxxxx).
  let end = FULLTEXT_CAP;
  while (end > 0 && (out[end]! & 0xc0) === 0x80) end--;
  const cut = out.subarray(0, end);
  return cut.includes(SECTION_BREAK) ? cut : Buffer.concat([cut, Buffer.from([SECTION_BREAK])]);
}

/** Whether folded `needle` occurs in the stored text: anywhere (TEXT) or in the body section (BODY). */
export function fulltextMatch(text: Buffer, needle: Buffer, bodyOnly: boolean): boolean {
  if (needle.length === 0) return true;
  const body = text.indexOf(SECTION_BREAK);
  if (bodyOnly) return body >= 0 && text.indexOf(needle, body + 1) !== -1;
  return text.indexOf(needle) !== -1;
}
