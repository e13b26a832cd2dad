// Logs and metrics (docs/API.md §12.4): outbound delivery logs are the queue jobs with their
// per-recipient attempts; inbound logs are the message.received(.spam) events; metrics count the
// delivery and receipt events. Both sources are kept for `events.retention_days`, which bounds them.
import { z } from 'zod';
import { countOf, eventsNewestFirst, RECEIVED, retainedSince } from '../../services/event-log.ts';
import type { QueueJob } from '../../store/queue.ts';
import type { Account, ApiKey, StoredEvent } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { publicId } from '../../store/public-ids.ts';
import { pageQuery } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { iso, isoOrNull, timestamp } from '../schemas.ts';
import { jobPage, loadJob, jobPublicId, recipientSchema, recipientView } from '../views/queue.ts';

const dateQuery = {
  from_date: z.iso.datetime({ offset: true }).optional().describe('RFC 3339; only entries at or after it'),
  to_date: z.iso.datetime({ offset: true }).optional().describe('RFC 3339; only entries before it'),
  search: z
    .string()
    .max(200)
    .optional()
    .describe('substring of the sender, a recipient or the subject (case-insensitive)'),
};

function period(query: { from_date?: string | undefined; to_date?: string | undefined }): (t: number) => boolean {
  const from = query.from_date ? Date.parse(query.from_date) : -Infinity;
  const to = query.to_date ? Date.parse(query.to_date) : Infinity;
  if (from >= to) throw new ApiError('invalid_parameter', 'from_date must be before to_date', 'from_date');
  return (t) => t >= from && t < to;
}

const matches = (search: string | undefined, ...values: string[]): boolean =>
  !search || values.some((v) => v.toLowerCase().includes(search.toLowerCase()));

// Outbound.

const outboundSchema = z.object({
  id: z.string(),
  message_id: z.string(),
  header_message_id: z.string().nullable(),
  mailbox_id: z.string().nullable(),
  from_email: z.string(),
  to_email: z.string().describe('the first recipient'),
  domain: z.string().describe('destination domain (one log per message and domain)'),
  subject: z.string(),
  status: z.enum(['pending', 'sent', 'failed']).describe('sent: at least one recipient accepted it'),
  status_reason: z.string().nullable().describe('the reply for a recipient that did not get it'),
  attempts: z.number().int(),
  sent_at: timestamp.nullable(),
  size_bytes: z.number().int(),
  recipient_count: z.number().int(),
  accepted_recipient_count: z.number().int(),
  rejected_recipient_count: z.number().int(),
  created_at: timestamp,
});
const outboundDetail = outboundSchema.extend({ recipients: z.array(recipientSchema) });

function outboundStatus(job: QueueJob): z.infer<typeof outboundSchema>['status'] {
  if (job.state === 'queued') return 'pending';
  return job.recipients.some((r) => r.status === 'delivered') ? 'sent' : 'failed';
}

function outboundView(job: QueueJob): z.infer<typeof outboundSchema> {
  const notDelivered = job.recipients.find(
    (r) => r.status !== 'delivered' && (r.lastResponse || r.status === 'cancelled'),
  );
  const deliveredAt = job.recipients.flatMap((r) => r.log.filter((a) => a.status === 'delivered').map((a) => a.time));
  return {
    id: jobPublicId('dlog', job),
    message_id: publicId('eml', job.messageId),
    header_message_id: job.headerMessageId,
    mailbox_id: job.accountId ? publicId('mbx', job.accountId) : null,
    from_email: job.from,
    to_email: job.recipients[0]?.address ?? '',
    domain: job.domain,
    subject: job.subject,
    status: outboundStatus(job),
    status_reason: notDelivered ? (notDelivered.lastResponse ?? 'cancelled') : null,
    attempts: job.attempts,
    sent_at: isoOrNull(deliveredAt.length ? Math.max(...deliveredAt) : null),
    size_bytes: job.size,
    recipient_count: job.recipients.length,
    accepted_recipient_count: job.recipients.filter((r) => r.status === 'delivered').length,
    rejected_recipient_count: job.recipients.filter((r) => r.status === 'bounced' || r.status === 'cancelled').length,
    created_at: iso(job.createdAt),
  };
}

// Inbound.

