// What the queue and log routes share about outbound jobs: public ids, the caller's job, a page of
// the team's jobs, and each recipient's view.
import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import type { QueueJob } from '../../store/queue.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { iso, timestamp } from '../schemas.ts';

const JOB_ID = /^[0-9a-f]{12}$/;

export const jobPublicId = (prefix: string, job: QueueJob): string => `${prefix}_${job.id}`;

/** A job of the caller's team by public id (`<prefix>_<12 hex>`), else 404. */
export async function loadJob(deps: ApiDeps, caller: ApiKey, prefix: string, id: string): Promise<QueueJob> {
  const raw = id.startsWith(`${prefix}_`) ? id.slice(prefix.length + 1) : '';
  const job = JOB_ID.test(raw) ? await deps.store.queue.get(raw) : undefined;
  if (!job || job.teamId !== caller.teamId)
    throw new ApiError('not_found', `no ${prefix} with id ${JSON.stringify(id.slice(0, 64))}`, 'id');
  return job;
}

/**
 * A page of the team's jobs, newest first, that `match` accepts; the cursor is the last job's id
 * (opaque to clients, as every cursor of this API).
 */
export async function jobPage(
  deps: ApiDeps,
  teamId: string,
  query: { limit: number; cursor?: string | undefined },
  match: (job: QueueJob) => boolean,
) {
  let before: string | undefined;
  if (query.cursor !== undefined) {
    before = Buffer.from(query.cursor, 'base64url').toString('latin1');
    if (!JOB_ID.test(before)) throw new ApiError('invalid_parameter', 'cursor is not one this API returned', 'cursor');
  }
  const { jobs, more } = await deps.store.queue.listRecent({
    before,
    limit: query.limit,
    match: (job) => job.teamId === teamId && match(job),
  });
  const pagination = more
    ? { has_more: true, next_cursor: Buffer.from(jobs.at(-1)!.id).toString('base64url') }
    : { has_more: false };
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

export const recipientView = (r: QueueJob['recipients'][number]): z.infer<typeof recipientSchema> => ({
  address: r.address,
  status: r.status,
  attempts: r.attempts,
  response: r.lastResponse,
  log: r.log.map((a) => ({
    time: iso(a.time),
    attempt: a.attempt,
    mx: a.mx,
    tls: a.tls,
    response: a.response,
    status: a.status,
  })),
});
