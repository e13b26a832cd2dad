// Records that expire, pruned through an index of their expiry times (`<prefix>/<hex expiresAt>/…`), so a
// pass reads what is due by a range scan, not every record (idempotency.ts, greylist.ts).
import type { Kv, RangeOptions } from './db.ts';
import { Tx } from './tx.ts';

const PRUNE_EVERY_MS = 60_000;
/** Entries deleted in one pass that rides on a write. */
export const PRUNE_BATCH = 1000;

/**
 * One family's expiry index: its passes, and when the next one is due. Pruning rides on the family's own
 * writes, with no timer to keep a process alive; one pass at a time. A pass is due once a minute, or at once
 * while the last pass left entries due behind it: then a flood of writes is pruned as fast as it comes, not
 * a thousand a minute while the table grows.
 */
export class ExpiryIndex {
  private readonly kv: Kv;
  private readonly due: (now: number) => RangeOptions;
  private readonly recordOf: (entry: string) => string;
  private lastPass = 0;
  private behind = false;
  /** A pass that fell due while another ran: the time it fell due at. */
  private queued: number | undefined;
  private running: Promise<number> | undefined;

  /** `due(now)`: the index entries expired by then; `recordOf(entry)`: the key of the record it indexes. */
  constructor(kv: Kv, due: (now: number) => RangeOptions, recordOf: (entry: string) => string) {
    this.kv = kv;
    this.due = due;
    this.recordOf = recordOf;
  }

  /**
   * Starts a pass when a minute has gone by since the last one, or when the last one was a full batch; one due
   * while a pass is under way starts when it ends. The write that triggers it does not wait for it: a pass of up
   * to PRUNE_BATCH reads must not hold that write's reply; one that fails is tried again on a later write.
   */
  whenDue(now: number): void {
    if (!this.behind && now - this.lastPass <= PRUNE_EVERY_MS) return;
    this.lastPass = now;
    if (this.running) this.queued = now;
    else this.start(now);
  }

  private start(now: number): void {
    this.prune(now, PRUNE_BATCH)
      .then(
        (pruned) => void (this.behind = pruned === PRUNE_BATCH),
        () => undefined,
      )
      .finally(() => {
        const next = this.queued;
        this.queued = undefined;
        if (next !== undefined) this.start(next);
      });
  }

  /**
   * Deletes the expiry entries due at `now` (at most `batchSize`) and each one's record, unless the record was
   * renewed since: it then has a later entry of its own and stays. Returns how many entries were due. A pass
   * under way is finished first.
   */
  async prune(now: number, batchSize = PRUNE_BATCH): Promise<number> {
    while (this.running) await this.running.catch(() => undefined);
    const pass = this.pass(now, batchSize);
    this.running = pass;
    try {
      return await pass;
    } finally {
      this.running = undefined;
    }
  }

  private async pass(now: number, batchSize: number): Promise<number> {
    const entries = await this.kv.keys({ ...this.due(now), limit: batchSize });
    if (entries.length === 0) return 0;
    const tx = new Tx();
    for (const entry of entries) {
      tx.del(entry);
      const key = this.recordOf(entry);
      const record = await this.kv.get<{ expiresAt: number }>(key);
      if (record && record.expiresAt <= now) tx.del(key);
    }
    await this.kv.commit(tx);
    return entries.length;
  }
}
