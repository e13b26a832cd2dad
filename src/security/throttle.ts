/**
 * Counts failures per key (an IP, an account) in a sliding window. Protocols delay their answer
 * by `delayMs` once a key has failed, and refuse outright once it is `blocked`.
 */
export class FailureThrottle {
  private failures = new Map<string, number[]>();
  private sweeps = 0;
  readonly limit: number;
  readonly windowMs: number;

  constructor(limit = 10, windowMs = 15 * 60_000) {
    this.limit = limit;
    this.windowMs = windowMs;
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

  /** Takes the failure times another holder counted (a shared store's, issue 20) in place of its own. */
  load(key: string, times: number[]): void {
    if (times.length) this.failures.set(key, times);
    else this.failures.delete(key);
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
