import type { EngineWindows } from '../store/engine.ts';

/** Where several nodes count one throttle (a shared store's windows, issue 20), and under what name. */
export interface SharedCount {
  windows: EngineWindows;
  /** Names the windows hold: `<prefix>/<key>`. */
  prefix: string;
}

/** A throttle and one of its keys. */
export type Counted = readonly [FailureThrottle, string];

/**
 * Counts failures per key (an IP, an account) in a sliding window. Protocols delay their answer
 * by `delayMs` once a key has failed, and refuse outright once it is `blocked`. With `shared` (a
 * store several nodes share) the failures are also recorded in the database, and `refresh` takes
 * what every node counted before a decision, so N nodes do not allow N times the failures; without
 * it everything stays in this process's memory.
 */
export class FailureThrottle {
  private failures = new Map<string, number[]>();
  private sweeps = 0;
  readonly limit: number;
  readonly windowMs: number;
  private readonly shared: SharedCount | undefined;

  constructor(limit = 10, windowMs = 15 * 60_000, shared?: SharedCount) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.shared = shared;
  }

  /** Counted for every node of a shared store (refresh reads the database). */
  get isShared(): boolean {
    return this.shared !== undefined;
  }

  private sharedName(key: string): string {
    return `${this.shared!.prefix}/${encodeURIComponent(key)}`;
  }

  /** Shared: the keys' failures as every node counted them, in place of this node's (one query). */
  static async refresh(counted: readonly Counted[]): Promise<void> {
    const shared = counted.filter(([throttle]) => throttle.shared);
    if (!shared.length) return;
    const since = Date.now() - Math.max(...shared.map(([throttle]) => throttle.windowMs));
    const names = shared.map(([throttle, key]) => throttle.sharedName(key));
    const times = await shared[0]![0].shared!.windows.times(names, since);
    shared.forEach(([throttle, key], i) => {
      if (times[i]!.length) throttle.failures.set(key, times[i]!);
      else throttle.failures.delete(key);
    });
  }

  /** A failure of each key, counted here and, shared, for every node (one write). */
  static async record(counted: readonly Counted[]): Promise<void> {
    for (const [throttle, key] of counted) throttle.fail(key);
    const shared = counted.filter(([throttle]) => throttle.shared);
    if (!shared.length) return;
    const keepMs = Math.max(...shared.map(([throttle]) => throttle.windowMs));
    const names = shared.map(([throttle, key]) => throttle.sharedName(key));
    await shared[0]![0].shared!.windows.hit(names, Date.now(), keepMs);
  }

  /** Forgets the key's failures here and, shared, for every node (a success). */
  async clear(key: string): Promise<void> {
    this.reset(key);
    if (this.shared) await this.shared.windows.remove(this.sharedName(key));
  }

  private recent(key: string, now = Date.now()): number[] {
    const times = (this.failures.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (times.length) this.failures.set(key, times);
    else this.failures.delete(key);
    return times;
  }

  fail(key: string): void {
    // Forget idle keys now and then so the map does not grow with every address ever seen.
    if (++this.sweeps % 1000 === 0) for (const k of [...this.failures.keys()]) this.recent(k);
    const times = this.recent(key);
    times.push(Date.now());
    this.failures.set(key, times);
  }

  /** Failures of `key` within the window. */
  count(key: string): number {
    return this.recent(key).length;
  }

  blocked(key: string): boolean {
    return this.recent(key).length >= this.limit;
  }

  /** Grows with each failure (250 ms, 500 ms, … up to 4 s) to slow down guessing. */
  delayMs(key: string): number {
    const count = this.recent(key).length;
    return count === 0 ? 0 : Math.min(4000, 250 * 2 ** (count - 1));
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Seconds until the oldest failure leaves the window. */
  retryAfterSeconds(key: string): number {
    const times = this.recent(key);
    return times.length ? Math.ceil((times[0]! + this.windowMs - Date.now()) / 1000) : 0;
  }
}
