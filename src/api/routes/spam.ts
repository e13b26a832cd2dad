import { z } from 'zod';
import { classifyMessage, spamSettings, trainMessage } from '../../services/spam.ts';
import type { ApiDeps } from '../deps.ts';
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
      body: messageBody,
      response: z.object({
        score: z.number(),
        verdict: z.enum(['ham', 'junk', 'reject']),
        bayes_probability: z.number().nullable(),
        rules: z.array(z.object({ rule: z.string(), score: z.number(), description: z.string() })),
      }),
      handler: async ({ body }) => {
        const { result, bayes: verdict } = await classifyMessage(deps, settings, Buffer.from(body.message, 'utf8'));
        return {
          data: {
            score: result.score,
            verdict: result.verdict,
            bayes_probability: verdict.probability,
            rules: result.hits,
          },
        };
      },
    }),
  ];
}
