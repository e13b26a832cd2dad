// The message's MIME parts as the features read them: its HTML bodies, attachments, quoted-printable lines, a
// forwarded message, a signature.
import { decodedPart } from '../../mime/decode.ts';
import { isAttachment, safeDecodeWords } from '../../mime/search-text.ts';
import type { MimeNode } from '../../mime/types.ts';

/** The most of an HTML body a classification reads (the tokenizer too, so the body is decoded once). */
export const MAX_HTML = 512 * 1024;

export interface Parts {
  /** Decoded HTML of every inline text/html part. */
  html: string[];
  /** A quoted-printable part has a line its encoder should have broken. */
  qpLongLine: boolean;
  /** Leaf parts shown as attachments, also inside attached messages, with their lower-cased file names. */
  attachments: { node: MimeNode; filename: string; type: string }[];
  /** A message/rfc822 part anywhere in the tree: a forward. */
  carriesMessage: boolean;
  /** A multipart/signed part (S/MIME or OpenPGP, RFC 1847): its writer holds a key of their own. */
  signed: boolean;
}

export function mimeParts(raw: Buffer, node: MimeNode, out: Parts, depth = 0): void {
  if (depth > 8) return;
  if (node.children) {
    if (node.subtype === 'signed') out.signed = true;
    for (const child of node.children) mimeParts(raw, child, out, depth + 1);
  } else if (node.message) {
    out.carriesMessage = true;
    mimeParts(raw, node.message.node, out, depth + 1);
  } else {
    if (!out.qpLongLine && node.encoding === 'quoted-printable') out.qpLongLine = longLine(raw, node);
    // HTML shown as the message's text, even with a file name (a weather alert's "forecast.htm", trec07p ham),
    // is the body; HTML to save and open is a page.
    if (node.type === 'text' && node.subtype === 'html' && node.disposition?.type !== 'attachment')
      out.html.push(decodedPart(raw, node, MAX_HTML));
    else if (isAttachment(node)) {
      const name = node.disposition?.params.filename ?? node.params.name ?? '';
      out.attachments.push({
        node,
        filename: safeDecodeWords(name).toLowerCase(),
        type: `${node.type}/${node.subtype}`,
      });
    }
  }
}

// RFC 2045 §6.7 (5): encoded lines are at most 76 characters; every mail program's encoder keeps to it, and
// bulk mailers writing their own do not (SpamAssassin's public corpus: 4% of spam; trec07p: 15%).
const QP_LINE = 76;
const QP_SCAN = 64 * 1024;

function longLine(raw: Buffer, node: MimeNode): boolean {
  const end = Math.min(node.end, node.bodyStart + QP_SCAN);
  let start = node.bodyStart;
  for (let at = raw.indexOf(10, start); at >= 0 && at < end; at = raw.indexOf(10, start)) {
    if (at - start - (raw[at - 1] === 13 ? 1 : 0) > QP_LINE) return true;
    start = at + 1;
  }
  return end === node.end && end - start > QP_LINE;
}
