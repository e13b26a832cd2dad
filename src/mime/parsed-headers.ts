// The few header fields every stage of mail handling reads (From, Subject, Message-ID), parsed
// once: by the inbound pipeline, submission, spam scoring and sieve.
import libmime from 'libmime';
import { parseAddressList } from './addresses.ts';
import { firstField, readHeader, type HeaderField } from './headers.ts';

/** The header fields a stage reads (parsed once, with the `mime/` reader). */
export interface ParsedHeaders {
  fields: HeaderField[];
  bodyStart: number;
  get(name: string): string | null;
  /** Lower-case addr-specs of the From field. */
  from: string[];
  subject: string; // encoded-words decoded
  messageId: string | null;
}

export function parseHeaders(raw: Buffer): ParsedHeaders {
  const { fields, bodyStart } = readHeader(raw, 0, raw.length);
  const get = (name: string) => firstField(fields, name);
  const from = parseAddressList(get('from') ?? '')
    .filter((a) => a.mailbox && a.host)
    .map((a) => `${a.mailbox}@${a.host}`.toLowerCase());
  let subject = get('subject') ?? '';
  try {
    subject = libmime.decodeWords(subject);
  } catch {
    // keep the raw value: a broken encoded-word is not worth refusing mail over
  }
  return { fields, bodyStart, get, from, subject, messageId: get('message-id') };
}
