// BODY / BODYSTRUCTURE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) from the stored tree.
// Upper-case type, subtype, parameter names and disposition type, as Dovecot writes them (clients
// compare them without regard to case, RFC 3501 §7.4.2); values as stored; text/* without a
// charset gets ("CHARSET" "us-ascii") as Dovecot adds it.
import { envelopeToImap } from './envelope.ts';
import { imapList, imapParams, imapString } from './imap-syntax.ts';
import { plainTextNode } from './parts.ts';
import type { MimeNode } from './types.ts';

// What Dovecot writes for a multipart that has no parts: the grammar needs at least one body.
const EMPTY_PART: MimeNode = plainTextNode(0, 0);

function disposition(node: MimeNode): string {
  if (!node.disposition) return 'NIL';
  return `(${imapString(node.disposition.type.toUpperCase())} ${imapParams(nonEmpty(node.disposition.params))})`;
}

function language(node: MimeNode): string {
  return node.language ? imapList(node.language.map((l) => imapString(l))) : 'NIL';
}

function nonEmpty(params: Record<string, string>): Record<string, string> | null {
  for (const _ in params) return params;
  return null;
}

function contentParams(node: MimeNode): string {
  if (node.type === 'text' && node.params.charset === undefined) {
    return imapParams({ ...node.params, charset: 'us-ascii' });
  }
  return imapParams(nonEmpty(node.params));
}

function isMessage(node: MimeNode): node is MimeNode & { message: NonNullable<MimeNode['message']> } {
  return node.type === 'message' && node.message !== undefined;
}

export function bodyStructureToImap(node: MimeNode, extended: boolean): string {
  if (node.type === 'multipart' || node.children) {
    const children = node.children && node.children.length > 0 ? node.children : [EMPTY_PART];
    let out = '(';
    for (const child of children) out += bodyStructureToImap(child, extended);
    out += ` ${imapString(node.subtype.toUpperCase())}`;
    if (extended)
      out += ` ${imapParams(nonEmpty(node.params))} ${disposition(node)} ${language(node)} ${imapString(node.location)}`;
    return `${out})`;
  }

  let out =
    `(${imapString(node.type.toUpperCase())} ${imapString(node.subtype.toUpperCase())} ${contentParams(node)}` +
    ` ${imapString(node.id)} ${imapString(node.description)} ${imapString(node.encoding)} ${node.size}`;
  if (isMessage(node)) {
    out += ` ${envelopeToImap(node.message.envelope)} ${bodyStructureToImap(node.message.node, extended)} ${node.lines}`;
  } else if (node.type === 'text') {
    out += ` ${node.lines}`;
  }
  if (extended) out += ` ${imapString(node.md5)} ${disposition(node)} ${language(node)} ${imapString(node.location)}`;
  return `${out})`;
}
