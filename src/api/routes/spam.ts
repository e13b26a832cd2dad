import { isIP } from 'node:net';
import { z } from 'zod';
import { classifyMessage, spamSettings, trainMessage } from '../../services/spam.ts';
import { type ApiDeps, classifySession } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { loadMailbox } from '../views/mailboxes.ts';

const messageBody = z
  .object({
    message: z
      .string()
      .min(1)
      .max(25 * 1024 * 1024)
      .describe('the raw RFC 5322 message'),
    mailbox_id: z.string().optional().describe("train this mailbox's own model too (when per-mailbox models are on)"),
  })
  .strict();

// The SMTP session to score the message as received in (all optional; the others need remote_ip).
const classifyBody = messageBody.extend({
  remote_ip: z
    .string()
    .refine((ip) => isIP(ip) !== 0, 'expected an IPv4 or IPv6 address')
    .optional()
    .describe("the sending client's address: SPF, DKIM, DMARC and ARC are checked as the MX checks them"),
  helo: z.string().max(255).optional().describe('the name the client gave in HELO/EHLO'),
  mail_from: z.string().max(320).optional().describe('the envelope sender (MAIL FROM); empty: the null sender'),
  rcpt_to: z.array(z.string().min(1).max(320)).max(100).optional().describe('the envelope recipients (RCPT TO)'),
});

const authResult = z.string();
const authentication = z
  .object({
    spf: z.object({ result: authResult, domain: z.string().nullable() }),
    dkim: z.array(
      z.object({ result: authResult, domain: z.string(), selector: z.string().nullable(), aligned: z.boolean() }),
    ),
    dmarc: z.object({ result: authResult, domain: z.string().nullable(), policy: z.string().nullable() }),
    arc: authResult,
    action: z.enum(['none', 'quarantine', 'reject']),
  })
  .nullable()
  .describe('sender authentication, when remote_ip was given (action: what DMARC asks of the message)');

const tag = 'Spam';

/** Training from raw messages and a dry-run classification. */
export function spamRoutes(deps: ApiDeps): Route[] {
  const settings = spamSettings(deps);
  return [
    defineRoute({
      method: 'POST',
      path: '/spam/train/{class}',
      summary: 'Train the classifier with a raw message as spam or ham',
      tag,
      permission: 'spam.train',
      body: messageBody,
      response: z.object({
        class: z.enum(['spam', 'ham']),
        trained: z.boolean(),
        moved: z.boolean(),
        unchanged: z.boolean(),
        totals: z.object({ spam: z.number(), ham: z.number() }),
      }),
      handler: async ({ key, params, body }) => {
        const cls = params.class;
        if (cls !== 'spam' && cls !== 'ham') throw new ApiError('not_found', 'class must be spam or ham', 'class');
        const accountId = body.mailbox_id ? (await loadMailbox(deps, key, body.mailbox_id)).id : undefined;
        return { data: await trainMessage(deps, settings, Buffer.from(body.message, 'utf8'), cls, accountId) };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/spam/classify',
      summary: 'Score a raw message without delivering it',
      tag,
      permission: 'spam.test',
      body: classifyBody,
      response: z.object({
        score: z.number(),
        verdict: z.enum(['ham', 'junk', 'reject']),
        bayes_probability: z.number().nullable(),
        rules: z.array(z.object({ rule: z.string(), score: z.number(), description: z.string() })),
        authentication,
      }),
      handler: async ({ body }) => {
        const { remote_ip, helo, mail_from, rcpt_to } = body;
        if (remote_ip === undefined && (helo ?? mail_from ?? rcpt_to) !== undefined)
          throw new ApiError('missing_parameter', 'remote_ip is required with helo, mail_from or rcpt_to', 'remote_ip');
        const session = remote_ip
          ? classifySession(deps, { remoteIp: remote_ip, helo, mailFrom: mail_from, rcptTo: rcpt_to })
          : undefined;
        const raw = Buffer.from(body.message, 'utf8');
        const { result, bayes: verdict, authentication: auth } = await classifyMessage(deps, settings, raw, session);
        return {
          data: {
            score: result.score,
            verdict: result.verdict,
            bayes_probability: verdict.probability,
            rules: result.hits,
            authentication: auth && {
              spf: auth.spf,
              dkim: auth.dkim.map(({ result, domain, selector, aligned }) => ({ result, domain, selector, aligned })),
              dmarc: auth.dmarc,
              arc: auth.arc,
              action: auth.action,
            },
          },
        };
      },
    }),
  ];
}
