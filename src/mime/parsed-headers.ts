// The few header fields every stage of mail handling reads (From, Subject, Message-ID), parsed
// once: by the inbound pipeline, submission, spam scoring and sieve.
import libmime from 'libmime';
import { parseAddressList } from './addresses.ts';
import { firstField, messageHeader, type HeaderField } from './headers.ts';

/** The header fields a stage reads (parsed once, with the `mime/` reader). */
export interface ParsedHeaders {
  fields: HeaderField[];
  bodyStart: number;
  get(name: string): string | null;
  /** Lower-case addr-specs of the From field. */
  from: string[];
  /** The display name of From's first address, encoded-words decoded ("" with none). */
  fromName: string;
  subject: string; // encoded-words decoded
  messageId: string | null;
}

export function parseHeaders(raw: Buffer): ParsedHeaders {
  const { fields, bodyStart } = messageHeader(raw);
  const get = (name: string) => firstField(fields, name);
  const addresses = parseAddressList(get('from') ?? '').filter((a) => a.mailbox && a.host);
  const from = addresses.map((a) => `${a.mailbox}@${a.host}`.toLowerCase());
  const fromName = decodeWords(addresses[0]?.name ?? '');
  const subject = decodeWords(get('subject') ?? '');
  return { fields, bodyStart, get, from, fromName, subject, messageId: get('message-id') };
}

/** Encoded-words decoded; a broken one keeps the raw value: not worth refusing mail over. */
function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}
