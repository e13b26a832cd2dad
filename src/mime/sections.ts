// IMAP section numbers (RFC 3501 section 6.4.5) resolved against the stored tree, so that
// BODY[section] is a byte range of the stored blob and FETCH never parses.
import type { ByteRange, MessageIndex, MimeNode, SectionPart } from './types.ts';

/** The parts a section number counts in: a multipart's children, or the single body of anything else. */
function partsOf(container: MimeNode): MimeNode[] {
  return container.children ?? [container];
}

/**
 * The node a numeric section path names; [] is the whole message. A non-multipart message's part 1
 * is its body; below a message/rfc822 part, numbers count in the embedded message.
 */
export function findSection(index: Omit<MessageIndex, 'search'>, path: readonly number[]): MimeNode | null {
  let node: MimeNode = index.root;
  for (let i = 0; i < path.length; i++) {
    const n = path[i]!;
    let container: MimeNode;
    if (i === 0) container = index.root;
    else if (node.children) container = node;
    else if (node.message) container = node.message.node;
    else return null; // e.g. 1.1 below a text part
    const parts = partsOf(container);
    if (!Number.isInteger(n) || n < 1 || n > parts.length) return null;
    node = parts[n - 1]!;
  }
  return node;
}

/**
 * Byte range of BODY[<path>.<part>]: '' is the part's content (the whole message for []), HEADER
 * and TEXT the header and body of a message (top level, or a message/rfc822 part), MIME the header
 * of a numbered part. HEADER.FIELDS[.NOT] are taken from the HEADER range by the caller.
 */
export function sectionRange(
  index: Omit<MessageIndex, 'search'>,
  path: readonly number[],
  part: SectionPart = '',
): ByteRange | null {
  const node = findSection(index, path);
  if (!node) return null;
  switch (part) {
    case '':
      return path.length === 0 ? { start: 0, end: index.size } : { start: node.bodyStart, end: node.end };
    case 'MIME':
      return path.length === 0 ? null : { start: node.start, end: node.bodyStart };
    case 'HEADER':
    case 'TEXT': {
      const msg = path.length === 0 ? node : node.message?.node;
      if (!msg) return null;
      return part === 'HEADER' ? { start: msg.start, end: msg.bodyStart } : { start: msg.bodyStart, end: msg.end };
    }
    default:
      return null;
  }
}
