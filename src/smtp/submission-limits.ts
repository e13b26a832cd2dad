// Per-account sending limits of the submission listener: messages per rolling hour and per rolling
// day, from one list of send times per account. In memory: a restart forgives what was sent before.

export interface SendingLimits {
  perHour: number;
  perDay: number;
}

export type LimitCheck = { ok: true } | { ok: false; limit: string; retryAfterSeconds: number };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export class SendingLimiter {
  private readonly sent = new Map<string, number[]>();
  readonly limits: SendingLimits;

  constructor(limits: SendingLimits) {
    this.limits = limits;
  }

  /** May the account send one more message now? 0 means no limit. */
  check(accountId: string, now = Date.now()): LimitCheck {
    const times = this.recent(accountId, now);
    for (const [limit, windowMs, name] of [[this.limits.perHour, HOUR, 'hour'], [this.limits.perDay, DAY, 'day']] as const) {
      if (limit <= 0) continue;
      const inWindow = times.filter((t) => now - t < windowMs);
      if (inWindow.length >= limit) {
        // The window frees a slot when its oldest counted send leaves it.
        const oldest = inWindow[inWindow.length - limit]!;
        return { ok: false, limit: `${limit} messages per ${name}`, retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)) };
      }
    }
    return { ok: true };
  }

  record(accountId: string, now = Date.now()): void {
    const times = this.recent(accountId, now);
    times.push(now);
    this.sent.set(accountId, times);
  }

  private recent(accountId: string, now: number): number[] {
    const times = (this.sent.get(accountId) ?? []).filter((t) => now - t < DAY);
    if (times.length) this.sent.set(accountId, times);
    else this.sent.delete(accountId);
    return times;
  }
}
