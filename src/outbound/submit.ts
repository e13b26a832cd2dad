// The one path a message submitted here takes out (SMTP submission and the Sending API alike):
// canonical line ends, Date and Message-ID when missing, DKIM with the From domain's keys, then the
// durable queue (with its message.queued event) and the sender's Sent copy in the same fsync.
// Who may send as whom is the caller's check: it differs between an SMTP login and an API key. How
// much a sender may send is checked here, once for every way in.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { domainOf } from '../inbound/message.ts';
import { parseHeaders, type ParsedHeaders } from '../mime/parsed-headers.ts';
import { parseAddressList } from '../mime/addresses.ts';
import { normalizeAddress, splitAddress } from '../store/addresses.ts';
import type { Account, Store } from '../store/index.ts';
import { StoreError } from '../store/index.ts';
import type { SendingLimits } from '../store/sends.ts';
import type { Enqueued, Queue } from '../store/queue.ts';
import { signForDomain } from './dkim.ts';

/** Bare LF (or CR) line ends become CRLF: what goes out must be canonical, whatever the client wrote. */
export const canonicalLineEnds = (raw: Buffer): Buffer => {
  const text = raw.toString('latin1');
  return /\r(?!\n)|(?<!\r)\n/.test(text) ? Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1') : raw;
};

/** May `account` use `address` as its sender? Its own address (with +tags) or an alias that includes it. */
export async function mayUseAddress(store: Store, account: Account, address: string): Promise<boolean> {
  const wanted = normalizeAddress(address);
  const { local, domain } = splitAddress(wanted);
  const base = local.includes('+') ? `${local.slice(0, local.indexOf('+'))}@${domain}` : wanted;
  for (const candidate of new Set([wanted, base])) {
    if (candidate === account.address) return true;
    const route = await store.addresses.get(candidate);
    if (route?.kind === 'account' && route.accountId === account.id) return true;
    if (route?.kind === 'alias' && route.targets.map(normalizeAddress).includes(account.address)) return true;
  }
  return false;
}

/** RFC 5322 §3.6: the fields a message has at most once (Date and From exactly once). */
const SINGLE_FIELDS = [
  'date',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'message-id',
  'in-reply-to',
  'references',
  'subject',
];
/** The fields that name who sent (or resent) the message: each address must be the sender's own. */
const SENDER_FIELDS = ['from', 'sender', 'resent-from', 'resent-sender'];

export interface HeaderRefusal {
  code: number;
  enhanced: string;
  text: string;
}

/**
 * What a submitted message's header may say about its origin. A second From (or Sender …) is
 * refused outright: software downstream disagrees on which one counts (a DKIM signer, a DMARC check
 * and a mail reader may each pick a different one), which is how one user sends as another. Every
 * address in From, Sender, Resent-From and Resent-Sender (all occurrences) must be one `account`
 * may use.
 */
const fieldName = (name: string) => name.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase());

export async function checkSubmittedHeader(
  store: Store,
  account: Account,
  headers: ParsedHeaders,
): Promise<HeaderRefusal | null> {
  for (const name of SINGLE_FIELDS) {
    const count = headers.fields.filter((f) => f.name === name).length;
    if (count > 1)
      return {
        code: 550,
        enhanced: '5.6.0',
        text: `Message has ${count} ${fieldName(name)} fields; RFC 5322 section 3.6 allows one`,
      };
  }
  if (headers.from.length === 0) return { code: 550, enhanced: '5.6.0', text: 'Message has no valid From address' };
  for (const field of headers.fields.filter((f) => SENDER_FIELDS.includes(f.name))) {
    for (const a of parseAddressList(field.value)) {
      const address = `${a.mailbox}@${a.host}`;
      if (!a.mailbox || !a.host)
        return { code: 550, enhanced: '5.6.0', text: `Message has an invalid ${fieldName(field.name)} address` };
      if (!(await mayUseAddress(store, account, address)))
        return { code: 553, enhanced: '5.7.1', text: `${fieldName(field.name)} address <${address}> is not yours` };
    }
  }
  return null;
}

