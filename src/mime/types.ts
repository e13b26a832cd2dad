// The message index is stored as JSON next to each message, so everything here is plain data:
// no classes, no Buffers, no undefined-vs-null ambiguity in fields that IMAP sends.

export interface MimeNode {
  /** First byte of this part's header block (for a multipart child: just after the boundary line). */
  start: number;
  /** First byte of the body, after the blank line; == end when there is no body. */
  bodyStart: number;
  /** One past the last body byte; the line break before the next boundary is not part of the body. */
  end: number;
  /** Lower-case media type; "text" when absent ("message" inside multipart/digest). */
  type: string;
  /** Lower-case media subtype; "plain" when absent ("rfc822" inside multipart/digest). */
  subtype: string;
  /** Content-Type parameters: lower-case names, RFC 2231 continuations and charsets decoded. */
  params: Record<string, string>;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as sent (original case), "7BIT" when absent. */
  encoding: string;
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
  /** Body octets: end - bodyStart. */
  size: number;
  /** Body line count (LF characters), as BODYSTRUCTURE wants for text/* and message/rfc822. */
  lines: number;
  /** multipart/*: the parts, never empty (a multipart without parts is indexed as text/plain). */
  children?: MimeNode[];
  /** message/rfc822 and message/global: the embedded message, whose node starts at bodyStart. */
  message?: { envelope: Envelope; node: MimeNode };
}

/** IMAP address structure. Group syntax as RFC 3501: start marker has mailbox = group name and
 *  host null, end marker is all null. */
export interface Address {
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

export interface Envelope {
  /** Raw header values, unfolded but not decoded: IMAP sends them as they are. */
  date: string | null;
  subject: string | null;
  from: Address[] | null;
  /** Defaults to from (RFC 3501) when absent or empty. */
  sender: Address[] | null;
  /** Defaults to from (RFC 3501) when absent or empty. */
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export interface AttachmentInfo {
  filename: string | null;
  /** "type/subtype", lower-case. */
  contentType: string;
  /** Decoded size in octets (estimated from the encoded size for base64). */
  size: number;
}

export interface SearchFields {
  /** Decoded, lower-cased "name <addr>, ..." for substring SEARCH FROM/TO/CC/BCC. */
  from: string;
  to: string;
  cc: string;
  bcc: string;
  /** RFC 2047 decoded subject. */
  subject: string;
  /** Date: header as ms since the epoch; null when absent or unparseable. */
  date: number | null;
  /** The zone the Date: header was written in, minutes east of UTC (SENTON compares the date as written); absent before it was kept. */
  dateOffset?: number;
  /** First msg-id of each header, with angle brackets; references in header order. */
  messageId: string | null;
  inReplyTo: string | null;
  references: string[];
  /** Decoded body text (text parts, HTML converted to text), at most 256 KiB of UTF-8. */
  text: string;
  /** Every header field as "name: decoded value" lines, lower-cased, at most 64 KiB: SEARCH TEXT covers all headers (RFC 3501). */
  headers?: string;
  attachments: AttachmentInfo[];
}

export interface MessageIndex {
  size: number;
  /** == root.bodyStart */
  headerSize: number;
  root: MimeNode;
  envelope: Envelope;
  search: SearchFields;
  /** Deliberately absent: BODYSTRUCTURE is serialised from root (once, at delivery: store/blobs.ts fetchItems). */
  bodyStructure?: never;
}

export type SectionPart = '' | 'HEADER' | 'TEXT' | 'MIME';

export interface ByteRange {
  start: number;
  end: number;
}
