import type { Db } from './db.ts';

export type Op =
  | { type: 'put'; key: string; value: Buffer }
  | { type: 'del'; key: string };

interface Pending { ops: Op[]; resolve: () => void; reject: (err: Error) => void }

export interface CommitStats { batches: number; writes: number; ops: number }

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
  readonly stats: CommitStats = { batches: 0, writes: 0, ops: 0 };
  private readonly db: Db;
  private readonly grouped: boolean;

  constructor(db: Db, grouped = true) {
    this.db = db;
    this.grouped = grouped;
  }

  /** Why the store stopped accepting writes, if it did: after a failed write memory and disk may differ. */
  get broken(): Error | null {
    return this.failure;
  }

  write(ops: Op[]): Promise<void> {
    if (this.failure) return Promise.reject(new Error(`store is unavailable after a write error: ${this.failure.message}`));
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
          await this.db.batch(ops as never, { sync: true });
        } catch (err) {
          this.failure = err as Error;
          for (const p of [...group, ...this.queue.splice(0)]) p.reject(err as Error);
          return;
        }
        this.stats.batches += 1;
        this.stats.writes += group.length;
        this.stats.ops += ops.length;
        for (const p of group) p.resolve();
      }
    } finally {
      this.flushing = false;
    }
  }
}
