// The outbound queue (API.md §B9): a team's jobs (one per message and destination domain) with each
// recipient's status and delivery log; retry now, cancel.
import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import type { QueueJob } from '../../store/queue.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { publicId } from '../../store/public-ids.ts';
import { pageQuery } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { domainName, iso, isoOrNull, timestamp } from '../schemas.ts';

const JOB_ID = /^[0-9a-f]{12}$/;

export const jobPublicId = (prefix: string, job: QueueJob): string => `${prefix}_${job.id}`;

/** A job of the caller's team by public id (`<prefix>_<12 hex>`), else 404. */
export async function loadJob(deps: ApiDeps, caller: ApiKey, prefix: string, id: string): Promise<QueueJob> {
  const raw = id.startsWith(`${prefix}_`) ? id.slice(prefix.length + 1) : '';
  const job = JOB_ID.test(raw) ? await deps.store.queue.get(raw) : undefined;
  if (!job || job.teamId !== caller.teamId) throw new ApiError('not_found', `no ${prefix} with id ${JSON.stringify(id.slice(0, 64))}`, 'id');
  return job;
}

/**
 * A page of the team's jobs, newest first, that `match` accepts; the cursor is the last job's id
 * (opaque to clients, as every cursor of this API).
 */
export async function jobPage(deps: ApiDeps, teamId: string, query: { limit: number; cursor?: string | undefined }, match: (job: QueueJob) => boolean) {
  let before: string | undefined;
  if (query.cursor !== undefined) {
    before = Buffer.from(query.cursor, 'base64url').toString('latin1');
    if (!JOB_ID.test(before)) throw new ApiError('invalid_parameter', 'cursor is not one this API returned', 'cursor');
  }
  const { jobs, more } = await deps.store.queue.listRecent({ before, limit: query.limit, match: (job) => job.teamId === teamId && match(job) });
  const pagination = more ? { has_more: true, next_cursor: Buffer.from(jobs.at(-1)!.id).toString('base64url') } : { has_more: false };
  return { jobs, pagination };
}

const attemptSchema = z.object({
  time: timestamp,
  attempt: z.number().int(),
  mx: z.string().nullable().describe('host tried: MX, relay, or "local"'),
  tls: z.boolean(),
  response: z.string(),
  status: z.enum(['delivered', 'deferred', 'bounced']),
});

export const recipientSchema = z.object({
  address: z.string(),
  status: z.enum(['queued', 'deferred', 'delivered', 'bounced', 'cancelled']),
  attempts: z.number().int(),
  response: z.string().nullable().describe('the last reply'),
  log: z.array(attemptSchema),
});

const jobSchema = z.object({
  id: z.string(),
  message_id: z.string().describe('shared by the jobs of one submitted message'),
  status: z.enum(['queued', 'done', 'cancelled']),
  from: z.string().describe('envelope sender ("" for bounces)'),
  domain: z.string().describe('destination domain'),
  subject: z.string(),
  header_message_id: z.string().nullable(),
  mailbox_id: z.string().nullable(),
  size_bytes: z.number().int(),
  attempts: z.number().int(),
  next_attempt_at: timestamp.nullable(),
  last_attempt_at: timestamp.nullable(),
  created_at: timestamp,
  recipients: z.array(recipientSchema),
});

export const recipientView = (r: QueueJob['recipients'][number]): z.infer<typeof recipientSchema> => ({
  address: r.address,
  status: r.status,
  attempts: r.attempts,
  response: r.lastResponse,
  log: r.log.map((a) => ({ time: iso(a.time), attempt: a.attempt, mx: a.mx, tls: a.tls, response: a.response, status: a.status })),
});

const jobView = (job: QueueJob): z.infer<typeof jobSchema> => ({
  id: jobPublicId('qmsg', job),
  message_id: publicId('eml', job.messageId),
  status: job.state,
  from: job.from,
  domain: job.domain,
  subject: job.subject,
  header_message_id: job.headerMessageId,
  mailbox_id: job.accountId ? publicId('mbx', job.accountId) : null,
  size_bytes: job.size,
  attempts: job.attempts,
  next_attempt_at: job.state === 'queued' ? iso(job.dueAt) : null,
  last_attempt_at: isoOrNull(job.lastAttemptAt),
  created_at: iso(job.createdAt),
  recipients: job.recipients.map(recipientView),
});

const tag = 'Queue';

export const queueRoutes = (deps: ApiDeps): Route[] => {
  /** Runs a queue operation on a job still queued (409 once it is not); cancelling a cancelled job again just returns it. */
  const operate = async (caller: ApiKey, id: string, op: 'retryNow' | 'cancel') => {
    const job = await loadJob(deps, caller, 'qmsg', id);
    if (op === 'cancel' && job.state === 'cancelled') return { data: jobView(job) };
    const next = job.state === 'queued' ? await deps.store.queue[op](job.id) : job;
    if (!next || next.state !== (op === 'cancel' ? 'cancelled' : 'queued')) {
      throw new ApiError('conflict', `the message is no longer queued (${next?.state ?? 'gone'})`);
    }
    return { data: jobView(next) };
  };

  return [
    defineRoute({
      method: 'GET', path: '/queue/messages', summary: 'Outbound jobs, newest first', tag, permission: 'queue.read',
      query: z.object({
        ...pageQuery,
        status: z.enum(['queued', 'done', 'cancelled']).optional(),
        domain: domainName.optional().describe('destination domain'),
      }).strict(),
      response: jobSchema, list: true,
      handler: async ({ key, query }) => {
        const { jobs, pagination } = await jobPage(deps, key.teamId, query, (job) => (!query.status || job.state === query.status) && (!query.domain || job.domain === query.domain));
        return { data: jobs.map(jobView), pagination };
      },
    }),
    defineRoute({
      method: 'GET', path: '/queue/messages/{id}', summary: 'One job with its recipients\' delivery logs', tag, permission: 'queue.read', response: jobSchema, etag: true,
      handler: async ({ key, params }) => ({ data: jobView(await loadJob(deps, key, 'qmsg', params.id!)) }),
    }),
    defineRoute({
      method: 'POST', path: '/queue/messages/{id}/retry', summary: 'Try the deferred recipients now', tag, permission: 'queue.manage', response: jobSchema,
      errors: ['conflict'],
      handler: async ({ key, params }) => operate(key, params.id!, 'retryNow'),
    }),
    defineRoute({
      method: 'DELETE', path: '/queue/messages/{id}', summary: 'Cancel: recipients not yet delivered are dropped (idempotent)', tag, permission: 'queue.manage', response: jobSchema,
      errors: ['conflict'],
      handler: async ({ key, params }) => operate(key, params.id!, 'cancel'),
    }),
  ];
};
