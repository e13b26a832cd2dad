import type { Context } from 'koa';
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
}

interface Window {
  start: number;
  used: number;
}

const MAX_TRACKED = 100_000;

/**
 * Per-key request windows with `X-RateLimit-Limit/Remaining/Reset` on every response and 429
 * `rate_limit_exceeded` + `Retry-After` past the limit. In memory: one process serves the API.
 */
export class RateLimiter {
  private readonly management: RateLimit;
  private readonly sending: RateLimit;
  private readonly now: () => number;
  private readonly windows = new Map<string, Window>();

  constructor(options: RateLimitOptions = {}) {
    this.management = options.management ?? { limit: 600, windowMs: 60_000 };
    this.sending = options.sending ?? { limit: 1800, windowMs: 60_000 };
    this.now = options.now ?? Date.now;
  }

  /** Counts one request for `subject`, sets the headers, throws 429 when over the limit. */
  charge(ctx: Context, subject: string, kind: 'management' | 'sending'): void {
    const { limit, windowMs } = kind === 'management' ? this.management : this.sending;
    const now = this.now();
    let window = this.windows.get(subject);
    if (!window || now - window.start >= windowMs) {
      if (!window && this.windows.size >= MAX_TRACKED) this.sweep(now);
      window = { start: now, used: 0 };
      this.windows.set(subject, window);
    }
    window.used++;
    const resetMs = window.start + windowMs;
    ctx.set('X-RateLimit-Limit', String(limit));
    ctx.set('X-RateLimit-Remaining', String(Math.max(0, limit - window.used)));
    ctx.set('X-RateLimit-Reset', String(Math.ceil(resetMs / 1000)));
    if (window.used > limit) {
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

  /** Forgets finished windows (all windows are at most the longest window long). */
  private sweep(now: number): void {
    const longest = Math.max(this.management.windowMs, this.sending.windowMs);
    for (const [subject, window] of this.windows) if (now - window.start >= longest) this.windows.delete(subject);
  }
}
