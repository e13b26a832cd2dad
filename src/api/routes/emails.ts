// The Sending API (docs/API.md §12.1): `POST /emails/send` and `/emails/send/batch`. The message is
// built with nodemailer's MailComposer, then takes the same way out as SMTP submission
// (src/outbound/submit.ts: DKIM, queue, message.queued event, Sent copy).
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import { z } from 'zod';
import {
  canonicalLineEnds,
  completeHeader,
  mayUseAddress,
  SendLimitExceeded,
  submitMessage,
} from '../../outbound/submit.ts';
import { splitAddress } from '../../store/addresses.ts';
import type { Account, ApiKey } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, type FieldError } from '../errors.ts';
import { parseInput } from '../middleware/validate.ts';
import { defineRoute, type Route } from '../registry.ts';
import { emailAddress } from '../schemas.ts';

const MAX_RECIPIENTS = 50;
const MAX_ATTACHMENTS = 10;
const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
const MAX_BATCH = 100;

const noBreaks = (s: string) => !/[\r\n\0]/.test(s);
const line = (max: number) => z.string().max(max).refine(noBreaks, 'must not contain CR, LF or NUL');
const party = z.union([emailAddress, z.object({ email: emailAddress, name: line(200).optional() }).strict()]);
type Party = z.infer<typeof party>;

/** Fields MailComposer writes itself or that only the server may set: custom headers cannot override them. */
const RESERVED_HEADERS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'subject',
  'date',
  'message-id',
  'reply-to',
  'sender',
  'mime-version',
  'in-reply-to',
  'references',
  'resent-from',
  'resent-sender', // who sent the message, like From and Sender: not for a custom header to claim
  'dkim-signature',
  'received',
  'return-path',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'content-id',
  'authentication-results',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
]);
const headerName = z
  .string()
  .regex(/^[!-9;-~]{1,76}$/, 'a header field name (printable ASCII, no colon)')
  .refine((n) => !RESERVED_HEADERS.has(n.toLowerCase()), 'this header is set by the server');
const EXECUTABLE = /\.(exe|com|bat|cmd|scr|pif|msi|msp|vbs|vbe|js|jse|wsf|wsh|ps1|jar|cpl|hta|lnk|reg|dll)$/i;

const attachment = z
  .object({
    filename: line(255).refine((f) => !EXECUTABLE.test(f), 'executable attachments are not accepted'),
    content: z.string().regex(/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/, 'base64'),
    type: line(255)
      .regex(/^[\w.+-]+\/[\w.+-]+$/, 'a media type')
      .optional(),
    encoding: z.literal('base64').optional(),
    content_id: line(255)
      .optional()
      .describe('makes the attachment inline, referenced as cid:<content_id> from html_body'),
  })
  .strict();

const msgId = line(998).regex(/^<[^<>\s]+>$/, 'a message id such as <id@host>');

export const sendSchema = z
  .object({
    from: party,
    to: z.union([party, z.array(party).min(1)]),
    cc: z.array(party).optional(),
    bcc: z.array(party).optional(),
    subject: line(998),
    html_body: z.string().max(MAX_MESSAGE_BYTES).optional(),
    text_body: z.string().max(MAX_MESSAGE_BYTES).optional(),
    reply_to: z.union([party, z.array(party).max(10)]).optional(),
    custom_headers: z
      .record(headerName, line(998))
      .optional()
      .refine((h) => !h || Object.keys(h).length <= 50, 'at most 50 custom headers'),
    return_path: emailAddress.optional().describe('envelope sender (VERP); an address of a domain of this team'),
    attachments: z.array(attachment).max(MAX_ATTACHMENTS).optional(),
    in_reply_to: msgId.optional(),
    references: z.array(msgId).max(100).optional(),
  })
  .strict()
  .refine((m) => m.html_body !== undefined || m.text_body !== undefined, {
    message: 'html_body or text_body is required',
    path: ['html_body'],
  })
  .refine((m) => [m.to].flat().length + (m.cc?.length ?? 0) + (m.bcc?.length ?? 0) <= MAX_RECIPIENTS, {
    message: `at most ${MAX_RECIPIENTS} recipients in all`,
    path: ['to'],
  });
type SendRequest = z.infer<typeof sendSchema>;

const sent = z.object({ message_id: z.string(), status: z.literal('queued'), header_message_id: z.string() });
const errorSchema = z.object({ code: z.string(), message: z.string(), param: z.string().nullable() });
const batchResult = z.object({
  results: z.array(
    z.object({
      index: z.number().int(),
      status: z.enum(['queued', 'failed']),
      message_id: z.string().nullable(),
      error: errorSchema.nullable(),
    }),
  ),
  summary: z.object({ total: z.number().int(), queued: z.number().int(), failed: z.number().int() }),
});

const addressOf = (p: Party) =>
  typeof p === 'string' ? { name: '', address: p } : { name: p.name ?? '', address: p.email };
const emailOf = (p: Party) => (typeof p === 'string' ? p : p.email);

