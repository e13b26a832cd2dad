import type { CheckedBatch, Engine } from './engine.ts';
import type { Op } from './tx.ts';

interface Pending extends CheckedBatch {
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

/**
 * Another server sharing the store changed what this write was derived from (docs/ARCHITECTURE.md
 * §4.8): nothing of it was written. The operation reloads `keys` and starts again (withRetries); when
 * retries run out the client is told to try again (SMTP 451 4.3.0, IMAP NO [UNAVAILABLE], API 503).
 */
export class StoreConflictError extends Error {
  readonly keys: string[];
  /** Per key, how many reloads memory had had when the batch was built (Kv.generation). */
  generations = new Map<string, number>();
  constructor(keys: string[]) {
    super(`another server changed ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ', …' : ''}`);
    this.keys = keys;
  }
}

/** Reloads what memory holds of the conflict's keys from the database (Store.refresh). */
export type Refresh = (conflict: StoreConflictError) => Promise<void>;

// Enough for a few nodes writing one folder at once; each retry starts from reloaded state, after a
// random pause of up to 2, 4, 8 … 64 ms (about 1.5 s in all at most).
const CONFLICT_ATTEMPTS = 30;
const CONFLICT_PAUSE_MAX_MS = 64;

/**
 * Runs a whole operation (a delivery, APPEND, STORE, EXPUNGE, COPY/MOVE) again from the top after a
 * StoreConflictError, with what it was derived from reloaded and a short random pause that grows,
 * so two nodes racing for one folder stop colliding. Nothing was written by a failed attempt.
 */
export async function withRetries<T>(refresh: Refresh | undefined, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StoreConflictError) || !refresh || attempt >= CONFLICT_ATTEMPTS) throw err;
      await refresh(err);
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 ** attempt, CONFLICT_PAUSE_MAX_MS)));
    }
  }
}

/** Brings the store back after a failed write; rejects while it still cannot write. */
export type Recover = () => Promise<void>;

const NONE: ReadonlyMap<string, Buffer | null> = new Map();

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
  private readonly db: Pick<Engine, 'batch' | 'shared'>;
  private readonly grouped: boolean;

  constructor(db: Pick<Engine, 'batch' | 'shared'>, grouped = true) {
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

  write(
    ops: Op[],
    expected: ReadonlyMap<string, Buffer | null> = NONE,
    built: Pick<CheckedBatch, 'reads' | 'build' | 'sequenced'> = {},
  ): Promise<void> {
    if (this.failure) return Promise.reject(new StoreUnavailableError(this.failure));
    if (ops.length === 0 && expected.size === 0 && !built.build && !built.sequenced?.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, expected, ...built, resolve, reject });
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
        let conflicts: (string[] | Error | null)[] | undefined;
        try {
          // Shared: one transaction still, but a batch whose expectations fail is left out, alone.
          if (this.db.shared) conflicts = await this.db.shared.commitChecked(group);
          else await this.db.batch(ops);
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
        // Only the batches the shared engine accepted reached the disk (all of them otherwise).
        this.written?.(conflicts ? group.filter((_, i) => !conflicts[i]).flatMap((p) => p.ops) : ops);
        group.forEach((p, i) => {
          const refused = conflicts?.[i];
          if (!refused) p.resolve();
          else p.reject(refused instanceof Error ? refused : new StoreConflictError(refused));
        });
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
