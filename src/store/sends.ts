// Per-sender sending budgets (messages per rolling hour and per rolling day), shared by every way of
// sending (SMTP submission on any listener, the Sending API) and kept in the store, so neither a
// second listener nor a restart forgives what was sent. One record per message sent,
// `sl/<subject>/<time><n>`, read once per sender into memory, pruned as it leaves the day window.
// On a store several nodes share, memory would be one budget per node: there each message is checked
// and counted in one step in the database's counted windows (`Engine.windows`, issue 20) instead.
import type { Kv } from './db.ts';
import type { EngineWindows, WindowCap } from './engine.ts';
import { hex, prefixRange } from './keys.ts';
import { Tx } from './tx.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export interface SendingLimits {
  /** Messages per rolling hour; 0: no limit. */
  perHour: number;
  /** Messages per rolling day; 0: no limit. */
  perDay: number;
}

/** smtp.send_per_hour / send_per_day. */
export const SEND_LIMIT_DEFAULTS: SendingLimits = {
  perHour: CONFIG_DEFAULTS.smtp.send_per_hour,
  perDay: CONFIG_DEFAULTS.smtp.send_per_day,
};

export type LimitCheck = { ok: true } | { ok: false; limit: string; retryAfterSeconds: number };

/** A counted message: `release()` gives the slot back when the message was not sent after all. */
export type Reservation =
  | { ok: true; release(): Promise<void> }
  | { ok: false; limit: string; retryAfterSeconds: number };

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Sent {
  time: number;
  key: string;
}

/** The verdict for one more message, from the send times of the last day (ascending). */
function verdict(times: number[], limits: SendingLimits, now: number): LimitCheck {
  for (const [limit, windowMs, name] of [
    [limits.perHour, HOUR, 'hour'],
    [limits.perDay, DAY, 'day'],
  ] as const) {
    if (limit <= 0) continue;
    const inWindow = times.filter((t) => now - t < windowMs);
    if (inWindow.length >= limit) {
      // The window frees a slot when its oldest counted send leaves it.
      const oldest = inWindow[inWindow.length - limit]!;
      return {
        ok: false,
        limit: `${limit} messages per ${name}`,
        retryAfterSeconds: Math.max(1, Math.ceil((oldest + windowMs - now) / 1000)),
      };
    }
  }
  return { ok: true };
}

export class Sends {
  private readonly kv: Kv;
  private readonly sent = new Map<string, Sent[]>();
  private readonly loading = new Map<string, Promise<void>>();
  private counter = 0;
  private readonly shared: EngineWindows | undefined;

  constructor(kv: Kv) {
    this.kv = kv;
    this.shared = kv.engine.shared ? kv.engine.windows : undefined;
  }

  /** After a failed write: drops what memory counted, so each sender is read again from the disk. */
  forgetAll(): void {
    this.sent.clear();
    this.loading.clear();
  }

  /** May `subject` send one more message now? (An early answer, e.g. at MAIL FROM; reserve() decides.) */
  async check(subject: string, limits: SendingLimits, now = Date.now()): Promise<LimitCheck> {
    if (this.shared) return verdict((await this.shared.times([windowName(subject)], now - DAY))[0]!, limits, now);
    await this.load(subject);
    return verdict(
      this.recent(subject, now).map((s) => s.time),
      limits,
      now,
    );
  }

  /**
   * Checks and counts one message in one step (nothing awaits in between), so concurrent senders
   * cannot pass the limit together; resolves once the count is durable.
   */
  async reserve(subject: string, limits: SendingLimits, now = Date.now()): Promise<Reservation> {
    if (this.shared) return this.reserveShared(subject, limits, now);
    await this.load(subject);
    const list = this.recent(subject, now);
    const check = verdict(
      list.map((s) => s.time),
      limits,
      now,
    );
    if (!check.ok) return check;
    const entry = { time: now, key: `${this.prefix(subject)}${hex(now, 12)}${hex(this.counter++ & 0xffff, 4)}` };
    list.push(entry);
    list.sort((a, b) => a.time - b.time);
    const tx = new Tx();
    tx.put(entry.key, 1);
    for (const old of this.expired.splice(0)) tx.del(old);
    try {
      await this.kv.commit(tx);
    } catch (err) {
      this.forget(subject, entry);
      throw err;
    }
    return {
      ok: true,
      release: async () => {
        this.forget(subject, entry);
        const undo = new Tx();
        undo.del(entry.key);
        await this.kv.commit(undo);
      },
    };
  }

  /** The check and the count in one step under the sender's lock in the database, whoever's node it is. */
  private async reserveShared(subject: string, limits: SendingLimits, now: number): Promise<Reservation> {
    const name = windowName(subject);
    const caps: WindowCap[] = [];
    if (limits.perHour > 0) caps.push({ limit: limits.perHour, windowMs: HOUR });
    if (limits.perDay > 0) caps.push({ limit: limits.perDay, windowMs: DAY });
    const { taken, times } = await this.shared!.take(name, now, DAY, caps);
    if (!taken) {
      const check = verdict(times, limits, now);
      return check.ok ? { ok: false, limit: 'sending limit', retryAfterSeconds: 1 } : check;
    }
    return { ok: true, release: () => this.shared!.remove(name, now) };
  }

  /** Keys of sends that left the day window, deleted with the next write. */
  private readonly expired: string[] = [];

  private prefix(subject: string): string {
    return `sl/${subject}/`;
  }

  private forget(subject: string, entry: Sent): void {
    const list = this.sent.get(subject);
    const i = list?.indexOf(entry) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  private recent(subject: string, now: number): Sent[] {
    const list = this.sent.get(subject) ?? [];
    while (list.length && now - list[0]!.time >= DAY) this.expired.push(list.shift()!.key);
    this.sent.set(subject, list);
    return list;
  }

  private load(subject: string): Promise<void> {
    if (this.sent.has(subject)) return Promise.resolve();
    let loading = this.loading.get(subject);
    if (!loading) {
      loading = this.kv.keys(prefixRange(this.prefix(subject))).then((found) => {
        const at = this.prefix(subject).length;
        if (!this.sent.has(subject))
          this.sent.set(
            subject,
            found.map((key) => ({ time: parseInt(key.slice(at, at + 12), 16), key })),
          );
        this.loading.delete(subject);
      });
      this.loading.set(subject, loading);
    }
    return loading;
  }
}

/** A sender's counted window on a shared store. */
const windowName = (subject: string): string => `send/${encodeURIComponent(subject)}`;
