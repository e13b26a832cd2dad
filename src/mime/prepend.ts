// The index of a message with header fields prepended, derived from the index of the message without
// them instead of parsing it again: the inbound pipeline parses the message once for spam scoring,
// then prepends its trace fields (Received, Authentication-Results, X-Spam-*) before storing it.
// Prepended complete fields change no part's structure, only every offset (by their length) and the
// all-headers search text; when anything could make the parse differ, the message is parsed again.
import { sameBodyAs } from './decode.ts';
import { MAX_FIELDS, readHeader } from './headers.ts';
import { indexMessage } from './index.ts';
import { HEADER_TEXT_MAX, headerSearchText } from './search-fields.ts';
import type { MessageIndex, MimeNode } from './types.ts';

// The fields the index reads (envelope, MIME fields, references): a prepended one would change it.
const READ_FIELDS = new Set([
  'date',
  'subject',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'in-reply-to',
  'message-id',
  'references',
]);
const LF = 0x0a;
const SP = 0x20;
const TAB = 0x09;

function shift(node: MimeNode, by: number, top: boolean, from: Buffer | undefined): MimeNode {
  const out: MimeNode = {
    ...node,
    start: top ? 0 : node.start + by,
    bodyStart: node.bodyStart + by,
    end: node.end + by,
  };
  if (from) sameBodyAs(out, from, node);
  if (node.children) out.children = node.children.map((c) => shift(c, by, false, from));
  if (node.message) out.message = { envelope: node.message.envelope, node: shift(node.message.node, by, false, from) };
  return out;
}

/**
 * The index of `raw`, given `rest`, the index of raw.subarray(prefixLength): equal to
 * indexMessage(raw) (test/unit/mime-prepend.test.ts checks it over every fixture). Given `restBuf`,
 * the Buffer `rest` indexes, the parts share the text decoded from it (decodedPart), such as the
 * spam stage's search text decoded, with the full-text text the store builds from the result.
 */
export function indexPrepended(raw: Buffer, prefixLength: number, rest: MessageIndex, restBuf?: Buffer): MessageIndex {
  if (prefixLength === 0) return rest;
  const prefix = readHeader(raw, 0, prefixLength);
  const first = raw[prefixLength];
  const shiftable =
    // complete fields, no blank line among them (it would end the header there)
    !/(^|\n)\r?\n/.test(raw.toString('latin1', 0, prefixLength)) &&
    raw[prefixLength - 1] === LF &&
    raw[0] !== SP &&
    raw[0] !== TAB &&
    // a continuation line at the start of the rest would fold into the last prepended field
    first !== SP &&
    first !== TAB &&
    // 0: the rest was empty or could not be parsed (indexMessage's fallback)
    rest.headerSize > 0 &&
    // headers.ts keeps at most MAX_FIELDS fields; every field is at least 3 bytes ("a:\n"), so a
    // block this small holds too few for the prepended ones to push any out of the count
    rest.headerSize < 3 * (MAX_FIELDS - prefix.fields.length) &&
    rest.size === raw.length - prefixLength &&
    // absent: building the search fields failed, and would again
    rest.search.headers !== undefined &&
    !prefix.fields.some((f) => READ_FIELDS.has(f.name) || f.name.startsWith('content-'));
  if (!shiftable) return indexMessage(raw);
  const ownText = headerSearchText(prefix.fields);
  // The same bytes: the same memory (prependFields wrote into the room before them), or compared.
  const same =
    restBuf !== undefined &&
    restBuf.length === rest.size &&
    ((restBuf.buffer === raw.buffer && restBuf.byteOffset === raw.byteOffset + prefixLength) ||
      restBuf.equals(raw.subarray(prefixLength)));
  return {
    ...rest,
    size: raw.length,
    headerSize: rest.headerSize + prefixLength,
    root: shift(rest.root, prefixLength, true, same ? restBuf : undefined),
    // lower-casing "a\nb" is lower-casing a and b apart: a line break ends every case context
    search: {
      ...rest.search,
      headers: rest.search.headers ? `${ownText}\n${rest.search.headers}`.slice(0, HEADER_TEXT_MAX) : ownText,
    },
  };
}

/** Buffers with bytes free before them (bytes), from withRoomBefore; each room is used once. */
const rooms = new WeakMap<Buffer, number>();

/**
 * A Buffer of `length` bytes with `room` free bytes before it in the same memory, for header fields
 * prependFields() may write there later: the inbound pipeline prepends its trace fields to every
 * message it stores, and copying a whole 100 KB message for that was one of its copies too many.
 */
export function withRoomBefore(length: number, room: number): Buffer {
  const buf = Buffer.allocUnsafe(room + length).subarray(room);
  rooms.set(buf, room);
  return buf;
}

/**
 * `fields` (UTF-8) followed by the bytes of `raw`, as one Buffer. Written into the free bytes before
 * `raw` (withRoomBefore) when they are enough, so `raw` itself is not copied; otherwise a new Buffer.
 * The room is then spent: a second call for the same `raw` copies (it would overwrite the first's
 * fields, which the first result still shows). `raw`'s own bytes are never written.
 */
export function prependFields(fields: string, raw: Buffer): Buffer {
  const length = Buffer.byteLength(fields, 'utf8');
  const room = rooms.get(raw);
  if (room === undefined || room < length) return Buffer.concat([Buffer.from(fields, 'utf8'), raw]);
  rooms.delete(raw);
  const out = Buffer.from(raw.buffer, raw.byteOffset - length, length + raw.length);
  out.write(fields, 0, length, 'utf8');
  return out;
}
