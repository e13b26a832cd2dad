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
}

interface Window {
  start: number;
  used: number;
}

const MAX_TRACKED = 100_000;

/**
 * Shared: the requests of a key's window one node reserves at a time, K (docs/ARCHITECTURE.md §4.8):
 * one database round trip per K requests, and at most ⌊1.5 K⌋ left unused on a node.
 */
export const reservedPerAsk = (limit: number): number => Math.max(1, Math.floor(limit / 16));

/**
 * Per-key request windows with `X-RateLimit-Limit/Remaining/Reset` on every response and 429
 * `rate_limit_exceeded` + `Retry-After` past the limit. In memory when one process serves the API; on a
 * shared store counted across the nodes (SharedCounts), which may make `charge` wait for a reservation.
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
    if (options.shared) this.shared = new SharedCounts(options.shared, options.scope ?? 'api', this.now);
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

/** Shared: how long a node whose reservation failed counts alone before requests wait for one again. */
const ALONE_MS = 1000;

/** One key's window on a shared store, as this node knows it. */
interface SharedWindow {
  name: string;
  /** Aligned to the clock (a multiple of windowMs), so every node's window of a key is the same one. */
  start: number;
  rate: RateLimit;
  /** Reserved for this node in the database and not yet used. */
  left: number;
  /** Every node's reservations in the window as the database counted them at this node's last one. */
  counted: number;
  /** The database had nothing left to reserve: the window is used up on every node. */
  spent: boolean;
  /** Admitted here in the window: the count this node goes by while the database is unreachable. */
  admitted: number;
  /** The reservation being asked for, which requests finding nothing left wait on. */
  asking: Promise<void> | undefined;
}

/**
 * A key's requests counted across the nodes of a shared store at a fraction of a database round trip
 * per request: a node reserves K = reservedPerAsk(L) requests of a key's window at a time, under the
 * window's lock in the database (`EngineWindows.reserve`, which grants no more than the limit leaves),
 * and admits from its reservation with no round trip; it asks for the next K when half of one is left,
 * and a request that finds none left waits for it. What every node admits is reserved first, so the nodes
 * together never pass L; what they hold unused when a key's requests stop reaching them, at most
 * ⌊1.5 K⌋ per other node, is the most a key can fall short of L. Refusals are not written. When the
 * database is unreachable the node goes on with its own count (per-node limits) until it answers again.
 */
class SharedCounts {
  private readonly windows = new Map<string, SharedWindow>();
  /** After a failed reservation: until then requests do not wait for another. */
  private aloneUntil = 0;

  private readonly store: EngineWindows;
  private readonly scope: string;
  private readonly now: () => number;

  constructor(store: EngineWindows, scope: string, now: () => number) {
    this.store = store;
    this.scope = scope;
    this.now = now;
  }

  async charge(ctx: Context, subject: string, rate: RateLimit): Promise<void> {
    for (;;) {
      const now = this.now();
      const window = this.window(subject, rate, now);
      const resetMs = window.start + rate.windowMs;
      if (window.left > 0) {
        window.left--;
        window.admitted++;
        if (!window.spent && window.left <= reservedPerAsk(rate.limit) / 2) void this.ask(window);
        return verdict(ctx, rate, window.counted - window.left, resetMs, now);
      }
      if (window.spent) return verdict(ctx, rate, rate.limit + 1, resetMs, now);
      if (now < this.aloneUntil) {
        // The database unreachable: this node's own count until it answers again.
        const used = window.admitted < rate.limit ? ++window.admitted : rate.limit + 1;
        return verdict(ctx, rate, used, resetMs, now);
      }
      await this.ask(window);
    }
  }

  private window(subject: string, rate: RateLimit, now: number): SharedWindow {
    const start = now - (now % rate.windowMs);
    let window = this.windows.get(subject);
    if (!window || window.start !== start || window.rate !== rate) {
      if (!window && this.windows.size >= MAX_TRACKED)
        for (const [key, w] of this.windows) if (now >= w.start + w.rate.windowMs) this.windows.delete(key);
      const name = `${this.scope}/${encodeURIComponent(subject)}`;
      window = { name, start, rate, left: 0, counted: 0, spent: false, admitted: 0, asking: undefined };
      this.windows.set(subject, window);
    }
    return window;
  }

  /** Reserves the window's next share for this node; one ask per window at a time. */
  private ask(window: SharedWindow): Promise<void> {
    window.asking ??= this.reserve(window).finally(() => {
      window.asking = undefined;
    });
    return window.asking;
  }

  private async reserve(window: SharedWindow): Promise<void> {
    const { start, rate } = window;
    try {
      // Recorded at the window's start and kept for its length: they count in this window only.
      const { granted, count } = await this.store.reserve(
        window.name,
        start - 1,
        start,
        rate.windowMs,
        rate.limit,
        reservedPerAsk(rate.limit),
      );
      window.left += granted;
      window.counted = count;
      if (!granted) window.spent = true;
    } catch {
      this.aloneUntil = this.now() + ALONE_MS;
    }
  }
}
