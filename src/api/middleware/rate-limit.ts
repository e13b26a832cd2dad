import type { Context } from 'koa';
import type { EngineWindows } from '../../store/engine.ts';
import { ApiError } from '../errors.ts';

/** `limit` requests per `windowMs` (a fixed window that starts with a key's first request in it). */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface RateLimitOptions {
  /** Root (management) keys and unauthenticated callers by IP. Default 600 per 60 s. */
  management?: RateLimit;
  /** Sending and mailbox keys. Default 1,800 per 60 s. */
  sending?: RateLimit;
  /** Clock (ms), for tests. */
  now?: () => number;
  /**
   * A store several nodes share (its `Engine.windows`, issue 20): every node's requests count against
   * one limit per key (see SharedCounts). Without it this process's memory is the count.
   */
  shared?: EngineWindows;
  /** Shared: names the windows hold, `<scope>/<subject>` (default `api`). */
  scope?: string;
  /** Shared: longest a node keeps counts unexchanged (default 250 ms). */
  syncMs?: number;
}

interface Window {
  start: number;
  used: number;
}

const MAX_TRACKED = 100_000;

/**
 * Shared: the requests one node admits for one key without having exchanged counts, K. Past the
 * limit L, N nodes admit at most (N - 1) × K more in a window: each node's own count never passes L,
 * and what it has not yet seen of another node is that node's unexchanged K (docs/ARCHITECTURE.md §4.8).
 */
export const unexchangedPerNode = (limit: number): number => Math.max(1, Math.floor(limit / 16));

/**
 * Per-key request windows with `X-RateLimit-Limit/Remaining/Reset` on every response and 429
 * `rate_limit_exceeded` + `Retry-After` past the limit. In memory when one process serves the API; on a
 * shared store counted across the nodes (SharedCounts), which may make `charge` wait for an exchange.
 */
export class RateLimiter {
  private readonly management: RateLimit;
  private readonly sending: RateLimit;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();
  private readonly shared: SharedCounts | undefined;

  constructor(options: RateLimitOptions = {}) {
    this.management = options.management ?? { limit: 600, windowMs: 60_000 };
    this.sending = options.sending ?? { limit: 1800, windowMs: 60_000 };
    this.now = options.now ?? Date.now;
    if (options.shared)
      this.shared = new SharedCounts(options.shared, options.scope ?? 'api', this.now, options.syncMs ?? 250);
  }

  /**
   * Counts one request for `subject`, sets the headers, throws 429 when over the limit. Synchronous on
   * a store of one node; on a shared one a promise (await it).
   */
  charge(ctx: Context, subject: string, kind: 'management' | 'sending'): void | Promise<void> {
    const rate = kind === 'management' ? this.management : this.sending;
    if (this.shared) return this.shared.charge(ctx, subject, rate);
    const { limit, windowMs } = rate;
    const now = this.now();
    let window = this.windows.get(subject);
    if (!window || now - window.start >= windowMs) {
      if (!window && this.windows.size >= MAX_TRACKED) this.sweep(now);
      window = { start: now, used: 0 };
      this.windows.set(subject, window);
    }
    window.used++;
    const resetMs = window.start + windowMs;
    verdict(ctx, { limit, windowMs }, window.used, resetMs, now);
  }

  /** Forgets finished windows (all windows are at most the longest window long). */
  private sweep(now: number): void {
    const longest = Math.max(this.management.windowMs, this.sending.windowMs);
    for (const [subject, window] of this.windows) if (now - window.start >= longest) this.windows.delete(subject);
  }
}

/** Sets the headers of a request counted as the `used`-th of its window; throws 429 past the limit. */
function verdict(ctx: Context, { limit, windowMs }: RateLimit, used: number, resetMs: number, now: number): void {
  ctx.set('X-RateLimit-Limit', String(limit));
  ctx.set('X-RateLimit-Remaining', String(Math.max(0, limit - used)));
  ctx.set('X-RateLimit-Reset', String(Math.ceil(resetMs / 1000)));
  if (used > limit) {
    const retryAfter = Math.max(1, Math.ceil((resetMs - now) / 1000));
    throw new ApiError(
      'rate_limit_exceeded',
      `rate limit of ${limit} requests per ${windowMs / 1000} s exceeded`,
      null,
      {
        headers: { 'Retry-After': String(retryAfter) },
      },
    );
  }
}

/** Shared: how long a node whose exchange failed counts alone before requests wait for one again. */
const ALONE_MS = 1000;