/** Adds Date and Message-ID when the client left them out (RFC 6409 §8.2, §8.3). */
export function completeHeader(raw: Buffer, hostname: string): Buffer {
  const headers = parseHeaders(raw);
  let extra = '';
  if (!headers.get('date')) extra += `Date: ${new Date().toUTCString().replace(/GMT$/, '+0000')}\r\n`;
  if (!headers.messageId)
    extra += `Message-ID: <${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${hostname}>\r\n`;
  return extra ? Buffer.concat([Buffer.from(extra), raw]) : raw;
}

export interface Submission {
  teamId: string;
  /** The sending mailbox: events are tied to it and it gets the Sent copy (when its settings say so). */
  account: Account | null;
  apiKeyId?: string | null;
  /** Envelope sender and recipients. */
  from: string;
  to: string[];
  /** The message as submitted, after completeHeader; must have a From. */
  raw: Buffer;
  /** The sender's budget: the mailbox's when there is one, else the API key's. */
  limits: SendingLimits;
}

/** The sender's budget is spent: SMTP answers 451 4.7.1, the API 429, both with the wait. */
export class SendLimitExceeded extends Error {
  readonly limit: string;
  readonly retryAfterSeconds: number;
  constructor(limit: string, retryAfterSeconds: number) {
    super(`Sending limit reached (${limit}), try again in ${retryAfterSeconds} s`);
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Whose budget a message is counted against: its mailbox, or the API key that sent it for none. */
export const sendingSubject = (account: Account | null, apiKeyId?: string | null): string =>
  account ? `account:${account.id}` : `key:${apiKeyId ?? 'none'}`;

/**
 * Counts the message against the sender's hourly and daily budget (SendLimitExceeded when spent),
 * then signs and queues it with the Sent copy; resolves once all is durable. A failure gives the
 * counted slot back.
 */
export async function submitMessage(
  store: Store,
  queue: Pick<Queue, 'enqueue'>,
  submission: Submission,
  log: Logger,
): Promise<Enqueued> {
  if (submission.limits.perHour <= 0 && submission.limits.perDay <= 0)
    return signAndQueue(store, queue, submission, log); // no budget to keep
  const reservation = await store.sends.reserve(
    sendingSubject(submission.account, submission.apiKeyId),
    submission.limits,
  );
  if (!reservation.ok) throw new SendLimitExceeded(reservation.limit, reservation.retryAfterSeconds);
  try {
    return await signAndQueue(store, queue, submission, log);
  } catch (err) {
    await reservation.release().catch(() => undefined);
    throw err;
  }
}

async function signAndQueue(
  store: Store,
  queue: Pick<Queue, 'enqueue'>,
  submission: Submission,
  log: Logger,
): Promise<Enqueued> {
  const { account, raw } = submission;
  const headers = parseHeaders(raw);
  const signed = await signForDomain(store, raw, domainOf(headers.from[0]!));
  // Queue and Sent copy are written side by side so that they share one group-commit fsync.
  const [queued] = await Promise.all([
    queue.enqueue({
      teamId: submission.teamId,
      accountId: account?.id ?? null,
      apiKeyId: submission.apiKeyId ?? null,
      from: submission.from,
      to: submission.to,
      raw: signed,
      headerMessageId: headers.messageId,
      subject: headers.subject,
    }),
    account?.settings.saveSent ? saveSent(store, account, raw, log) : undefined,
  ]);
  return queued;
}

async function saveSent(store: Store, account: Account, raw: Buffer, log: Logger): Promise<void> {
  const folder = store.folders.bySpecialUse(account.id, '\\Sent');
  if (!folder) return;
  try {
    await store.deliver(raw, [{ folder, flags: ['\\Seen'], quotaBytes: account.quotaBytes }]);
  } catch (err) {
    // The message is queued already: a full mailbox costs the Sent copy, not the sending.
    if (err instanceof StoreError && err.code === 'quota')
      log.warn({ account: account.id }, 'Sent copy skipped: mailbox over quota');
    else log.error({ err, account: account.id }, 'Sent copy failed');
  }
}