const inboundSchema = z.object({
  id: z.string(),
  event_type: z.enum(['message.received', 'message.received.spam']),
  mailbox_id: z.string().nullable(),
  mailbox_email: z.string().nullable(),
  message_id: z.string().nullable().describe('the Message-ID header'),
  from_email: z.string().describe('envelope sender'),
  to_emails: z.array(z.string()).describe('envelope recipients that reached this mailbox'),
  subject: z.string(),
  folder: z.string(),
  size_bytes: z.number().int(),
  is_spam: z.boolean(),
  spam_score: z.number().nullable(),
  received_at: timestamp,
});

function inboundView(event: StoredEvent, account: Account | undefined): z.infer<typeof inboundSchema> {
  const d = event.data as {
    message_id?: string | null;
    from?: string;
    to?: string[];
    subject?: string;
    folder?: string;
    size?: number;
    spam_score?: number;
  };
  return {
    id: `ilog_${event.id.slice(4)}`,
    event_type: event.type as z.infer<typeof inboundSchema>['event_type'],
    mailbox_id: event.accountId ? publicId('mbx', event.accountId) : null,
    mailbox_email: account?.address ?? null,
    message_id: d.message_id ?? null,
    from_email: d.from ?? '',
    to_emails: d.to ?? [],
    subject: d.subject ?? '',
    folder: d.folder ?? '',
    size_bytes: d.size ?? 0,
    is_spam: event.type === 'message.received.spam',
    spam_score: d.spam_score ?? null,
    received_at: iso(event.time),
  };
}

const ILOG = /^ilog_([0-9a-f]{12})$/;

async function loadInbound(deps: ApiDeps, caller: ApiKey, id: string): Promise<StoredEvent> {
  const match = ILOG.exec(id);
  const event = match ? await deps.store.events.get(parseInt(match[1]!, 16)) : undefined;
  if (!event || event.teamId !== caller.teamId || !RECEIVED.includes(event.type))
    throw new ApiError('not_found', `no inbound log ${JSON.stringify(id.slice(0, 64))}`, 'id');
  return event;
}

/** Accounts looked up once per request. */
function accountCache(deps: ApiDeps): (id: string | null) => Promise<Account | undefined> {
  const cache = new Map<string, Promise<Account | undefined>>();
  return (id) => {
    if (!id) return Promise.resolve(undefined);
    let found = cache.get(id);
    if (!found) cache.set(id, (found = deps.store.accounts.get(id)));
    return found;
  };
}

// Metrics.

const countsSchema = z.object({
  total: z.number().int().describe('outbound recipients with a final outcome (sent + failed)'),
  sent: z.number().int(),
  failed: z.number().int(),
  deferred: z.number().int().describe('attempts deferred for a retry'),
  received: z.number().int().describe('inbound deliveries to mailboxes'),
});
type Counts = z.infer<typeof countsSchema>;

const metricsSchema = z.object({
  window: z.enum(['24h', '7d', '30d']),
  granularity: z.enum(['hourly', 'daily']),
  from: timestamp,
  to: timestamp,
  data_since: timestamp.nullable().describe('events older than this are no longer kept (events.retention_days)'),
  summary: countsSchema,
  comparison: z.object({ previous: countsSchema, change_pct: z.record(z.string(), z.number().nullable()) }),
  timeseries: z.array(countsSchema.extend({ timestamp })),
});

const WINDOW_MS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
const zero = (): Counts => ({ total: 0, sent: 0, failed: 0, deferred: 0, received: 0 });

function add(into: Counts, event: StoredEvent): void {
  const c = countOf(event);
  into.sent += c.sent;
  into.failed += c.failed;
  into.deferred += c.deferred;
  into.received += c.received;
  into.total = into.sent + into.failed;
}

const tag = 'Logs';