/** One key's window on a shared store, as this node knows it. */
interface SharedWindow {
  name: string;
  /** Aligned to the clock (a multiple of windowMs), so every node's window of a key is the same one. */
  start: number;
  rate: RateLimit;
  /** Every node's requests in the window as the database counted them at the last exchange (this node's included). */
  seen: number;
  /** Admitted here since, not yet written. */
  unsent: number;
  /** Admitted here and being written by the exchange in flight. */
  sending: number;
}

/**
 * A key's requests counted across the nodes of a shared store at a fraction of a database round trip
 * per request: each node admits against `seen + its own not yet seen`, writes what it admitted to the
 * counted windows (one event each, `<scope>/<subject>`) and reads back every node's totals in one
 * exchange, at most `syncMs` after a key's request and at once when a key has K = unexchangedPerNode
 * unexchanged requests; a request that would be the K+1-th waits for it. So each node's own view never
 * admits past the limit and what it cannot see of the others is at most K per other node: at most
 * (N - 1) × K over the limit in a window of N nodes. Refusals are not written. When the exchange fails
 * (the database unreachable), the node goes on with its own count (per-node limits) until it works again.
 */
class SharedCounts {
  private readonly windows = new Map<string, SharedWindow>();
  /** Keys asked for since the last exchange. */
  private readonly due = new Set<SharedWindow>();
  private timer: NodeJS.Timeout | undefined;
  private exchanging: Promise<void> | undefined;
  /** After a failed exchange: until then requests do not wait for the next one. */
  private aloneUntil = 0;

  private readonly store: EngineWindows;
  private readonly scope: string;
  private readonly now: () => number;
  private readonly syncMs: number;

  constructor(store: EngineWindows, scope: string, now: () => number, syncMs: number) {
    this.store = store;
    this.scope = scope;
    this.now = now;
    this.syncMs = syncMs;
  }

  async charge(ctx: Context, subject: string, rate: RateLimit): Promise<void> {
    const cap = unexchangedPerNode(rate.limit);
    for (;;) {
      const now = this.now();
      const window = this.window(subject, rate, now);
      const used = window.seen + window.unsent + window.sending;
      if (used < rate.limit && window.unsent + window.sending >= cap && now >= this.aloneUntil) {
        await this.exchange();
        continue; // the window may have changed meanwhile
      }
      this.due.add(window);
      if (used < rate.limit) window.unsent++;
      if (window.unsent >= cap / 2) void this.exchange();
      else this.timer ??= setTimeout(() => void this.exchange(), this.syncMs).unref();
      return verdict(ctx, rate, used + 1, window.start + rate.windowMs, now);
    }
  }

  private window(subject: string, rate: RateLimit, now: number): SharedWindow {
    const start = now - (now % rate.windowMs);
    let window = this.windows.get(subject);
    if (!window || window.start !== start || window.rate !== rate) {
      if (!window && this.windows.size >= MAX_TRACKED)
        for (const [key, w] of this.windows) if (now >= w.start + w.rate.windowMs) this.windows.delete(key);
      const name = `${this.scope}/${encodeURIComponent(subject)}`;
      window = { name, start, rate, seen: 0, unsent: 0, sending: 0 };
      this.windows.set(subject, window);
    }
    return window;
  }

  /** Writes what was admitted and reads every node's counts, for the keys asked for; one at a time. */
  private exchange(): Promise<void> {
    this.exchanging ??= this.exchangeOnce().finally(() => {
      this.exchanging = undefined;
      if (this.due.size) this.timer ??= setTimeout(() => void this.exchange(), this.syncMs).unref();
    });
    return this.exchanging;
  }

  private async exchangeOnce(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.now();
    // Windows that ended are dropped: what they admitted no longer counts.
    const batch = [...this.due].filter((w) => now < w.start + w.rate.windowMs);
    this.due.clear();
    if (!batch.length) return;
    const events: string[] = [];
    for (const window of batch) {
      window.sending = window.unsent;
      window.unsent = 0;
      for (let i = 0; i < window.sending; i++) events.push(window.name);
    }
    try {
      if (events.length) {
        const keepMs = Math.max(...batch.map((w) => w.rate.windowMs));
        await this.store.hit(events, now, keepMs);
      }
    } catch {
      for (const window of batch) {
        window.unsent += window.sending;
        window.sending = 0;
        this.due.add(window);
      }
      this.aloneUntil = this.now() + ALONE_MS;
      return;
    }
    // Written: counted as seen until the database's count replaces it.
    for (const window of batch) {
      window.seen += window.sending;
      window.sending = 0;
    }
    try {
      const counts = await this.store.counts(
        batch.map((w) => w.name),
        batch.map((w) => w.start - 1),
      );
      batch.forEach((window, i) => {
        window.seen = Math.max(window.seen, counts[i]!);
      });
    } catch {
      this.aloneUntil = this.now() + ALONE_MS;
    }
  }
}
