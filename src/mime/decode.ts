// Body decoding for the search text: transfer encodings, then charsets. Synchronous on purpose
// (indexMessage is), and lenient: broken input decodes to something rather than throwing.
import { isAscii } from 'node:buffer';
import charsets from 'libmime/lib/charset.js';
import { messageCache } from './message-caches.ts';
import { transferCoding } from './mime-fields.ts';
import type { MimeNode } from './types.ts';
import { decodeUtf8Lenient } from './utf8.ts';

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

const isBlank = (c: number | undefined): boolean => c === 0x20 || c === 0x09;
const lineEndsAt = (input: Buffer, j: number): boolean =>
  j >= input.length || input[j] === 0x0a || (input[j] === 0x0d && input[j + 1] === 0x0a);

/**
 * Quoted-printable, keeping stray "=" that start no valid escape (as most decoders do). Blanks at
 * the end of a line are dropped: transports may have added them (RFC 2045 6.7 rule 3).
 */
export function decodeQuotedPrintable(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let o = 0;
  const n = input.length;
  for (let i = 0; i < n; i++) {
    const c = input[i]!;
    if (isBlank(c)) {
      let j = i + 1;
      while (isBlank(input[j])) j++;
      if (lineEndsAt(input, j)) {
        i = j - 1;
        continue;
      }
    }
    if (c !== 0x3d) {
      out[o++] = c;
      continue;
    }
    // soft line break: "=" then optional blanks then a line break (or the end)
    let j = i + 1;
    while (isBlank(input[j])) j++;
    if (lineEndsAt(input, j)) {
      i = j >= n ? n : input[j] === 0x0d ? j + 1 : j;
      continue;
    }
    const hi = i + 2 < n ? hex(input[i + 1]!) : -1;
    const lo = hi >= 0 ? hex(input[i + 2]!) : -1;
    if (lo >= 0) {
      out[o++] = (hi << 4) | lo;
      i += 2;
    } else out[o++] = c;
  }
  return out.subarray(0, o);
}

export function decodeTransfer(input: Buffer, encoding: string): Buffer {
  switch (transferCoding(encoding)) {
    case 'base64':
      return Buffer.from(input.toString('latin1'), 'base64');
    case 'quoted-printable':
      return decodeQuotedPrintable(input);
    default:
      return input;
  }
}

function isUtf8Label(charset: string | undefined): boolean {
  const cs = (charset ?? '').trim().toLowerCase();
  return cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8';
}

/**
 * Single-byte charsets whose first 128 code points are ASCII (ISO 8859, Windows code pages, KOI8): bytes
 * that are all ASCII are their own text, which a native check and copy give without iconv-lite's table
 * decoder (a 93 KB ASCII body labelled ISO-8859-1: 0.42 → 0.014 ms). Most mail labelled iso-8859-1 or
 * windows-1252 is plain ASCII (issue 18: the search text and the spam features decode every text part).
 */
const ASCII_BASED = /^(?:iso[-_ ]?8859[-_ ]?\d{1,2}|windows-125\d|cp-?125\d|latin-?\d|koi8-?[ru])$/;

/** Bytes to text. Missing, ASCII or UTF-8 labels: lenient UTF-8 (8-bit "us-ascii" mail is common). */
export function decodeCharset(bytes: Buffer, charset: string | undefined): string {
  if (isUtf8Label(charset)) return decodeUtf8Lenient(bytes);
  if (ASCII_BASED.test((charset ?? '').trim().toLowerCase()) && isAscii(bytes)) return bytes.toString('latin1');
  try {
    return charsets.decode(bytes, (charset ?? '').trim().toLowerCase());
  } catch {
    return decodeUtf8Lenient(bytes);
  }
}

// A message's text parts are read by the search text, the full-text text, the spam features and the spam
// tokenizer, each up to its own cap: decoded once per part (a tenth of a classification's CPU went to
// decoding HTML again; at delivery, a 100 KB plain body was decoded twice, its line breaks normalized
// twice). Kept while both the bytes and the index are; keyed by the bytes too, as a node's offsets mean
// nothing in another Buffer.
interface Decoded {
  sourceEnd: number;
  /** the body bytes read (up to sourceEnd) and their part, decoded when first asked for */
  body: Buffer;
  node: MimeNode;
  text?: string;
  /** text with line breaks as LF */
  lf?: string;
}
const decodedParts = messageCache<WeakMap<MimeNode, Decoded>>();

