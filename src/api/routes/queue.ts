// The outbound queue (docs/API.md §12.4): a team's jobs (one per message and destination domain) with each
// recipient's status and delivery log; retry now, cancel.
import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import type { QueueJob } from '../../store/queue.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { publicId } from '../../store/public-ids.ts';
import { pageQuery } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { jobPage, jobPublicId, loadJob, recipientSchema, recipientView } from '../views/queue.ts';
import { domainName, iso, isoOrNull, timestamp } from '../schemas.ts';

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
      method: 'GET',
      path: '/queue/messages',
      summary: 'Outbound jobs, newest first',
      tag,
      permission: 'queue.read',
      query: z
        .object({
          ...pageQuery,
          status: z.enum(['queued', 'done', 'cancelled']).optional(),
          domain: domainName.optional().describe('destination domain'),
        })
        .strict(),
      response: jobSchema,
      list: true,
      handler: async ({ key, query }) => {
        const { jobs, pagination } = await jobPage(
          deps,
          key.teamId,
          query,
          (job) => (!query.status || job.state === query.status) && (!query.domain || job.domain === query.domain),
        );
        return { data: jobs.map(jobView), pagination };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/queue/messages/{id}',
      summary: "One job with its recipients' delivery logs",
      tag,
      permission: 'queue.read',
      response: jobSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: jobView(await loadJob(deps, key, 'qmsg', params.id!)) }),
    }),
    defineRoute({
      method: 'POST',
      path: '/queue/messages/{id}/retry',
      summary: 'Try the deferred recipients now',
      tag,
      permission: 'queue.manage',
      response: jobSchema,
      errors: ['conflict'],
      handler: async ({ key, params }) => operate(key, params.id!, 'retryNow'),
    }),
    defineRoute({
      method: 'DELETE',
      path: '/queue/messages/{id}',
      summary: 'Cancel: recipients not yet delivered are dropped (idempotent)',
      tag,
      permission: 'queue.manage',
      response: jobSchema,
      errors: ['conflict'],
      handler: async ({ key, params }) => operate(key, params.id!, 'cancel'),
    }),
  ];
};
