import { z } from 'zod';
import { classify as scoreMessage } from '../../inbound/classify.ts';
import type { AuthVerdict } from '../../inbound/authenticate.ts';
import { parseHeaders, domainOf } from '../../inbound/message.ts';
import { classify as bayes, train, type ClassifierOptions } from '../../spam/classifier.ts';
import type { SpamScorer } from '../../spam/types.ts';
import { headerRules } from '../../spam/rules.ts';
import { bayesScorer } from '../../spam/classifier.ts';
import type { RspamdClient } from '../../spam/rspamd.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { loadMailbox } from './mailboxes.ts';

/** The server's spam settings, as the MX uses them (scorers, thresholds, Bayes options). */
export interface SpamSettings {
  scorers: SpamScorer[];
  junkScore: number;
  rejectScore: number;
  bayes: ClassifierOptions;
  /** The operator's rspamd, taught what the API is taught. */
  rspamd?: RspamdClient;
}

const messageBody = z
  .object({
    message: z.string().min(1).max(25 * 1024 * 1024).describe('the raw RFC 5322 message'),
    mailbox_id: z.string().optional().describe('train this mailbox\'s own model too (when per-mailbox models are on)'),
  })
  .strict();

// The API has no SMTP session: authentication results are "none", so only content rules and Bayes speak.
const UNAUTHENTICATED: AuthVerdict = {
  spf: { result: 'none', domain: null },
  dkim: [],
  dmarc: { result: 'none', domain: null, policy: null },
  arc: 'none',
  bimi: 'none',
  action: 'none',
};

const tag = 'Spam';

/** The MX's spam settings, or the defaults when the server gave none. */
export const spamSettings = (deps: ApiDeps): SpamSettings =>
  deps.spam ?? { scorers: [headerRules, bayesScorer(deps.store)], junkScore: 5, rejectScore: 15, bayes: {} };

/** Trains the server model (and `accountId`'s own, when per-mailbox models are on) with one raw message. */
export async function trainMessage(deps: ApiDeps, settings: SpamSettings, raw: Buffer, cls: 'spam' | 'ham', accountId?: string) {
  const result = await train(deps.store, raw, cls, { ...settings.bayes, accountId });
  await settings.rspamd?.learn(raw, cls);
  const model = await deps.store.spam.model('s');
  return { class: cls, trained: result.trained > 0, moved: result.moved > 0, unchanged: result.unchanged > 0, totals: { ...model.totals } };
}

/** Scores a raw message as the MX would, minus the SMTP session (authentication results "none"). */
export async function classifyMessage(deps: ApiDeps, settings: SpamSettings, raw: Buffer) {
  const headers = parseHeaders(raw);
  const fromDomain = headers.from.length === 1 ? domainOf(headers.from[0]!) : null;
  const input = { raw, headers, auth: UNAUTHENTICATED, mailFrom: '', fromHosted: fromDomain !== null && !!(await deps.store.domains.get(fromDomain)), accountIds: [] };
  return { result: await scoreMessage(input, settings), bayes: await bayes(deps.store, raw, settings.bayes) };
}

/** Training from raw messages and a dry-run classification. */
export function spamRoutes(deps: ApiDeps): Route[] {
  const settings = spamSettings(deps);
  return [
  defineRoute({
    method: 'POST', path: '/spam/train/{class}', summary: 'Train the classifier with a raw message as spam or ham', tag, permission: 'spam.train',
    body: messageBody,
    response: z.object({ class: z.enum(['spam', 'ham']), trained: z.boolean(), moved: z.boolean(), unchanged: z.boolean(), totals: z.object({ spam: z.number(), ham: z.number() }) }),
    handler: async ({ key, params, body }) => {
      const cls = params.class;
      if (cls !== 'spam' && cls !== 'ham') throw new ApiError('not_found', 'class must be spam or ham', 'class');
      const accountId = body.mailbox_id ? (await loadMailbox(deps, key, body.mailbox_id)).id : undefined;
      return { data: await trainMessage(deps, settings, Buffer.from(body.message, 'utf8'), cls, accountId) };
    },
  }),
  defineRoute({
    method: 'POST', path: '/spam/classify', summary: 'Score a raw message without delivering it', tag, permission: 'spam.test',
    body: messageBody,
    response: z.object({
      score: z.number(),
      verdict: z.enum(['ham', 'junk', 'reject']),
      bayes_probability: z.number().nullable(),
      rules: z.array(z.object({ rule: z.string(), score: z.number(), description: z.string() })),
    }),
    handler: async ({ body }) => {
      const { result, bayes: verdict } = await classifyMessage(deps, settings, Buffer.from(body.message, 'utf8'));
      return { data: { score: result.score, verdict: result.verdict, bayes_probability: verdict.probability, rules: result.hits } };
    },
  }),
];
}
