// ENVELOPE: built once from the header fields at delivery, serialised from the stored form.
import { parseAddressList } from './addresses.ts';
import { firstField, type HeaderField } from './headers.ts';
import { imapString } from './imap-syntax.ts';
import type { Address, Envelope } from './types.ts';

function addresses(fields: HeaderField[], name: string): Address[] | null {
  const value = firstField(fields, name);
  if (value === null) return null;
  const list = parseAddressList(value);
  return list.length ? list : null;
}

export function buildEnvelope(fields: HeaderField[]): Envelope {
  const from = addresses(fields, 'from');
  return {
    date: firstField(fields, 'date'),
    subject: firstField(fields, 'subject'),
    from,
    // RFC 3501: an absent or empty Sender/Reply-To is given as From.
    sender: addresses(fields, 'sender') ?? from,
    replyTo: addresses(fields, 'reply-to') ?? from,
    to: addresses(fields, 'to'),
    cc: addresses(fields, 'cc'),
    bcc: addresses(fields, 'bcc'),
    inReplyTo: firstField(fields, 'in-reply-to'),
    messageId: firstField(fields, 'message-id'),
  };
}

function addressListToImap(list: Address[] | null): string {
  if (!list || list.length === 0) return 'NIL';
  let out = '(';
  for (const a of list) {
    out += `(${imapString(a.name)} ${imapString(a.adl)} ${imapString(a.mailbox)} ${imapString(a.host)})`;
  }
  return `${out})`;
}

/** The parenthesised ENVELOPE structure of RFC 3501 section 7.4.2. */
export function envelopeToImap(env: Envelope): string {
  return (
    '(' +
    [
      imapString(env.date),
      imapString(env.subject),
      addressListToImap(env.from),
      addressListToImap(env.sender),
      addressListToImap(env.replyTo),
      addressListToImap(env.to),
      addressListToImap(env.cc),
      addressListToImap(env.bcc),
      imapString(env.inReplyTo),
      imapString(env.messageId),
    ].join(' ') +
    ')'
  );
}