export const emailRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;

  /** The mailbox sending (for events and the Sent copy), after checking the key may use this From. */
  async function authorise(key: ApiKey, request: SendRequest): Promise<Account | null> {
    const from = emailOf(request.from);
    const refuse = (param: string, what: string) =>
      new ApiError('insufficient_permissions', `${what} is not an address this key may send as`, param);
    const teamDomain = async (address: string) => {
      const domain = await store.domains.get(splitAddress(address).domain);
      return !!domain && domain.teamId === key.teamId && (!key.domain || key.domain === domain.name);
    };
    if (request.return_path !== undefined && !(await teamDomain(request.return_path)))
      throw refuse('return_path', request.return_path);
    if (key.accountId) {
      const account = await store.accounts.get(key.accountId);
      if (!account || !(await mayUseAddress(store, account, from))) throw refuse('from', from);
      return account;
    }
    if (!(await teamDomain(from))) throw refuse('from', from);
    const route = await store.addresses.get(from);
    const owner = route?.kind === 'account' ? await store.accounts.get(route.accountId) : undefined;
    return owner && owner.teamId === key.teamId ? owner : null;
  }

  async function compose(request: SendRequest): Promise<Buffer> {
    const composer = new MailComposer({
      from: addressOf(request.from),
      to: [request.to].flat().map(addressOf),
      cc: request.cc?.map(addressOf),
      bcc: request.bcc?.map(addressOf),
      replyTo: request.reply_to === undefined ? undefined : [request.reply_to].flat().map(addressOf),
      subject: request.subject,
      text: request.text_body,
      html: request.html_body,
      headers: request.custom_headers,
      inReplyTo: request.in_reply_to,
      references: request.references,
      messageId: `<${Date.now().toString(36)}.${randomBytes(8).toString('hex')}@${deps.hostname}>`,
      attachments: request.attachments?.map((a) => ({
        filename: a.filename,
        content: Buffer.from(a.content, 'base64'),
        contentType: a.type,
        ...(a.content_id ? { cid: a.content_id, contentDisposition: 'inline' as const } : {}),
      })),
    });
    const raw = await composer.compile().build();
    if (raw.length > MAX_MESSAGE_BYTES)
      throw new ApiError('payload_too_large', `the message would be ${raw.length} bytes (limit ${MAX_MESSAGE_BYTES})`);
    return completeHeader(canonicalLineEnds(raw), deps.hostname);
  }

  async function send(key: ApiKey, request: SendRequest): Promise<z.infer<typeof sent>> {
    const account = await authorise(key, request);
    const raw = await compose(request);
    const rcpts = [[request.to].flat(), request.cc ?? [], request.bcc ?? []].flat().map(emailOf);
    const submission = {
      teamId: key.teamId,
      account,
      apiKeyId: key.id,
      from: request.return_path ?? emailOf(request.from),
      to: [...new Set(rcpts)],
      raw,
      limits: deps.sendLimits,
    };
    const queued = await submitMessage(store, store.queue, submission, deps.logger).catch((err: unknown) => {
      if (err instanceof SendLimitExceeded) {
        throw new ApiError(
          'rate_limit_exceeded',
          `sending limit reached (${err.limit}); try again in ${err.retryAfterSeconds} s`,
          null,
          { headers: { 'Retry-After': String(err.retryAfterSeconds) } },
        );
      }
      throw err;
    });
    return {
      message_id: `eml_${queued.messageId}`,
      status: 'queued',
      header_message_id: queued.jobs[0]!.headerMessageId ?? '',
    };
  }

  const tag = 'Sending';
  return [
    defineRoute({
      method: 'POST',
      path: '/emails/send',
      summary: 'Send one message (built here, DKIM-signed, queued)',
      tag,
      permission: 'email.send',
      body: sendSchema,
      response: sent,
      idempotent: true,
      errors: ['validation_error', 'payload_too_large'],
      handler: async ({ key, body }) => ({ data: await send(key, body) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/emails/send/batch',
      summary: `Send up to ${MAX_BATCH} messages; each is checked and queued on its own`,
      tag,
      permission: 'email.send',
      body: z.object({ messages: z.array(z.unknown()).min(1).max(MAX_BATCH) }).strict(),
      response: batchResult,
      idempotent: true,
      errors: ['validation_error'],
      handler: async ({ key, body }) => {
        const results = await Promise.all(
          body.messages.map(async (item, index) => {
            try {
              const { message_id } = await send(key, parseInput(sendSchema, item, 'body'));
              return { index, status: 'queued' as const, message_id, error: null };
            } catch (err) {
              if (!(err instanceof ApiError)) throw err;
              return {
                index,
                status: 'failed' as const,
                message_id: null,
                error: { code: err.code, message: err.message, param: err.param },
              };
            }
          }),
        );
        const failed = results.filter((r) => r.error);
        if (failed.length === results.length) {
          const errors: FieldError[] = failed.map((r) => ({
            field: `messages.${r.index}${r.error!.param ? `.${r.error!.param}` : ''}`,
            code: r.error!.code,
            message: r.error!.message,
          }));
          throw new ApiError('validation_error', 'no message of the batch is valid', errors[0]!.field, { errors });
        }
        return {
          data: {
            results,
            summary: { total: results.length, queued: results.length - failed.length, failed: failed.length },
          },
        };
      },
    }),
  ];
};
