// The MIME tree with byte offsets. Boundaries are found top-down on the raw Buffer: a parent's
// delimiters fix its parts' ranges before the parts are looked into, so a child that never closes
// its own boundary still ends where the parent's next delimiter begins.
import { buildEnvelope } from './envelope.ts';
import { messageHeader, readHeader, type HeaderField } from './headers.ts';
import { readMimeFields } from './mime-fields.ts';
import type { MimeNode } from './types.ts';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const DASH = 0x2d;

// Nesting and part-count limits keep hostile input from exhausting the stack or the index size.
// Both are far above anything real mail does (Dovecot's parser stops at 100 levels, 10,000 parts).
const MAX_DEPTH = 64;
const MAX_NODES = 10_000;

interface Context {
  buf: Buffer;
  nodes: number;
}

export interface ParsedEntity {
  node: MimeNode;
  /** Header fields of the entity, for the ENVELOPE and search fields of a message. */
  fields: HeaderField[];
}

/** Parses the message (or embedded message) in buf[start, end). */
export function parseMessage(buf: Buffer, start = 0, end = buf.length): ParsedEntity {
  return parseEntity({ buf, nodes: 0 }, start, end, 0, false);
}

function parseEntity(ctx: Context, start: number, end: number, depth: number, digest: boolean): ParsedEntity {
  ctx.nodes++;
  const { buf } = ctx;
  const { fields, bodyStart } = start === 0 && end === buf.length ? messageHeader(buf) : readHeader(buf, start, end);
  const mf = readMimeFields(fields, digest);
  const node: MimeNode = {
    start,
    bodyStart,
    end,
    type: mf.type,
    subtype: mf.subtype,
    params: mf.params,
    id: mf.id,
    description: mf.description,
    encoding: mf.encoding,
    disposition: mf.disposition,
    language: mf.language,
    location: mf.location,
    md5: mf.md5,
    size: end - bodyStart,
    lines: 0, // below: from the parts' own counts where it has parts
  };
  const tooDeep = depth >= MAX_DEPTH || ctx.nodes >= MAX_NODES;
  let inside: MimeNode[] = [];
  if (node.type === 'multipart') {
    const children = tooDeep ? [] : parseMultipart(ctx, node, depth);
    if (children.length > 0) {
      node.children = inside = children;
    } else {
      // No boundary, or none found: BODYSTRUCTURE cannot describe a multipart without parts
      // (Dovecot invents an empty text part), and as text the client can at least show the bytes.
      node.type = 'text';
      node.subtype = 'plain';
      node.params = node.params.charset ? { charset: node.params.charset } : {};
    }
  } else if (node.type === 'message' && (node.subtype === 'rfc822' || node.subtype === 'global')) {
    if (tooDeep) {
      node.type = 'application';
      node.subtype = 'octet-stream';
    } else {
      const inner = parseEntity(ctx, bodyStart, end, depth + 1, false);
      node.message = { envelope: buildEnvelope(inner.fields), node: inner.node };
      inside = [inner.node];
    }
  }
  node.lines = linesAround(buf, bodyStart, end, inside);
  return { node, fields };
}

/**
 * The lines of buf[start, end), whose `parts` (in order, within it) have counted their bodies' lines already:
 * only their headers and what lies between them are read (a multipart's body was read once for itself and once
 * for each level of parts within it: the 100 KB HTML newsletters that are the classify path's slowest mail,
 * issue 18).
 */
function linesAround(buf: Buffer, start: number, end: number, parts: MimeNode[]): number {
  let lines = 0;
  let at = start;
  for (const part of parts) {
    lines += countLines(buf, at, part.bodyStart) + part.lines;
    at = part.end;
  }
  return lines + countLines(buf, at, end);
}

function parseMultipart(ctx: Context, node: MimeNode, depth: number): MimeNode[] {
  const boundary = node.params.boundary;
  if (!boundary) return [];
  const body = ctx.buf.subarray(node.bodyStart, node.end);
  const limit = MAX_NODES - ctx.nodes + 1;
  let delimiters = findDelimiters(body, Buffer.from(`--${boundary}`, 'utf8'), limit);
  // A header read as Windows-1252 gave a boundary whose bytes are Latin-1, not UTF-8.
  if (delimiters.length === 0 && /[^\x00-\x7f]/.test(boundary)) {
    delimiters = findDelimiters(body, Buffer.from(`--${boundary}`, 'latin1'), limit);
  }
  const digest = node.subtype === 'digest';
  const children: MimeNode[] = [];
  for (let i = 0; i < delimiters.length; i++) {
    const d = delimiters[i]!;
    if (d.close || ctx.nodes >= MAX_NODES) break;
    const start = d.next;
    let end = body.length;
    const following = delimiters[i + 1];
    if (following) {
      // The line break before a delimiter belongs to the delimiter (RFC 2046 section 5.1.1).
      end = following.lineStart;
      if (end > start && body[end - 1] === LF) {
        end--;
        if (end > start && body[end - 1] === CR) end--;
      }
    }
    children.push(parseEntity(ctx, node.bodyStart + start, node.bodyStart + end, depth + 1, digest).node);
  }
  return children;
}

interface Delimiter {
  /** Offset of the "--" that starts the delimiter line. */
  lineStart: number;
  /** Offset just after the delimiter line's line break. */
  next: number;
  close: boolean;
}

/** Delimiter lines of `dash` ("--" + boundary) in body, up to the close delimiter or `limit` of them. */
function findDelimiters(body: Buffer, dash: Buffer, limit: number): Delimiter[] {
  const out: Delimiter[] = [];
  const len = body.length;
  let pos = 0;
  while (out.length < limit) {
    const idx = body.indexOf(dash, pos);
    if (idx === -1) break;
    pos = idx + 1;
    if (idx > 0 && body[idx - 1] !== LF) continue;
    let j = idx + dash.length;
    let close = false;
    if (body[j] === DASH && body[j + 1] === DASH) {
      close = true;
      j += 2;
    }
    while (j < len && (body[j] === SP || body[j] === TAB)) j++; // transport padding
    if (j < len) {
      if (body[j] === LF) j++;
      else if (body[j] === CR && (j + 1 === len || body[j + 1] === LF)) j = Math.min(j + 2, len);
      else continue; // "--boundary" followed by more text is not a delimiter
    }
    out.push({ lineStart: idx, next: j, close });
    if (close) break;
    pos = j;
  }
  return out;
}

/** LF count in buf[start, end). A plain loop: 3x faster than indexOf calls on 76-column base64. */
/** A bare text/plain body over `end` bytes: what a message that cannot be parsed, or an empty multipart, stands for. */
export function plainTextNode(end: number, lines: number): MimeNode {
  return {
    start: 0,
    bodyStart: 0,
    end,
    type: 'text',
    subtype: 'plain',
    params: {},
    id: null,
    description: null,
    encoding: '7BIT',
    disposition: null,
    language: null,
    location: null,
    md5: null,
    size: end,
    lines,
  };
}

export function countLines(buf: Buffer, start: number, end: number): number {
  // indexOf searches natively, several times faster than a byte loop over the usual long lines (issue
  // 17); past a run of short ones (blank lines), one call per line costs more and the loop takes over.
  let n = 0;
  let short = 0;
  let i = start;
  while (i < end) {
    const lf = buf.indexOf(LF, i);
    if (lf === -1 || lf >= end) return n;
    n++;
    const length = lf - i;
    i = lf + 1;
    if (length < 16 && ++short > 64) break;
  }
  for (let j = i; j < end; j++) if (buf[j] === LF) n++;
  return n;
}
