import type { Kv } from './db.ts';
import type { SharedEngine } from './engine.ts';
import { StoreConflictError } from './committer.ts';
import { keys, prefixRange } from './keys.ts';
import type { Tx } from './tx.ts';

// Shared store: values a node reserves at once per sequence (docs/ARCHITECTURE.md §4.8), and when
// the next block is asked for (before this one runs out, so allocation stays synchronous).
const BLOCK: Record<string, number> = { queue: 1000 };
const DEFAULT_BLOCK = 100;

interface Block {
  next: number;
  end: number;
}

/**
 * Global sequences (folder ids, event sequence, queue jobs). The process owns them: values live in
 * memory, each allocation writes the new value into the same batch as the record that uses it, and
 * batches reach the disk in order, so after a crash the stored value covers every stored record.
 * On a shared store each node instead takes values from blocks it reserved in the database (the
 * stored value is the highest reserved by any node), so nodes never hand out the same value.
 */
export class Counters {
  private values = new Map<string, number>();
  private readonly kv: Kv;
  private readonly shared: SharedEngine | undefined;
  private readonly blocks = new Map<string, Block[]>();
  private readonly reserving = new Map<string, Promise<void>>();

  constructor(kv: Kv) {
    this.kv = kv;
    this.shared = kv.engine.shared;
  }

  async load(): Promise<void> {
    if (this.shared) {
      // uidvalidity: at least the time, as a single server allocates it.
      // Not `event`: its values are taken at commit, in commit order (Events.append, Tx.sequence).
      await Promise.all(['folder', 'uidvalidity', 'queue'].map((name) => this.reserve(name)));
      return;
    }
    for (const [key, value] of await this.kv.entries<number>(prefixRange('n/'))) this.values.set(key.slice(2), value);
  }

  /** Replaces every value with what the disk has (after a failed write: Store.recover). */
  reset(entries: [string, number][]): void {
    if (this.shared) return; // reserved blocks stay reserved: they were committed when taken
    this.values = new Map(entries.map(([key, value]) => [key.slice(2), value]));
  }

  current(name: string): number {
    return this.values.get(name) ?? 0;
  }

  next(tx: Tx, name: string): number {
    if (this.shared) return this.take(name);
    const value = this.current(name) + 1;
    this.values.set(name, value);
    tx.put(keys.counter(name), value);
    return value;
  }

  /** Raises a counter to at least `value` (used for UIDVALIDITY, which must never repeat). */
  atLeast(tx: Tx, name: string, value: number): number {
    if (this.shared) return this.take(name); // blocks start at the time they were reserved
    const next = Math.max(value, this.current(name) + 1);
    this.values.set(name, next);
    tx.put(keys.counter(name), next);
    return next;
  }

  /** Waits for a block of `name` (after an allocation found none: the StoreConflictError's retry). */
  async refill(name: string): Promise<void> {
    if (this.shared && !this.blocks.get(name)?.length) await this.reserve(name);
  }

  private take(name: string): number {
    const blocks = this.blocks.get(name) ?? [];
    const block = blocks[0];
    if (!block) {
      void this.reserve(name).catch(() => {});
      throw new StoreConflictError([keys.counter(name)]);
    }
    const value = block.next++;
    if (block.next > block.end) blocks.shift();
    const size = BLOCK[name] ?? DEFAULT_BLOCK;
    if (blocks.length < 2 && (blocks[0]?.end ?? 0) - (blocks[0]?.next ?? 0) < size / 2)
      void this.reserve(name).catch(() => {});
    this.values.set(name, value);
    return value;
  }

  private reserve(name: string): Promise<void> {
    let running = this.reserving.get(name);
    if (running) return running;
    const size = BLOCK[name] ?? DEFAULT_BLOCK;
    const atLeast = name === 'uidvalidity' ? Math.floor(Date.now() / 1000) : 0;
    running = this.shared!.reserve(keys.counter(name), size, atLeast).then((end) => {
      let blocks = this.blocks.get(name);
      if (!blocks) this.blocks.set(name, (blocks = []));
      blocks.push({ next: end - size + 1, end });
    });
    const done = running.finally(() => this.reserving.delete(name));
    this.reserving.set(name, done);
    return done;
  }
}
