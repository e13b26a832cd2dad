// Finished SMTP sessions kept open for a moment, per target: a burst to one destination then costs one
// handshake, not one per message. A session is reused only for the same host, port, TLS settings and
// AUTH user it was opened with.
import type { SmtpSession, SmtpTarget } from './deliver.ts';

/** How long a finished session waits for the next message to the same host. */
export const IDLE_SESSION_MS = 2000;

export class SessionPool {
  private readonly idle = new Map<string, { session: SmtpSession; timer: NodeJS.Timeout }[]>();
  private closed = false;
  private readonly maxPerTarget: number;
  private readonly idleMs: number;

  /** `maxPerTarget`: sessions kept per target (the runner's per-domain concurrency); more are closed. */
  constructor(maxPerTarget: number, idleMs = IDLE_SESSION_MS) {
    this.maxPerTarget = maxPerTarget;
    this.idleMs = idleMs;
  }

  /** A parked session to this target that is still usable, or undefined. */
  take(target: SmtpTarget): SmtpSession | undefined {
    const list = this.idle.get(poolKey(target));
    while (list?.length) {
      const { session, timer } = list.pop()!;
      clearTimeout(timer);
      if (session.usable) return session;
    }
    return undefined;
  }

  /** Keeps a session that finished a transaction (ready for the next MAIL FROM) for idleMs. */
  park(target: SmtpTarget, session: SmtpSession): void {
    const key = poolKey(target);
    const list = this.idle.get(key) ?? [];
    if (this.closed || list.length >= this.maxPerTarget) {
      session.close();
      return;
    }
    const entry = {
      session,
      timer: setTimeout(() => {
        list.splice(list.indexOf(entry), 1);
        if (!list.length && this.idle.get(key) === list) this.idle.delete(key);
        session.close();
      }, this.idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.idle.set(key, list);
  }

  /** Sessions parked now. */
  get size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** Closes every parked session; sessions parked from now on are closed at once. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values())
      for (const { session, timer } of list.splice(0)) {
        clearTimeout(timer);
        session.close();
      }
    this.idle.clear();
  }
}

const poolKey = (t: SmtpTarget) =>
  [t.host, t.port, t.tls, t.verifyCertificate, t.servername ?? '', t.auth?.user ?? ''].join('|');
