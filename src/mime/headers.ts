// Header blocks are read straight from the Buffer so that every offset is an exact byte position,
// whatever the line endings or 8-bit content; only field values are turned into strings.
import { messageCache } from './message-caches.ts';
import { decodeUtf8Lenient } from './utf8.ts';

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Unfolded value with surrounding whitespace trimmed; 8-bit bytes read as UTF-8 (Windows-1252 where invalid). */
  value: string;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** First byte after the blank line that ends the block (== end when there is none). */
  bodyStart: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;

// Past this many fields a block is only scanned for its end: nothing useful hides in field 10,001,
// and keeping them would let one message hold a lot of memory.
export const MAX_FIELDS = 10_000;

/** Bytes of a header value to a string: ASCII as is, 8-bit as UTF-8 with a Windows-1252 fallback per byte. */
export function decodeHeaderBytes(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) return decodeUtf8Lenient(buf.subarray(start, end));
  }
  return buf.toString('latin1', start, end);
}

/** Reads the header block that starts at `start`; it ends at the first empty line or at `end`. */
export function readHeader(buf: Buffer, start: number, end: number): HeaderBlock {
  // A view bounded by `end`, so that searching for a line break never scans past this part.
  const view = buf.subarray(0, end);
  const fields: HeaderField[] = [];
  let fieldStart = -1;
  let fieldEnd = -1;
  let pos = start;
  while (pos < end) {
    const nl = view.indexOf(LF, pos);
    const lineEnd = nl === -1 ? end : nl;
    const next = nl === -1 ? end : nl + 1;
    let contentEnd = lineEnd;
    if (contentEnd > pos && buf[contentEnd - 1] === CR) contentEnd--;
    if (contentEnd === pos) {
      if (fieldStart >= 0 && fields.length < MAX_FIELDS) addField(buf, fieldStart, fieldEnd, fields);
      return { fields, bodyStart: next };
    }
    if (fields.length >= MAX_FIELDS) return { fields, bodyStart: skipToBlankLine(view, pos, end) };
    const first = buf[pos];
    if (first === SP || first === TAB) {
      if (fieldStart >= 0) fieldEnd = contentEnd; // continuation line
    } else {
      if (fieldStart >= 0 && fields.length < MAX_FIELDS) addField(buf, fieldStart, fieldEnd, fields);
      fieldStart = pos;
      fieldEnd = contentEnd;
    }
    pos = next;
  }
  if (fieldStart >= 0 && fields.length < MAX_FIELDS) addField(buf, fieldStart, fieldEnd, fields);
  return { fields, bodyStart: end };
}

// A message's own header block is read by its index, by the fields the pipeline and the API parse, and by
// the spam tokenizer: once per Buffer (issue 18: the three reads were 8% of a classification's allocation).
const messageHeaders = messageCache<HeaderBlock>();

/** readHeader(buf, 0, buf.length), read once per Buffer: the block is shared, its fields not to be changed. */
export function messageHeader(buf: Buffer): HeaderBlock {
  let block = messageHeaders.get(buf);
  if (!block) {
    block = readHeader(buf, 0, buf.length);
    messageHeaders.set(buf, block);
  }
  return block;
}

/** End of a header block found without looking at its lines: just after the first empty line. */
function skipToBlankLine(view: Buffer, pos: number, end: number): number {
  // pos is at the start of a line, so a blank line there counts as well
  if (view[pos] === LF) return pos + 1;
  if (view[pos] === CR && view[pos + 1] === LF) return pos + 2;
  const a = view.indexOf('\n\n', pos);
  const b = view.indexOf('\n\r\n', pos);
  if (a === -1 && b === -1) return end;
  return a !== -1 && (b === -1 || a < b) ? a + 2 : b + 3;
}

function addField(buf: Buffer, start: number, end: number, out: HeaderField[]): void {
  let colon = -1;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === COLON) {
      colon = i;
      break;
    }
    if (c === CR || c === LF) return; // no colon on the first line: not a field (mbox "From " line, junk)
  }
  if (colon <= start) return;
  let nameEnd = colon;
  while (nameEnd > start && (buf[nameEnd - 1] === SP || buf[nameEnd - 1] === TAB)) nameEnd--;
  for (let i = start; i < nameEnd; i++) {
    const c = buf[i]!;
    if (c <= SP || c >= 0x7f) return;
  }
  if (nameEnd === start) return;
  const name = buf.toString('latin1', start, nameEnd).toLowerCase();
  out.push({ name, value: unfold(decodeHeaderBytes(buf, colon + 1, end)) });
}

/** RFC 5322 unfolding: drop the line breaks, keep the whitespace that follows them. */
export function unfold(value: string): string {
  const unfolded = value.includes('\n') || value.includes('\r') ? value.replace(/[\r\n]+/g, '') : value;
  return trimWsp(unfolded);
}

/** Trims spaces and tabs; by hand, as /[ \t]+$/ is quadratic on long inner runs of blanks. */
export function trimWsp(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === SP || s.charCodeAt(a) === TAB)) a++;
  while (b > a && (s.charCodeAt(b - 1) === SP || s.charCodeAt(b - 1) === TAB)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The first field with this (lower-case) name, or null. Duplicates: the first one wins. */
export function firstField(fields: HeaderField[], name: string): string | null {
  for (const f of fields) if (f.name === name) return f.value;
  return null;
}
