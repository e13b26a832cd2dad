import type { Engine } from './engine.ts';
import type { Op } from './tx.ts';

interface Pending {
  ops: Op[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * A write was refused because the store cannot write right now (disk full, I/O error): nothing of it
 * was acknowledged, and the client should try again later (IMAP NO [SERVERUNAVAILABLE], SMTP 452
 * 4.3.1, API 503 with Retry-After).
 */
export class StoreUnavailableError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(`store is temporarily unavailable: ${cause.message}`);
    this.cause = cause;
  }
}

/** Brings the store back after a failed write; rejects while it still cannot write. */
export type Recover = () => Promise<void>;

const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5000;

export interface CommitStats {
  batches: number;
  writes: number;
  ops: number;
}

/**
 * Group commit: every write is durable (`sync: true`) before its promise resolves, but writers that
 * arrive while an fsync is in flight share the next one, so durability does not cap throughput.
 * Writes reach the disk in the order they were submitted; callers rely on that to keep in-memory
 * counters (UIDs, MODSEQs, refcounts) and their stored snapshots consistent.
 */
export class Committer {
  private queue: Pending[] = [];
  private flushing = false;
  private failure: Error | null = null;
  private recover: Recover | null = null;
  private written: ((ops: Op[]) => void) | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly stats: CommitStats = { batches: 0, writes: 0, ops: 0 };
  private readonly db: Pick<Engine, 'batch'>;
  private readonly grouped: boolean;

  constructor(db: Pick<Engine, 'batch'>, grouped = true) {
    this.db = db;
    this.grouped = grouped;
  }

  /** Why the store is refusing writes, if it is (until `recover` has succeeded). */
  get broken(): Error | null {
    return this.failure;
  }

  /**
   * After a failed write, memory (UIDs, counters, refcounts) may be ahead of the disk: every write is
   * refused until `recover` (reopen the database, probe a write, reload what memory keeps) succeeds;
   * it is retried with backoff, so the store comes back by itself once space returns.
   */
  onFailure(recover: Recover): void {
    this.recover = recover;
  }

  /**
   * Called with each batch once it is durable, before any of its writers resumes, in submission
   * order: what memory mirrors of the disk (the directory cache) stays exactly in step with it.
   */
  onWritten(fn: (ops: Op[]) => void): void {
    this.written = fn;
  }

  write(ops: Op[]): Promise<void> {
    if (this.failure) return Promise.reject(new StoreUnavailableError(this.failure));
    if (ops.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Resolves once everything submitted so far is on disk. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length) await new Promise((r) => setTimeout(r, 1));
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length) {
        const group = this.grouped ? this.queue.splice(0) : this.queue.splice(0, 1);
        const ops = group.length === 1 ? group[0]!.ops : group.flatMap((p) => p.ops);
        try {
          await this.db.batch(ops);
        } catch (err) {
          // The later batches were built on memory that counted this one in: all of them fail.
          this.failure = err as Error;
          const refused = new StoreUnavailableError(err as Error);
          for (const p of [...group, ...this.queue.splice(0)]) p.reject(refused);
          this.scheduleRecovery(RETRY_FIRST_MS);
          return;
        }
        this.stats.batches += 1;
        this.stats.writes += group.length;
        this.stats.ops += ops.length;
        this.written?.(ops);
        for (const p of group) p.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }

  private scheduleRecovery(delayMs: number): void {
    if (!this.recover || this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.recover!().then(
        () => {
          this.failure = null;
        },
        (err: Error) => {
          this.failure = err;
          this.scheduleRecovery(Math.min(delayMs * 2, RETRY_MAX_MS));
        },
      );
    }, delayMs);
    this.retryTimer.unref();
  }

  /** Stops recovery attempts (the store is closing). */
  stop(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}