export const logRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/emails/logs',
    summary: 'Outbound delivery logs, newest first (one per message and destination domain)',
    tag,
    permission: 'logs.read',
    query: z
      .object({
        ...pageQuery,
        ...dateQuery,
        status: z.enum(['pending', 'sent', 'failed']).optional(),
        mailbox_id: z.string().max(64).optional(),
      })
      .strict(),
    response: outboundSchema,
    list: true,
    handler: async ({ key, query }) => {
      const within = period(query);
      const accountId =
        query.mailbox_id === undefined ? undefined : parsePublicId('mbx', query.mailbox_id, 'mailbox_id');
      const { jobs, pagination } = await jobPage(
        deps,
        key.teamId,
        query,
        (job) =>
          within(job.createdAt) &&
          (!query.status || outboundStatus(job) === query.status) &&
          (accountId === undefined || job.accountId === accountId) &&
          matches(query.search, job.from, job.subject, ...job.recipients.map((r) => r.address)),
      );
      return { data: jobs.map(outboundView), pagination };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/emails/logs/{id}',
    summary: "One outbound log with each recipient's attempts",
    tag,
    permission: 'logs.read',
    response: outboundDetail,
    etag: true,
    handler: async ({ key, params }) => {
      const job = await loadJob(deps, key, 'dlog', params.id!);
      return { data: { ...outboundView(job), recipients: job.recipients.map(recipientView) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/inboxes/logs',
    summary: 'Inbound deliveries to mailboxes, newest first',
    tag,
    permission: 'logs.read',
    query: z
      .object({
        ...pageQuery,
        ...dateQuery,
        mailbox_id: z.string().max(64).optional(),
        event_type: z.enum(['message.received', 'message.received.spam']).optional(),
      })
      .strict(),
    response: inboundSchema,
    list: true,
    handler: async ({ key, query }) => {
      const within = period(query);
      let before: number | undefined;
      if (query.cursor !== undefined) {
        const match = ILOG.exec(Buffer.from(query.cursor, 'base64url').toString('latin1'));
        if (!match) throw new ApiError('invalid_parameter', 'cursor is not one this API returned', 'cursor');
        before = parseInt(match[1]!, 16);
      }
      const accountId =
        query.mailbox_id === undefined ? undefined : parsePublicId('mbx', query.mailbox_id, 'mailbox_id');
      const account = accountCache(deps);
      const found: StoredEvent[] = [];
      let more = false;
      for await (const event of eventsNewestFirst(deps, { teamId: key.teamId, accountId }, before)) {
        if (
          !RECEIVED.includes(event.type) ||
          (query.event_type && event.type !== query.event_type) ||
          !within(event.time)
        )
          continue;
        const d = event.data as { from?: string; to?: string[]; subject?: string };
        if (!matches(query.search, d.from ?? '', d.subject ?? '', ...(d.to ?? []))) continue;
        if (found.length === query.limit) {
          more = true;
          break;
        }
        found.push(event);
      }
      const data = await Promise.all(found.map(async (e) => inboundView(e, await account(e.accountId))));
      const pagination = more
        ? { has_more: true, next_cursor: Buffer.from(data.at(-1)!.id).toString('base64url') }
        : { has_more: false };
      return { data, pagination };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/inboxes/logs/{id}',
    summary: 'One inbound delivery',
    tag,
    permission: 'logs.read',
    response: inboundSchema,
    etag: true,
    handler: async ({ key, params }) => {
      const event = await loadInbound(deps, key, params.id!);
      return { data: inboundView(event, await deps.store.accounts.get(event.accountId ?? '')) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/emails/metrics',
    summary: 'Delivery and receipt counts: summary, change against the previous window, time series',
    tag: 'Metrics',
    permission: 'analytics.read',
    query: z
      .object({
        window: z.enum(['24h', '7d', '30d']).default('7d'),
        granularity: z.enum(['hourly', 'daily']).optional().describe('default: hourly for 24h, else daily'),
      })
      .strict(),
    response: metricsSchema,
    handler: async ({ key, query }) => {
      const granularity = query.granularity ?? (query.window === '24h' ? 'hourly' : 'daily');
      const step = granularity === 'hourly' ? 3_600_000 : 86_400_000;
      const span = WINDOW_MS[query.window];
      // Buckets end with the current (partial) one, aligned to UTC hours or days.
      const to = Math.floor(Date.now() / step) * step + step;
      const from = to - span;
      const summary = zero();
      const previous = zero();
      const series = new Map<number, Counts>();
      for (let t = from; t < to; t += step) series.set(t, zero());
      for await (const event of eventsNewestFirst(deps, { teamId: key.teamId })) {
        if (event.time >= to) continue;
        if (event.time < from - span) break;
        if (event.time < from) add(previous, event);
        else {
          add(summary, event);
          add(series.get(from + Math.floor((event.time - from) / step) * step)!, event);
        }
      }
      const change = (now: number, before: number) =>
        before === 0 ? null : Math.round(((now - before) / before) * 1000) / 10;
      const change_pct = Object.fromEntries(
        (Object.keys(summary) as (keyof Counts)[]).map((k) => [k, change(summary[k], previous[k])]),
      );
      return {
        data: {
          window: query.window,
          granularity,
          from: iso(from),
          to: iso(to),
          data_since: isoOrNull(await retainedSince(deps)),
          summary,
          comparison: { previous, change_pct },
          timeseries: [...series].map(([t, counts]) => ({ timestamp: iso(t), ...counts })),
        },
      };
    },
  }),
];