// Nodes of an index shifted past prepended fields (indexPrepended), to the node and Buffer they were
// shifted from: their bodies are the same bytes, so they share that node's decoded text.
const origins = new WeakMap<MimeNode, { buf: Buffer; node: MimeNode }>();

/** `node` (of another Buffer) has the same body bytes as `orig` has in `buf`. */
export function sameBodyAs(node: MimeNode, buf: Buffer, orig: MimeNode): void {
  origins.set(node, { buf, node: orig });
}

function entry(buf: Buffer, node: MimeNode, cap: number): Decoded {
  const origin = origins.get(node);
  if (origin) {
    buf = origin.buf;
    node = origin.node;
  }
  const sourceEnd = Math.min(node.end, node.bodyStart + cap);
  let parts = decodedParts.get(buf);
  const known = parts?.get(node);
  if (known?.sourceEnd === sourceEnd) return known;
  if (!parts) decodedParts.set(buf, (parts = new WeakMap()));
  const made: Decoded = { sourceEnd, body: buf.subarray(node.bodyStart, sourceEnd), node };
  parts.set(node, made);
  return made;
}

/**
 * The text of a leaf part, transfer encoding and charset decoded, from at most `cap` bytes of its body.
 * Remembered for the next reader whose cap cuts the body at the same place (every cap, for a body
 * shorter than the smallest), so each reader gets exactly what decoding its own slice would give.
 */
export function decodedPart(buf: Buffer, node: MimeNode, cap: number): string {
  const known = entry(buf, node, cap);
  known.text ??= decodeCharset(decodeTransfer(known.body, known.node.encoding), known.node.params.charset);
  return known.text;
}

/** decodedPart with every CRLF and lone CR as LF, remembered the same way. */
export function decodedLines(buf: Buffer, node: MimeNode, cap: number): string {
  const known = entry(buf, node, cap);
  known.lf ??= known.text === undefined ? linesOf(known) : known.text.replace(/\r\n?/g, '\n');
  return known.lf;
}

function linesOf({ body, node }: Decoded): string {
  const bytes = decodeTransfer(body, node.encoding);
  const charset = node.params.charset;
  if (!isUtf8Label(charset)) return decodeCharset(bytes, charset).replace(/\r\n?/g, '\n');
  // Line breaks made LF in the bytes, not in the text: CR and LF are ASCII, never inside a UTF-8
  // sequence nor a Windows-1252 stray byte, so the text is the same, and it is built once and flat
  // (replacing in a 100 KB string built it twice, then once more to flatten it, issue 17).
  return decodeUtf8Lenient(lfBytes(bytes, overlap(bytes, body) ? null : bytes));
}

/** Whether two Buffers share memory: the message's own bytes are never written. */
const overlap = (a: Buffer, b: Buffer) =>
  a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;

/** Kept between calls for the bytes of one part at a time (decoded to a string straight away). */
let scratch = Buffer.alloc(0);
const SCRATCH_MAX = 1024 * 1024;

/** `bytes` with CRLF and lone CR as LF: into `into` (`bytes` itself: in place) or a scratch Buffer. */
function lfBytes(bytes: Buffer, into: Buffer | null): Buffer {
  let cr = bytes.indexOf(0x0d);
  if (cr < 0) return bytes;
  let out = into;
  if (!out) {
    if (bytes.length > SCRATCH_MAX) out = Buffer.allocUnsafe(bytes.length);
    else {
      if (scratch.length < bytes.length) scratch = Buffer.allocUnsafeSlow(Math.min(SCRATCH_MAX, 2 * bytes.length));
      out = scratch;
    }
  }
  let at = 0;
  let from = 0;
  while (cr >= 0) {
    at += bytes.copy(out, at, from, cr);
    // CRLF: the LF is copied with the next run; a lone CR becomes LF
    if (bytes[cr + 1] !== 0x0a) out[at++] = 0x0a;
    from = cr + 1;
    cr = bytes.indexOf(0x0d, from);
  }
  at += bytes.copy(out, at, from);
  return out.subarray(0, at);
}
