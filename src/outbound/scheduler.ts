// Picks due queue jobs and starts an attempt for each, within the global and per-domain concurrency
// limits; sleeps until the next due time (or the poll interval). What an attempt does is the
// caller's `run`: the scheduler only guarantees one attempt per job at a time in this process (the runner
// claims a lease for it across nodes; a job another node holds is left alone until the next poll).
import type { Logger } from 'pino';
import type { Queue, QueueJob } from '../store/queue.ts';
import { forgetLapsed } from '../store/leases.ts';

export interface SchedulerOptions {
  queue: Pick<Queue, 'due' | 'get' | 'nextDueAt'>;
  /** Attempts in flight. */
  concurrency: number;
  /** Attempts in flight to one destination domain. */
  perDomainConcurrency: number;
  /** Safety rescan of the queue. */
  pollIntervalMs: number;
  /**
   * One attempt, recorded; its failure is logged, never retried here. 'elsewhere': another node holds
   * the job's lease, so it is not picked again before the next poll.
   */
  run(job: QueueJob): Promise<void | 'elsewhere'>;
  logger: Logger;
}

export interface Scheduler {
  start(): void;
  /** Looks for due jobs now. */
  kick(): void;
  /** Stops picking jobs and resolves once every attempt in flight has finished. */
  stop(): Promise<void>;
  readonly inFlight: number;
}

export function createScheduler(o: SchedulerOptions): Scheduler {
  const { queue, logger: log } = o;
  const running = new Map<string, Promise<void>>(); // jobId → attempt
  const perDomain = new Map<string, number>();
  const elsewhere = new Map<string, number>(); // jobId → when to look at it again
  let started = false;
  let stopping = false;
  let pumping = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;

  function kick(): void {
    if (!started || stopping) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void pump()
      .catch((err: Error) => log.error({ err }, 'queue scan failed'))
      .finally(() => {
        pumping = false;
      });
  }

  async function pump(): Promise<void> {
    do {
      again = false;
      forgetLapsed(elsewhere);
      if (running.size >= o.concurrency) break;
      const due = await queue.due(Date.now(), o.concurrency * 8 + running.size);
      for (const jobId of due) {
        if (stopping || running.size >= o.concurrency) break;
        if (running.has(jobId) || elsewhere.has(jobId)) continue;
        const job = await queue.get(jobId);
        // The index read above may predate an attempt that just finished and rescheduled the job.
        if (job?.state !== 'queued' || running.has(jobId) || job.dueAt > Date.now()) continue;
        if ((perDomain.get(job.domain) ?? 0) >= o.perDomainConcurrency) continue;
        begin(job);
      }
    } while (again && !stopping);
    await sleep();
  }

  /** Sleeps until the next future due time (jobs due now but blocked wait for a running attempt to end). */
  async function sleep(): Promise<void> {
    if (stopping) return;
    const next = await queue.nextDueAt();
    const now = Date.now();
    const wait = next !== null && next > now ? Math.min(next - now, o.pollIntervalMs) : o.pollIntervalMs;
    if (timer) clearTimeout(timer);
    timer = setTimeout(kick, wait + 1);
    timer.unref();
  }

  function begin(job: QueueJob): void {
    perDomain.set(job.domain, (perDomain.get(job.domain) ?? 0) + 1);
    const attempt = o
      .run(job)
      .then((result) => {
        if (result === 'elsewhere') elsewhere.set(job.id, Date.now() + o.pollIntervalMs);
      })
      .catch((err: Error) => log.error({ err, job: job.id }, 'delivery attempt failed to record'))
      .finally(() => {
        running.delete(job.id);
        const left = (perDomain.get(job.domain) ?? 1) - 1;
        if (left > 0) perDomain.set(job.domain, left);
        else perDomain.delete(job.domain);
        kick();
      });
    running.set(job.id, attempt);
  }

  return {
    start() {
      started = true;
      kick();
    },
    kick,
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      while (pumping || running.size) {
        await Promise.all([...running.values()]);
        if (pumping) await new Promise((r) => setTimeout(r, 5));
      }
    },
    get inFlight() {
      return running.size;
    },
  };
}
