// Usage and quotas (docs/API.md §12.4): what a team sent, received and stores. Without credits there is no
// balance, so `/billing/*` answer the same usage figures under Sendmux's paths.
import { z } from 'zod';
import type { Team } from '../../store/index.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { publicId } from '../../store/public-ids.ts';
import { defineRoute, type Route } from '../registry.ts';
import { iso, isoOrNull, timestamp } from '../schemas.ts';
import { countOf, eventsNewestFirst, retainedSince } from '../../services/event-log.ts';

const DAY = 86_400_000;
const days = z.enum(['7', '30', '90']).default('30').transform(Number).describe('period in days (7, 30 or 90)');

const mailboxUsageSchema = z.object({
  mailbox_id: z.string(),
  email: z.string(),
  used_bytes: z.number().int(),
  messages: z.number().int(),
  quota_bytes: z.number().int().describe('0: unlimited'),
});

const usageSchema = z.object({
  period_days: z.number().int(),
  from: timestamp,
  to: timestamp,
  data_since: timestamp.nullable().describe('counts cover only events kept since then (events.retention_days)'),
  sent: z.number().int().describe('outbound recipients accepted by the receiving server'),
  received: z.number().int().describe('inbound deliveries to mailboxes'),
  days: z.array(
    z.object({ date: z.string().describe('UTC day, YYYY-MM-DD'), sent: z.number().int(), received: z.number().int() }),
  ),
  storage: z.object({
    used_bytes: z.number().int(),
    messages: z.number().int(),
    mailboxes: z.array(mailboxUsageSchema),
  }),
});

const summarySchema = z.object({
  period_days: z.number().int(),
  data_since: timestamp.nullable(),
  outbound_accepted_recipients: z.number().int(),
  inbound_deliveries: z.number().int(),
  storage_bytes: z.number().int(),
  currency: z.null().describe('no prices are configured'),
});

const limitSchema = z.object({ used: z.number().int(), max: z.number().int(), is_at_limit: z.boolean() });
const balanceSchema = z.object({
  balance: z.null().describe('credits are not enabled'),
  currency: z.null(),
  quotas: z.object({
    domains: limitSchema,
    mailboxes: limitSchema,
    api_keys: limitSchema,
    storage_bytes: z.number().int(),
    storage_quota_bytes: z.number().int().describe('sum of mailbox quotas; 0 if any is unlimited'),
  }),
});

/** Sent and received per UTC day over the last `period` days (today included), from the team's events. */
async function dailyCounts(deps: ApiDeps, teamId: string, period: number) {
  const to = Math.floor(Date.now() / DAY) * DAY + DAY;
  const from = to - period * DAY;
  const perDay = new Map<number, { sent: number; received: number }>();
  for (let t = from; t < to; t += DAY) perDay.set(t, { sent: 0, received: 0 });
  for await (const event of eventsNewestFirst(deps, { teamId })) {
    if (event.time < from) break;
    const day = perDay.get(Math.floor(event.time / DAY) * DAY);
    if (!day) continue;
    const c = countOf(event);
    day.sent += c.sent;
    day.received += c.received;
  }
  const list = [...perDay].map(([t, c]) => ({ date: iso(t).slice(0, 10), ...c }));
  return {
    from,
    to,
    days: list,
    sent: list.reduce((n, d) => n + d.sent, 0),
    received: list.reduce((n, d) => n + d.received, 0),
  };
}

async function storage(deps: ApiDeps, teamId: string) {
  const accounts = await deps.store.accounts.listForTeam(teamId);
  const mailboxes = accounts.map((a) => {
    const usage = deps.store.folders.usage(a.id);
    return {
      mailbox_id: publicId('mbx', a.id),
      email: a.address,
      used_bytes: usage.bytes,
      messages: usage.messages,
      quota_bytes: a.quotaBytes,
    };
  });
  return {
    used_bytes: mailboxes.reduce((n, m) => n + m.used_bytes, 0),
    messages: mailboxes.reduce((n, m) => n + m.messages, 0),
    quota_bytes: mailboxes.some((m) => m.quota_bytes === 0) ? 0 : mailboxes.reduce((n, m) => n + m.quota_bytes, 0),
    mailboxes,
  };
}

async function quotas(deps: ApiDeps, team: Team): Promise<z.infer<typeof balanceSchema>['quotas']> {
  const limit = (used: number, max: number) => ({ used, max, is_at_limit: used >= max });
  const keys = (await deps.store.apiKeys.listForTeam(team.id)).filter(
    (k) => !k.revokedAt && !(k.expiresAt && k.expiresAt < Date.now()),
  );
  const stored = await storage(deps, team.id);
  return {
    domains: limit((await deps.store.domains.listForTeam(team.id)).length, team.limits.maxDomains),
    mailboxes: limit(stored.mailboxes.length, team.limits.maxMailboxes),
    api_keys: limit(keys.length, team.limits.maxApiKeys),
    storage_bytes: stored.used_bytes,
    storage_quota_bytes: stored.quota_bytes,
  };
}

const tag = 'Usage';

export const usageRoutes = (deps: ApiDeps): Route[] => {
  const summary = (path: string) =>
    defineRoute({
      method: 'GET',
      path,
      summary: 'Usage totals over a period',
      tag,
      permission: 'billing.read',
      query: z.object({ days }).strict(),
      response: summarySchema,
      handler: async ({ key, query }) => {
        const counts = await dailyCounts(deps, key.teamId, query.days);
        return {
          data: {
            period_days: query.days,
            data_since: isoOrNull(await retainedSince(deps)),
            outbound_accepted_recipients: counts.sent,
            inbound_deliveries: counts.received,
            storage_bytes: (await storage(deps, key.teamId)).used_bytes,
            currency: null,
          },
        };
      },
    });
  const balance = (path: string) =>
    defineRoute({
      method: 'GET',
      path,
      summary: "Balance (null: no credits) and the team's limits and storage",
      tag,
      permission: 'billing.read',
      response: balanceSchema,
      handler: async ({ key }) => ({
        data: { balance: null, currency: null, quotas: await quotas(deps, await teamOf(deps, key.teamId)) },
      }),
    });

  const usage = (path: string) =>
    defineRoute({
      method: 'GET',
      path,
      summary: 'Messages sent and received per day, storage per mailbox',
      tag,
      permission: 'billing.read',
      query: z.object({ days }).strict(),
      response: usageSchema,
      handler: async ({ key, query }) => {
        const counts = await dailyCounts(deps, key.teamId, query.days);
        const stored = await storage(deps, key.teamId);
        return {
          data: {
            period_days: query.days,
            from: iso(counts.from),
            to: iso(counts.to),
            data_since: isoOrNull(await retainedSince(deps)),
            sent: counts.sent,
            received: counts.received,
            days: counts.days,
            storage: { used_bytes: stored.used_bytes, messages: stored.messages, mailboxes: stored.mailboxes },
          },
        };
      },
    });

  return [
    usage('/usage'),
    // The Sendmux overview's example reads `GET /billing/usage`.
    usage('/billing/usage'),
    summary('/usage/summary'),
    summary('/billing/summary'),
    balance('/usage/balance'),
    balance('/billing/balance'),
  ];
};
