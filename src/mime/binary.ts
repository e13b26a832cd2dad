// Content-Transfer-Encoding: binary parts (what APPEND with a literal8 brings, RFC 3516) rewritten
// as base64 before the message is stored, as Dovecot does: BODY[] then never carries NULs or bare
// line breaks (RFC 3501 literals are CHAR8, no NUL), and BINARY[] still decodes the original octets.
import { parseMessage } from './parts.ts';
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
    const encoded = raw.subarray(leaf.bodyStart, leaf.end).toString('base64').replace(/.{76}(?=.)/g, '$&\r\n');
    pieces.unshift(Buffer.from(header, 'latin1'), Buffer.from(encoded + (leaf.end === raw.length ? '\r\n' : '')), raw.subarray(leaf.end, pos));
    pos = leaf.start;
  }
  pieces.unshift(raw.subarray(0, pos));
  return Buffer.concat(pieces);
}
