// Package mime implements the message indexer and the RFC 5322/MIME helpers every protocol shares.
// Invariants: pure functions over bytes (no I/O, no store); a message is parsed once, and the index
// (stored beside the blob, docs/ARCHITECTURE.md §4.1) is all FETCH and SEARCH read. Imports npm packages only.
//
// Message indexer: parse a raw RFC 5322 message once, at delivery, into everything IMAP FETCH and
// SEARCH need; the IMAP side serialises from the stored index and slices the stored blob.
//
// How FETCH uses it, without parsing again:
//   ENVELOPE / BODY / BODYSTRUCTURE   envelopeToImap(index.envelope), bodyStructureToImap(index.root, ext)
//   BODY[], BODY[<path>], BODY[<path>.MIME|HEADER|TEXT]   sectionRange(index, path, part) -> blob bytes
//   BODY[<path>.HEADER.FIELDS (...)]  filter the lines of the HEADER range (readHeader() can split it)
//   BINARY[<path>]                    decodeTransfer(bytes of BODY[<path>], findSection(...).encoding)
//   RFC822.SIZE                       index.size
// Offsets are bytes of the blob as stored: store CRLF-normalised blobs and they are IMAP octets too.
import { buildEnvelope } from './envelope.ts';
import { countLines, parseMessage, plainTextNode } from './parts.ts';
import { buildSearchFields } from './search-fields.ts';
import type { Envelope, MessageIndex, SearchFields } from './types.ts';

export type {
  Address,
  AttachmentInfo,
  ByteRange,
  Envelope,
  MessageIndex,
  MimeNode,
  SearchFields,
  SectionPart,
} from './types.ts';
export { envelopeToImap } from './envelope.ts';
export { bodyStructureToImap } from './bodystructure.ts';
export { findSection, sectionRange } from './sections.ts';
export { imapList, imapParams, imapString } from './imap-syntax.ts';
export { decodeTransfer } from './decode.ts';

const EMPTY_ENVELOPE: Envelope = {
  date: null,
  subject: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
};

function emptySearch(): SearchFields {
  return {
    from: '',
    to: '',
    cc: '',
    bcc: '',
    subject: '',
    date: null,
    messageId: null,
    inReplyTo: null,
    references: [],
    text: '',
    attachments: [],
  };
}

/** Like indexMessage, but lets an internal error through (tests use it to prove there are none). */
export function buildIndex(raw: Buffer): MessageIndex {
  const { node, fields } = parseMessage(raw);
  const envelope = buildEnvelope(fields);
  let search: SearchFields;
  try {
    search = buildSearchFields(raw, fields, node, envelope);
  } catch {
    search = emptySearch(); // the structure is what FETCH needs; search text is best effort
  }
  return { size: raw.length, headerSize: node.bodyStart, root: node, envelope, search };
}

/** Indexes a raw message. Never throws: at worst the message is one text/plain body. */
export function indexMessage(raw: Buffer): MessageIndex {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
  try {
    return buildIndex(buf);
  } catch {
    const root = plainTextNode(buf.length, countLines(buf, 0, buf.length));
    return { size: buf.length, headerSize: 0, root, envelope: { ...EMPTY_ENVELOPE }, search: emptySearch() };
  }
}
