// The body text SEARCH BODY/TEXT and the full-text index work on, and the attachment list.
// Only a bounded prefix of each part is decoded: the text is capped anyway, and a 50 MB
// attachment must not cost 50 MB of strings at delivery.
import libmime from 'libmime';
import { MISSING_DOMAIN, MISSING_MAILBOX } from './addresses.ts';
import { decodedLines, decodedPart } from './decode.ts';
import { htmlToText, tidy } from './html-text.ts';
import { transferCoding } from './mime-fields.ts';
import type { Address, AttachmentInfo, MimeNode } from './types.ts';

export const TEXT_CAP = 256 * 1024;
const HTML_SOURCE_CAP = 4 * 1024 * 1024;

interface Acc {
  parts: string[];
  length: number;
}

export function safeDecodeWords(s: string | null | undefined): string {
  if (!s) return '';
  try {
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

/** "name <mailbox@host>, ..." with names decoded, group members inside "group: ...;". */
export function addressText(list: Address[] | null): string {
  if (!list) return '';
  const out: string[] = [];
  let group: string[] | null = null;
  let groupName = '';
  for (const a of list) {
    if (a.host === null && a.mailbox !== null) {
      group = [];
      groupName = safeDecodeWords(a.mailbox);
      continue;
    }
    if (a.host === null && a.mailbox === null) {
      if (group) out.push(`${groupName}: ${group.join(', ')};`);
      group = null;
      continue;
    }
    // The ENVELOPE's placeholders for a missing part are not words anyone searches for.
    const local = a.mailbox === MISSING_MAILBOX ? '' : (a.mailbox ?? '');
    const addr = a.host === MISSING_DOMAIN ? local : local && `${local}@${a.host ?? ''}`;
    const name = safeDecodeWords(a.name);
    const text = name && addr ? `${name} <${addr}>` : name || addr;
    if (text) (group ?? out).push(text);
  }
  if (group) out.push(`${groupName}: ${group.join(', ')};`);
  return out.join(', ');
}

function pickAlternative(children: MimeNode[]): MimeNode {
  // Plain text first: it is what the sender wrote, and HTML to text loses more than it keeps.
  return (
    children.find((c) => c.type === 'text' && c.subtype === 'plain' && c.disposition?.type !== 'attachment') ??
    children.find((c) => c.children !== undefined) ??
    children.find((c) => c.type === 'text' && c.subtype === 'html') ??
    children[children.length - 1]!
  );
}

function collect(buf: Buffer, node: MimeNode, acc: Acc): void {
  if (acc.length >= TEXT_CAP) return;
  if (node.children) {
    if (node.subtype === 'alternative' && node.children.length > 0) collect(buf, pickAlternative(node.children), acc);
    else for (const child of node.children) collect(buf, child, acc);
    return;
  }
  if (node.message) {
    const env = node.message.envelope;
    const head = [safeDecodeWords(env.subject), addressText(env.from), addressText(env.to)].filter(Boolean).join('\n');
    if (head) push(acc, head);
    collect(buf, node.message.node, acc);
    return;
  }
  if (node.type !== 'text') return;
  const html = node.subtype === 'html';
  const budget = TEXT_CAP - acc.length;
  // Decoded once per part (decode.ts): HTML is shared with the spam features and tokenizer, plain text
  // with the full-text text (fulltext-text.ts), each for a body shorter than both caps.
  let text: string;
  if (html) {
    text = htmlToText(decodedPart(buf, node, HTML_SOURCE_CAP), budget);
  } else {
    text = decodedLines(buf, node, budget * 4 + 1024);
    if (node.subtype === 'plain' && node.params.format?.toLowerCase() === 'flowed') {
      text = libmime.decodeFlowed(text, node.params.delsp?.toLowerCase() === 'yes');
    }
    text = tidy(text);
  }
  if (text) push(acc, text);
}

function push(acc: Acc, text: string): void {
  acc.parts.push(text);
  acc.length += text.length + 2;
}

/** Decoded body text, at most TEXT_CAP bytes of UTF-8. */
export function extractText(buf: Buffer, root: MimeNode): string {
  const acc: Acc = { parts: [], length: 0 };
  collect(buf, root, acc);
  const text = acc.parts.join('\n\n');
  if (Buffer.byteLength(text, 'utf8') <= TEXT_CAP) return text;
  // Cut on a character boundary: drop the U+FFFD a split multi-byte character decodes to.
  return Buffer.from(text, 'utf8')
    .subarray(0, TEXT_CAP)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** Decoded size of a base64 body, estimated from its size and line count (line breaks excluded). */
function base64Size(buf: Buffer, node: MimeNode): number {
  const firstLf = buf.indexOf(0x0a, node.bodyStart);
  const crlf = firstLf > node.bodyStart && firstLf < node.end && buf[firstLf - 1] === 0x0d;
  let chars = node.size - node.lines * (crlf ? 2 : 1);
  for (let i = node.end - 1, k = 0; i >= node.bodyStart && k < 6; i--, k++) {
    const c = buf[i];
    if (c === 0x3d)
      chars--; // padding
    else if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) break;
  }
  return Math.max(0, Math.floor((chars * 3) / 4));
}

/** A leaf part shown as an attachment rather than as the message's text. */
export function isAttachment(node: MimeNode): boolean {
  if (node.disposition?.type === 'attachment') return true;
  if (node.disposition?.params.filename !== undefined || node.params.name !== undefined) return true;
  return node.type !== 'text';
}

/** Leaf parts that are attachments; an attached message counts as one, its own parts do not. */
export function listAttachments(buf: Buffer, node: MimeNode, out: AttachmentInfo[] = []): AttachmentInfo[] {
  if (node.children) {
    for (const child of node.children) listAttachments(buf, child, out);
    return out;
  }
  if (!isAttachment(node)) return out;
  const name = node.disposition?.params.filename ?? node.params.name;
  out.push({
    filename: name === undefined || name === '' ? null : safeDecodeWords(name),
    contentType: `${node.type}/${node.subtype}`,
    size: transferCoding(node.encoding) === 'base64' ? base64Size(buf, node) : node.size,
  });
  return out;
}
