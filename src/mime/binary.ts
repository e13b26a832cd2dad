// Content-Transfer-Encoding: binary parts (what APPEND with a literal8 brings, RFC 3516) rewritten
// as base64 before the message is stored, as Dovecot does: BODY[] then never carries NULs or bare
// line breaks (RFC 3501 literals are CHAR8, no NUL), and BINARY[] still decodes the original octets.
import { decodeTransfer } from './decode.ts';
import { countLines, parseMessage } from './parts.ts';
import type { MimeNode } from './types.ts';

function binaryLeaves(node: MimeNode, out: MimeNode[]): MimeNode[] {
  if (node.children) for (const child of node.children) binaryLeaves(child, out);
  else if (node.message) binaryLeaves(node.message.node, out);
  else if (node.encoding.toLowerCase() === 'binary') out.push(node);
  return out;
}

const CTE = /^(content-transfer-encoding[ \t]*:)[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*/im;

/** The message with every binary leaf part base64-encoded; the same Buffer when there is none. */
export function binaryPartsToBase64(raw: Buffer): Buffer {
  const leaves = binaryLeaves(parseMessage(raw).node, []);
  if (!leaves.length) return raw;
  const pieces: Buffer[] = [];
  let pos = raw.length;
  for (const leaf of leaves.sort((a, b) => b.start - a.start)) {
    const header = raw.subarray(leaf.start, leaf.bodyStart).toString('latin1').replace(CTE, '$1 base64');
    const encoded = raw
      .subarray(leaf.bodyStart, leaf.end)
      .toString('base64')
      .replace(/.{76}(?=.)/g, '$&\r\n');
    pieces.unshift(
      Buffer.from(header, 'latin1'),
      Buffer.from(encoded + (leaf.end === raw.length ? '\r\n' : '')),
      raw.subarray(leaf.end, pos),
    );
    pos = leaf.start;
  }
  pieces.unshift(raw.subarray(0, pos));
  return Buffer.concat(pieces);
}

function encodedLeaves(node: MimeNode, out: MimeNode[]): MimeNode[] {
  if (node.children) for (const child of node.children) encodedLeaves(child, out);
  else if (node.message) encodedLeaves(node.message.node, out);
  else if (['base64', 'quoted-printable'].includes(node.encoding.trim().toLowerCase())) out.push(node);
  return out;
}

/**
 * An entity (a message/rfc822 part's embedded message: `node` with offsets into `raw`) with every
 * base64 and quoted-printable leaf decoded and relabelled binary, as Dovecot's BINARY and
 * URLAUTH=BINARY (RFC 5524) give a message part.
 */
export function decodeLeaves(raw: Buffer, node: MimeNode, end: number): Buffer {
  const pieces: Buffer[] = [];
  let pos = end;
  for (const leaf of encodedLeaves(node, []).sort((a, b) => b.start - a.start)) {
    const header = raw.subarray(leaf.start, leaf.bodyStart).toString('latin1').replace(CTE, '$1 binary');
    const body = decodeTransfer(raw.subarray(leaf.bodyStart, leaf.end), leaf.encoding.trim().toLowerCase());
    pieces.unshift(Buffer.from(header, 'latin1'), body, raw.subarray(leaf.end, pos));
    pos = leaf.start;
  }
  pieces.unshift(raw.subarray(node.start, pos));
  return Buffer.concat(pieces);
}

/**
 * A part's structure as its decoded (BINARY) content has it, for URLFETCH BODYPARTSTRUCTURE asked
 * together with BINARY (RFC 5524 4), as Dovecot gives it: sizes and line counts are the decoded
 * octets', the transfer encodings those stored.
 */
export function decodedStructure(node: MimeNode, decoded: Buffer): MimeNode {
  const out: MimeNode = { ...node, size: decoded.length, lines: countLines(decoded, 0, decoded.length) };
  if (node.message)
    out.message = {
      envelope: node.message.envelope,
      node: keepEncodings(parseMessage(decoded).node, node.message.node),
    };
  return out;
}

function keepEncodings(decoded: MimeNode, original: MimeNode): MimeNode {
  const out: MimeNode = { ...decoded, encoding: original.encoding };
  if (decoded.children && original.children)
    out.children = decoded.children.map((c, i) =>
      original.children![i] ? keepEncodings(c, original.children![i]!) : c,
    );
  if (decoded.message && original.message)
    out.message = { ...decoded.message, node: keepEncodings(decoded.message.node, original.message.node) };
  return out;
}
