// The durable outbound queue (docs/ARCHITECTURE.md §6): one job per destination domain, its recipients each with
// their own status and delivery log. `qj/<jobId>` holds the job, `q/<dueAt>/<jobId>` indexes the
// jobs still to try by due time. The message bytes are a blob referenced once per job (released when
// the job ends), and every change is written in one batch with the event that reports it.
import type { Blobs } from './blobs.ts';
import { blobHash } from './blobs.ts';
import type { Counters } from './counters.ts';
import type { Kv, Notifier } from './db.ts';
import type { Events } from './events.ts';
import { hex, keys, prefixRange, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { Relays } from './relays.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';
import type { StoredEvent } from './types.ts';
import { indexMessage } from '../mime/index.ts';

export type RecipientStatus = 'queued' | 'deferred' | 'delivered' | 'bounced' | 'cancelled';

/** One try at one recipient: what the delivery log shows. */
export interface DeliveryAttempt {
  time: number;
  attempt: number;
  /** Remote host tried (MX name, relay host) or "local". */
  mx: string | null;
  tls: boolean;
  /** The remote's reply, or our own description of a failure (connection refused, expired …). */
  response: string;
  status: 'delivered' | 'deferred' | 'bounced';
}

export interface QueueRecipient {
  address: string;
  status: RecipientStatus;
  attempts: number;
  lastResponse: string | null;
  /** Latest attempts first dropped beyond LOG_LIMIT. */
  log: DeliveryAttempt[];
}

export interface QueueJob {
  id: string;
  /** Shared by the jobs made from one submitted message (one per destination domain). */
  messageId: string;
  teamId: string;
  accountId: string | null;
  apiKeyId: string | null;
  /** Envelope sender; "" is the null sender (bounces), which never gets a bounce back. */
  from: string;
  /** Destination domain (lower case). */
  domain: string;
  blob: string;
  size: number;
  headerMessageId: string | null;
  subject: string;
  recipients: QueueRecipient[];
  /** queued: still has recipients to try; done: every recipient delivered or bounced; cancelled. */
  state: 'queued' | 'done' | 'cancelled';
  attempts: number;
  createdAt: number;
  dueAt: number;
  lastAttemptAt: number | null;
  /** A delay notice went to the sender already. */
  delayNotified: boolean;
}

export interface NewOutboundMessage {
  teamId: string;
  accountId?: string | null;
  apiKeyId?: string | null;
  from: string;
  to: string[];
  /** The message as it goes out (signed). */
  raw: Buffer;
  headerMessageId?: string | null;
  subject?: string;
  dueAt?: number;
}

export interface Enqueued {
  messageId: string;
  jobs: QueueJob[];
  event: StoredEvent;
}

export interface QueueListOptions {
  state?: QueueJob['state'];
  teamId?: string;
  domain?: string;
  /** Job id to continue after (pagination). */
  after?: string;
  limit?: number;
}

const LOG_LIMIT = 50;

export const domainOfAddress = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

export class Queue {
  readonly relays: Relays;
  private readonly kv: Kv;
  private readonly counters: Counters;
  private readonly blobs: Blobs;
  private readonly events: Events;
  private readonly notifier: Notifier;
  /** Serialises read-modify-write of one job (the runner's result, an API cancel or retry). */
  private readonly jobs = new KeyedMutex();

  constructor(kv: Kv, counters: Counters, blobs: Blobs, events: Events, notifier: Notifier) {
    this.kv = kv;
    this.counters = counters;
    this.blobs = blobs;
    this.events = events;
    this.notifier = notifier;
    this.relays = new Relays(kv);
  }

  /** Queues a message: its jobs, the blob reference and a message.queued event in one durable batch. */
  enqueue(input: NewOutboundMessage): Promise<Enqueued> {
    // Shared store: another node (or this one's Sent copy of the same bytes, built in the transaction)
    // changing the blob's count makes it start again from the stored count (§4.8).
    return this.kv.retrying(async () => {
      await this.prepare(input.raw);
      const tx = new Tx();
      const staged = this.stage(tx, input);
      await this.kv.commit(tx);
      return staged;
    });
  }

  /** Loads what stage() needs for these bytes; await it before building the transaction. */
  async prepare(raw: Buffer): Promise<void> {
    await this.blobs.load(blobHash(raw));
  }

  /** Adds a message's jobs to a transaction (after prepare(raw)), e.g. a bounce with the job update that caused it. */
  stage(tx: Tx, input: NewOutboundMessage): Enqueued {
    if (input.to.length === 0) throw new Error('no recipients');
    const sha = blobHash(input.raw);
    const now = Date.now();
    const dueAt = input.dueAt ?? now;
    const messageId = newId(now);
    const byDomain = new Map<string, string[]>();
    for (const rcpt of input.to) {
      const list = byDomain.get(domainOfAddress(rcpt)) ?? [];
      if (!list.includes(rcpt)) list.push(rcpt);
      byDomain.set(domainOfAddress(rcpt), list);
    }
    const jobs: QueueJob[] = [];
    for (const [domain, rcpts] of byDomain) {
      const job: QueueJob = {
        id: hex(this.counters.next(tx, 'queue'), 12),
        messageId,
        teamId: input.teamId,
        accountId: input.accountId ?? null,
        apiKeyId: input.apiKeyId ?? null,
        from: input.from,
        domain,
        blob: sha,
        size: input.raw.length,
        headerMessageId: input.headerMessageId ?? null,
        subject: input.subject ?? '',
        recipients: rcpts.map((address) => ({ address, status: 'queued', attempts: 0, lastResponse: null, log: [] })),
        state: 'queued',
        attempts: 0,
        createdAt: now,
        dueAt,
        lastAttemptAt: null,
        delayNotified: false,
      };
      this.blobs.addRef(
        tx,
        sha,
        this.blobs.refCount(sha) === 0 ? { raw: input.raw, index: indexMessage(input.raw) } : undefined,
      );
      tx.put(keys.queueJob(job.id), job);
      tx.put(keys.queue(job.dueAt, job.id), 1);
      jobs.push(job);
    }
    const event = this.events.append(tx, {
      type: 'message.queued',
      teamId: input.teamId,
      accountId: input.accountId ?? null,
      data: {
        message_id: messageId,
        jobs: jobs.map((j) => j.id),
        from: input.from,
        to: input.to,
        subject: input.subject ?? '',
        header_message_id: input.headerMessageId ?? null,
        size: input.raw.length,
      },
    });
    tx.onCommit(() => this.notifier.emit('queue', { dueAt }));
    return { messageId, jobs, event };
  }

  get(jobId: string): Promise<QueueJob | undefined> {
    return this.kv.get<QueueJob>(keys.queueJob(jobId));
  }

  /** Jobs in id (creation) order, newest last; filters apply to that page's scan. */
  async list(options: QueueListOptions = {}): Promise<{ jobs: QueueJob[]; next: string | null }> {
    const limit = options.limit ?? 100;
    const jobs: QueueJob[] = [];
    for await (const [, value] of this.kv.iterate(ranges.queueJobs(options.after))) {
      const job = JSON.parse(value.toString('utf8')) as QueueJob;
      if (options.state && job.state !== options.state) continue;
      if (options.teamId && job.teamId !== options.teamId) continue;
      if (options.domain && job.domain !== options.domain.toLowerCase()) continue;
      if (jobs.length === limit) return { jobs, next: jobs.at(-1)!.id };
      jobs.push(job);
    }
    return { jobs, next: null };
  }

  /**
   * Newest jobs first (ids follow creation), starting before job `before`, keeping those `match`
   * accepts, up to `limit`; `more` says whether another accepted job follows. A selective filter
   * scans the finished jobs kept for the retention period.
   */
  async listRecent(options: {
    before?: string;
    limit: number;
    match: (job: QueueJob) => boolean;
  }): Promise<{ jobs: QueueJob[]; more: boolean }> {
    const range = {
      ...prefixRange(keys.queueJob('')),
      ...(options.before ? { lt: keys.queueJob(options.before) } : {}),
      reverse: true,
    };
    const jobs: QueueJob[] = [];
    for await (const [, value] of this.kv.iterate(range)) {
      const job = JSON.parse(value.toString('utf8')) as QueueJob;
      if (!options.match(job)) continue;
      if (jobs.length === options.limit) return { jobs, more: true };
      jobs.push(job);
    }
    return { jobs, more: false };
  }

  /** Ids of queued jobs due at or before `until`, earliest first. */
  async due(until: number, limit = 1000): Promise<string[]> {
    return (await this.kv.keys({ ...ranges.queueDue(until), limit })).map((k) => k.slice(k.lastIndexOf('/') + 1));
  }

  /** When the earliest queued job is due (ms), or null when nothing is queued. */
  async nextDueAt(): Promise<number | null> {
    const [first] = await this.kv.keys({ ...ranges.queueIndex(), limit: 1 });
    return first === undefined ? null : parseInt(first.split('/')[1]!, 16);
  }

  /** Runs `fn` with the job locked against other read-modify-write cycles on it. */
  lock<T>(jobId: string, fn: () => Promise<T>): Promise<T> {
    return this.jobs.run(jobId, fn);
  }

  /**
   * Writes `next` over `before` in a transaction: the record, its index entry when still queued,
   * and the blob release once it ends. Await `loadBlob(before)` first.
   */
  update(tx: Tx, before: QueueJob, next: QueueJob): void {
    for (const r of next.recipients) if (r.log.length > LOG_LIMIT) r.log.splice(0, r.log.length - LOG_LIMIT);
    if (before.state === 'queued') tx.del(keys.queue(before.dueAt, before.id));
    if (next.state === 'queued') {
      tx.put(keys.queue(next.dueAt, next.id), 1);
      tx.onCommit(() => this.notifier.emit('queue', { dueAt: next.dueAt }));
    } else if (before.state === 'queued') this.blobs.release(tx, before.blob, before.size);
    tx.put(keys.queueJob(next.id), next);
  }

  loadBlob(job: QueueJob): Promise<number> {
    return this.blobs.load(job.blob);
  }

  /** Makes a queued job due now (its deferred recipients are tried at the next pass). */
  retryNow(jobId: string): Promise<QueueJob | undefined> {
    return this.lock(jobId, async () => {
      const job = await this.get(jobId);
      if (job?.state !== 'queued') return job;
      const tx = new Tx();
      const next = { ...job, dueAt: Date.now() };
      this.update(tx, job, next);
      await this.kv.commit(tx);
      return next;
    });
  }

  /** Stops a queued job: recipients not yet delivered are cancelled, a message.failed event says so. */
  cancel(jobId: string): Promise<QueueJob | undefined> {
    return this.lock(jobId, async () => {
      const job = await this.get(jobId);
      if (job?.state !== 'queued') return job;
      await this.loadBlob(job);
      const cancelled = job.recipients
        .filter((r) => r.status === 'queued' || r.status === 'deferred')
        .map((r) => r.address);
      const next: QueueJob = {
        ...job,
        state: 'cancelled',
        recipients: job.recipients.map((r) => (cancelled.includes(r.address) ? { ...r, status: 'cancelled' } : r)),
      };
      const tx = new Tx();
      this.update(tx, job, next);
      this.events.append(tx, {
        type: 'message.failed',
        teamId: job.teamId,
        accountId: job.accountId,
        data: { message_id: job.messageId, job_id: job.id, recipients: cancelled, reason: 'cancelled' },
      });
      await this.kv.commit(tx);
      return next;
    });
  }

  /** Deletes finished jobs (done, cancelled) created before `before` (ms); returns how many. */
  async prune(before: number): Promise<number> {
    let removed = 0;
    const tx = new Tx();
    for await (const [key, value] of this.kv.iterate(ranges.queueJobs())) {
      const job = JSON.parse(value.toString('utf8')) as QueueJob;
      if (job.createdAt >= before) break; // ids are allocated in creation order
      if (job.state === 'queued') continue;
      tx.del(key);
      removed++;
    }
    await this.kv.commit(tx);
    return removed;
  }
}
