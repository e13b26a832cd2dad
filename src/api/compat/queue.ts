// `/api/queue/*` (Stalwart 0.15 shapes) over the native outbound queue. A Stalwart message is a job
// here (one per message and destination domain); its numeric id is the job id read as hex.
import type { QueueJob } from '../../store/queue.ts';
import { Tx } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { badParameters, unsupported } from './errors.ts';
import { type CompatRequest, type CompatRoute, need } from './route.ts';

/** Jobs scanned for one listing or bulk operation. */
const MAX_SCAN = 10_000;

const numericId = (job: QueueJob): number => parseInt(job.id, 16);
const rfc3339 = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const pending = (r: QueueJob['recipients'][number]) => r.status === 'queued' || r.status === 'deferred';

function status(r: QueueJob['recipients'][number]): unknown {
  switch (r.status) {
    case 'queued':
      return 'scheduled';
    case 'deferred':
      return { temp_fail: r.lastResponse ?? '' };
    case 'delivered':
      return { completed: r.lastResponse ?? '' };
    case 'bounced':
      return { perm_fail: r.lastResponse ?? '' };
    case 'cancelled':
      return { perm_fail: 'Delivery canceled.' };
  }
}

const messageView = (job: QueueJob) => ({
  id: numericId(job),
  return_path: job.from,
  created: rfc3339(job.createdAt),
  size: job.size,
  blob_hash: job.blob,
  recipients: job.recipients.map((r) => ({
    address: r.address,
    queue: 'default',
    status: status(r),
    retry_num: r.attempts,
    ...(job.state === 'queued' && pending(r) ? { next_retry: rfc3339(job.dueAt) } : {}),
  })),
});

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (Number.isNaN(ms)) throw badParameters(`${name} must be an RFC 3339 time`);
  return ms;
}

/** The team's queued jobs matching Stalwart's filters (`text`, `from`, `to`, `before`, `after`). */
async function matching(deps: ApiDeps, teamId: string, query: CompatRequest['query']): Promise<QueueJob[]> {
  const lower = (v: string | undefined) => v?.toLowerCase();
  const [text, from, to] = [lower(query.text), lower(query.from), lower(query.to)];
  const before = time(query.before, 'before');
  const after = time(query.after, 'after');
  const { jobs } = await deps.store.queue.listRecent({
    limit: MAX_SCAN,
    match: (job) =>
      job.teamId === teamId &&
      job.state === 'queued' &&
      (!from || job.from.toLowerCase().includes(from)) &&
      (!to || job.recipients.some((r) => r.address.includes(to))) &&
      (!text ||
        job.from.toLowerCase().includes(text) ||
        job.subject.toLowerCase().includes(text) ||
        job.recipients.some((r) => r.address.includes(text))) &&
      (before === undefined || job.dueAt < before) &&
      (after === undefined || job.dueAt > after),
  });
  return jobs;
}

async function load(deps: ApiDeps, teamId: string, id: string): Promise<QueueJob> {
  const hex = /^\d{1,15}$/.test(id) ? Number(id).toString(16).padStart(12, '0') : '';
  const job = hex.length === 12 ? await deps.store.queue.get(hex) : undefined;
  if (!job || job.teamId !== teamId) throw new ApiError('not_found', `no queued message ${id.slice(0, 32)}`);
  return job;
}

/** Makes a queued job due at `at` (now when absent or past); false when it is no longer queued. */
async function reschedule(deps: ApiDeps, job: QueueJob, at: number | undefined): Promise<boolean> {
  if (at === undefined || at <= Date.now()) return (await deps.store.queue.retryNow(job.id))?.state === 'queued';
  const queue = deps.store.queue;
  return queue.lock(job.id, async () => {
    const current = await queue.get(job.id);
    if (current?.state !== 'queued') return false;
    const tx = new Tx();
    queue.update(tx, current, { ...current, dueAt: at });
    await deps.store.kv.commit(tx);
    return true;
  });
}

/** Cancels a job whose pending recipients all match `filter`; the queue cannot cancel part of a job. */
async function cancel(deps: ApiDeps, job: QueueJob, filter: string | undefined): Promise<boolean> {
  if (job.state !== 'queued') return false;
  const open = job.recipients.filter(pending);
  const hit = filter ? open.filter((r) => r.address.includes(filter.toLowerCase())) : open;
  if (hit.length === 0) return false;
  if (hit.length < open.length) throw unsupported('a message is cancelled for all its pending recipients at once');
  return (await deps.store.queue.cancel(job.id))?.state === 'cancelled';
}

const matchesFilter = (job: QueueJob, filter: string | undefined) =>
  !filter || job.recipients.some((r) => pending(r) && r.address.includes(filter.toLowerCase()));

export const queueRoutes = (deps: ApiDeps): CompatRoute[] => [
  {
    method: 'GET',
    path: /^\/queue\/messages$/,
    handler: async (req) => {
      const key = need(req, 'queue.read');
      const jobs = await matching(deps, key.teamId, req.query);
      const page = Math.max(1, Number(req.query.page) || 1);
      const limit = Number(req.query.limit) || 0;
      const slice = limit > 0 ? jobs.slice((page - 1) * limit, page * limit) : jobs;
      return {
        items: req.query.values !== undefined ? slice.map(messageView) : slice.map(numericId),
        total: jobs.length,
        status: true,
      };
    },
  },
  {
    method: 'GET',
    path: /^\/queue\/messages\/([^/]+)$/,
    handler: async (req) => messageView(await load(deps, need(req, 'queue.read').teamId, req.params[0]!)),
  },
  {
    method: 'PATCH',
    path: /^\/queue\/messages\/([^/]+)$/,
    handler: async (req) => {
      const job = await load(deps, need(req, 'queue.manage').teamId, req.params[0]!);
      if (job.state !== 'queued' || !matchesFilter(job, req.query.filter)) return false;
      return reschedule(deps, job, time(req.query.at, 'at'));
    },
  },
  {
    method: 'DELETE',
    path: /^\/queue\/messages\/([^/]+)$/,
    handler: async (req) =>
      cancel(deps, await load(deps, need(req, 'queue.manage').teamId, req.params[0]!), req.query.filter),
  },
  {
    method: 'PATCH',
    path: /^\/queue\/messages$/,
    handler: async (req) => {
      const jobs = await matching(deps, need(req, 'queue.manage').teamId, req.query);
      const at = time(req.query.at, 'at');
      for (const job of jobs) await reschedule(deps, job, at);
      return jobs.length > 0;
    },
  },
  {
    method: 'DELETE',
    path: /^\/queue\/messages$/,
    handler: async (req) => {
      const jobs = await matching(deps, need(req, 'queue.manage').teamId, req.query);
      for (const job of jobs) await cancel(deps, job, undefined);
      return jobs.length > 0;
    },
  },
  // The queue runner is not paused from the API: it always runs.
  {
    method: 'GET',
    path: /^\/queue\/status$/,
    handler: async (req) => {
      need(req, 'queue.read');
      return true;
    },
  },
  {
    method: 'PATCH',
    path: /^\/queue\/status\/(stop|start)$/,
    handler: async (req) => {
      need(req, 'queue.manage');
      throw unsupported('the queue cannot be paused');
    },
  },
];
