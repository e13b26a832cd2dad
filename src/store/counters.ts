import type { Kv } from './db.ts';
import { keys, prefixRange } from './keys.ts';
import type { Tx } from './tx.ts';

/**
 * Global sequences (folder ids, event sequence, queue jobs). The process owns them: values live in
 * memory, each allocation writes the new value into the same batch as the record that uses it, and
 * batches reach the disk in order, so after a crash the stored value covers every stored record.
 */
export class Counters {
  private values = new Map<string, number>();
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async load(): Promise<void> {
    for (const [key, value] of await this.kv.entries<number>(prefixRange('n/'))) this.values.set(key.slice(2), value);
  }

  /** Replaces every value with what the disk has (after a failed write: Store.recover). */
  reset(entries: [string, number][]): void {
    this.values = new Map(entries.map(([key, value]) => [key.slice(2), value]));
  }

  current(name: string): number {
    return this.values.get(name) ?? 0;
  }

  next(tx: Tx, name: string): number {
    const value = this.current(name) + 1;
    this.values.set(name, value);
    tx.put(keys.counter(name), value);
    return value;
  }

  /** Raises a counter to at least `value` (used for UIDVALIDITY, which must never repeat). */
  atLeast(tx: Tx, name: string, value: number): number {
    const next = Math.max(value, this.current(name) + 1);
    this.values.set(name, next);
    tx.put(keys.counter(name), next);
    return next;
  }
}
