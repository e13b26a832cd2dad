// Per-client limits shared by the SMTP listeners (MX now, submission later): concurrent connections
// per IP and a sliding-window rate per IP. In memory: they protect one process, not a cluster.

/** Counts open connections per key; acquire() refuses once a key holds `max`. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();
  readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  acquire(key: string): boolean {
    const count = this.open.get(key) ?? 0;
    if (this.max > 0 && count >= this.max) return false;
    this.open.set(key, count + 1);
    return true;
  }

  release(key: string): void {
    const count = (this.open.get(key) ?? 1) - 1;
    if (count > 0) this.open.set(key, count);
    else this.open.delete(key);
  }

  count(key: string): number {
    return this.open.get(key) ?? 0;
  }
}

/** At most `limit` hits per key in any `windowMs`; hit() records and answers whether it was allowed. */
export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  private sweeps = 0;
  readonly limit: number;
  readonly windowMs: number;

  constructor(limit: number, windowMs = 60_000) {
    this.limit = limit;
    this.windowMs = windowMs;
  }

  hit(key: string, now = Date.now()): boolean {
    if (this.limit <= 0) return true;
    // Forget idle keys now and then so the map does not grow with every address ever seen.
    if (++this.sweeps % 1000 === 0) this.sweep(now);
    const times = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (times.length >= this.limit) {
      this.hits.set(key, times);
      return false;
    }
    times.push(now);
    this.hits.set(key, times);
    return true;
  }

  /** Seconds until the key may try again. */
  retryAfterSeconds(key: string, now = Date.now()): number {
    const oldest = (this.hits.get(key) ?? []).find((t) => now - t < this.windowMs);
    return oldest === undefined ? 0 : Math.ceil((oldest + this.windowMs - now) / 1000);
  }

  private sweep(now: number): void {
    for (const [key, times] of this.hits) if (!times.some((t) => now - t < this.windowMs)) this.hits.delete(key);
  }
}
