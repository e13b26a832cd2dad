// Vacation auto-replies (RFC 5230) with the loop and list protections of RFC 3834: when not to
// answer, the reply message itself, and the handle that "once per sender per :days" is counted by.
import { createHash, randomBytes } from 'node:crypto';
import libmime from 'libmime';
import { parseAddressList } from '../mime/addresses.ts';
import type { SieveMessage } from './message.ts';
import type { Vacation } from './validate.ts';

/** :days is kept within this range (RFC 5230 §4.1 lets a site set both bounds). */
export const MIN_DAYS = 1;
export const MAX_DAYS = 365;
export const clampDays = (days: number): number => Math.min(MAX_DAYS, Math.max(MIN_DAYS, days));

const RECIPIENT_FIELDS = ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'];

/**
 * Why this message gets no reply, or null when it may get one. `mine` are the recipient's own
 * addresses (the mailbox, its aliases, the RCPT address, :addresses), lower case.
 */
export function refusalReason(message: SieveMessage, mine: string[]): string | null {
  const sender = message.envelope.from.toLowerCase();
  if (sender === '') return 'null envelope sender';
  const local = sender.slice(0, sender.lastIndexOf('@'));
  if (
    local === 'mailer-daemon' ||
    local.startsWith('owner-') ||
    local.endsWith('-request') ||
    local === 'listserv' ||
    local === 'majordomo'
  ) {
    return `sender ${sender} is a list or mail system address`;
  }
  if (mine.includes(sender)) return 'message from the recipient itself';
  const auto = message.rawHeader('auto-submitted')[0];
  if (auto !== undefined && auto.split(';')[0]!.trim().toLowerCase() !== 'no') return 'Auto-Submitted message';
  for (const list of ['list-id', 'list-unsubscribe', 'list-post'])
    if (message.rawHeader(list).length) return `mailing list message (${list})`;
  const precedence = (message.rawHeader('precedence')[0] ?? '').trim().toLowerCase();
  if (['bulk', 'list', 'junk'].includes(precedence)) return `Precedence: ${precedence}`;
  if (!addressedTo(message, mine)) return 'recipient not in To/Cc';
  return null;
}

/** The first of `mine` named in the recipient fields, or null (RFC 5230 §4.5). */
export function addressedTo(message: SieveMessage, mine: string[]): string | null {
  for (const name of RECIPIENT_FIELDS) {
    for (const value of message.rawHeader(name)) {
      for (const a of parseAddressList(value)) {
        const address = a.mailbox && a.host ? `${a.mailbox}@${a.host}`.toLowerCase() : '';
        if (address && mine.includes(address)) return address;
      }
    }
  }
  return null;
}

/** :handle, or one derived from the arguments so that a changed reply counts anew (RFC 5230 §4.2). */
export function vacationHandle(v: Vacation): string {
  if (v.handle !== null) return `h:${v.handle}`;
  return `d:${createHash('sha256')
    .update(JSON.stringify([v.reason, v.subject, v.from, v.mime]))
    .digest('hex')
    .slice(0, 32)}`;
}

const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();
const encode = (s: string): string => (/[^\x20-\x7e]/.test(s) ? libmime.encodeWords(s, 'Q', 52) : s);
const date = (ms: number): string => new Date(ms).toUTCString().replace(/GMT$/, '+0000');

/**
 * The reply (RFC 5230 §5): From the recipient (or :from), To the envelope sender, the original's
 * Message-ID in In-Reply-To and References, `Auto-Submitted: auto-replied`. With :mime the reason
 * is a MIME entity whose own header fields lead its body; otherwise plain UTF-8 text.
 */
export function buildReply(input: {
  message: SieveMessage;
  vacation: Vacation;
  from: string;
  hostname: string;
  now?: number;
}): Buffer {
  const { message, vacation } = input;
  const now = input.now ?? Date.now();
  const original = message.header('subject')[0] ?? '';
  const subject = vacation.subject ?? `Auto: ${original}`;
  const messageId = message.rawHeader('message-id')[0]?.trim();
  const references = [
    ...(message.rawHeader('references')[0] ?? '').split(/\s+/).filter((r) => /^<[^<>\s]+>$/.test(r)),
    ...(messageId ? [messageId] : []),
  ];
  const lines = [
    `From: ${oneLine(vacation.from ?? input.from)}`,
    `To: <${message.envelope.from}>`,
    `Subject: ${encode(oneLine(subject))}`,
    `Date: ${date(now)}`,
    `Message-ID: <${now.toString(36)}.${randomBytes(8).toString('hex')}@${input.hostname}>`,
    ...(messageId ? [`In-Reply-To: ${oneLine(messageId)}`] : []),
    ...(references.length ? [`References: ${references.slice(-20).join('\r\n ')}`] : []),
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
  ];
  let body: string;
  if (vacation.mime) {
    const reason = vacation.reason.replace(/\r?\n/g, '\r\n');
    const split = reason.indexOf('\r\n\r\n');
    const head = split < 0 ? '' : reason.slice(0, split);
    body = split < 0 ? reason : reason.slice(split + 4);
    const fields = head.split(/\r\n(?![ \t])/).filter((f) => /^content-[a-z-]+\s*:/i.test(f));
    lines.push(...(fields.length ? fields : ['Content-Type: text/plain; charset=utf-8']));
  } else {
    lines.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64');
    body = Buffer.from(vacation.reason.replace(/\r?\n/g, '\r\n').replace(/(\r\n)?$/, '\r\n'), 'utf8')
      .toString('base64')
      .replace(/.{76}/g, '$&\r\n');
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body.replace(/(\r\n)?$/, '\r\n')}`, 'utf8');
}
