// Delivery status notifications (RFC 3464): a multipart/report to the envelope sender with a human
// part, the machine-readable message/delivery-status part and the original header (text/rfc822-headers).
// Sent from the null sender, so a DSN that cannot be delivered is never bounced in turn.
import { randomBytes } from 'node:crypto';
import { readHeader } from '../mime/headers.ts';

export interface DsnRecipient {
  address: string;
  /** failed: given up (5xx, expiry); delayed: still trying. */
  action: 'failed' | 'delayed';
  /** Enhanced status code (RFC 3463), e.g. 5.1.1, 4.4.1. */
  status: string;
  /** The remote reply, or our own diagnostic. */
  diagnostic: string;
  remoteMta: string | null;
  lastAttemptAt: number | null;
}

export interface DsnInput {
  /** Our host name: Reporting-MTA and the From domain. */
  hostname: string;
  /** The original envelope sender: the report's recipient. */
  to: string;
  recipients: DsnRecipient[];
  arrivalDate: number;
  /** For delay notices: when we stop trying. */
  willRetryUntil?: number;
  /** The original message; only its header is returned. */
  original: Buffer;
  now?: number;
}

const date = (ms: number): string => new Date(ms).toUTCString().replace(/GMT$/, '+0000');

/** Reply text → enhanced status: the one the server gave, else one from the reply code. */
export function enhancedStatus(response: string, fallbackClass: 4 | 5): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response);
  if (m) return m[1]!;
  const code = /^([45])\d\d/.exec(response)?.[1];
  return `${code ?? fallbackClass}.0.0`;
}

/** Strips CR/LF so a remote reply cannot inject fields into our report. */
const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ').trim();

export function buildDsn(input: DsnInput): Buffer {
  const now = input.now ?? Date.now();
  const boundary = `wren-dsn-${randomBytes(12).toString('hex')}`;
  const failed = input.recipients.some((r) => r.action === 'failed');
  const subject = failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)';
  const { bodyStart } = readHeader(input.original, 0, input.original.length);
  const originalHeader = input.original
    .subarray(0, bodyStart)
    .toString('utf8')
    .replace(/\r?\n/g, '\r\n')
    .replace(/(\r\n)*$/, '\r\n');
  const human = failed
    ? `This is the mail system at ${input.hostname}.\r\n\r\nYour message could not be delivered to one or more recipients. It has been given up on.\r\n\r\n`
    : `This is the mail system at ${input.hostname}.\r\n\r\nYour message has not been delivered yet to one or more recipients. Delivery will be retried` +
      (input.willRetryUntil ? ` until ${date(input.willRetryUntil)}` : '') +
      `; you do not need to send it again.\r\n\r\n`;
  const lines = input.recipients.map((r) => `<${r.address}>: ${oneLine(r.diagnostic)}`).join('\r\n');
  const perRecipient = input.recipients
    .map((r) =>
      [
        `Final-Recipient: rfc822; ${r.address}`,
        `Action: ${r.action}`,
        `Status: ${r.status}`,
        ...(r.remoteMta ? [`Remote-MTA: dns; ${oneLine(r.remoteMta)}`] : []),
        `Diagnostic-Code: smtp; ${oneLine(r.diagnostic)}`,
        ...(r.lastAttemptAt ? [`Last-Attempt-Date: ${date(r.lastAttemptAt)}`] : []),
        ...(r.action === 'delayed' && input.willRetryUntil ? [`Will-Retry-Until: ${date(input.willRetryUntil)}`] : []),
      ].join('\r\n'),
    )
    .join('\r\n\r\n');
  const text =
    `From: Mail Delivery System <MAILER-DAEMON@${input.hostname}>\r\n` +
    `To: <${input.to}>\r\n` +
    `Subject: ${subject}\r\n` +
    `Date: ${date(now)}\r\n` +
    `Message-ID: <${now.toString(36)}.${randomBytes(6).toString('hex')}@${input.hostname}>\r\n` +
    `Auto-Submitted: auto-replied\r\n` +
    `MIME-Version: 1.0\r\n` +
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"\r\n` +
    `\r\n` +
    `This is a MIME-encapsulated message.\r\n\r\n` +
    `--${boundary}\r\n` +
    `Content-Type: text/plain; charset=utf-8\r\n` +
    `Content-Description: Notification\r\n\r\n` +
    human +
    lines +
    `\r\n\r\n` +
    `--${boundary}\r\n` +
    `Content-Type: message/delivery-status\r\n` +
    `Content-Description: Delivery report\r\n\r\n` +
    `Reporting-MTA: dns; ${input.hostname}\r\n` +
    `Arrival-Date: ${date(input.arrivalDate)}\r\n\r\n` +
    perRecipient +
    `\r\n\r\n` +
    `--${boundary}\r\n` +
    `Content-Type: text/rfc822-headers\r\n` +
    `Content-Description: Undelivered Message Headers\r\n\r\n` +
    originalHeader +
    `\r\n--${boundary}--\r\n`;
  return Buffer.from(text);
}
