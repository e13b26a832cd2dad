// Forwarding budgets. Mail a forwarder sends on (a mailbox's Sieve redirect, a forwarding address's
// outside targets) is not counted against the mailbox's sending budget: the mailbox did not write it,
// and a user who forwards to their other address should not lose their own sending to it (the usual
// choice of mail servers). It is bounded apart, per forwarder and per outside recipient, so a rule
// that forwards everything it receives to many outside addresses cannot amplify spam through us.
// Counted in the same durable records as sending budgets (store.sends), under a subject of its own.
// Not counted: returns of bounces to mail we forwarded (SRS, one per forwarded message), vacation
// replies (once per sender and period, RFC 3834 §2 / RFC 5230 §4.6), and bounce notices (at most one
// per message that failed, to its sender).
import type { Store } from '../store/index.ts';
import type { Reservation, SendingLimits } from '../store/sends.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

/** Outside recipients per forwarder per rolling hour and day (config smtp.forward_per_hour / forward_per_day). */
export const FORWARD_LIMIT_DEFAULTS: SendingLimits = {
  perHour: CONFIG_DEFAULTS.smtp.forward_per_hour,
  perDay: CONFIG_DEFAULTS.smtp.forward_per_day,
};

/** `forwarder`: `mbx:<account id>` for Sieve redirects, `addr:<address>` for forwarding addresses. */
export const forwardSubject = (forwarder: string): string => `fwd:${forwarder}`;

/** Counts one message to `recipients` outside recipients against the forwarder's budget: all of them or none. */
export async function reserveForward(
  store: Store,
  forwarder: string,
  recipients: number,
  limits: SendingLimits,
): Promise<Reservation> {
  const made: Extract<Reservation, { ok: true }>[] = [];
  for (let i = 0; i < recipients; i++) {
    const r = await store.sends.reserve(forwardSubject(forwarder), limits);
    if (!r.ok) {
      for (const m of made) await m.release();
      return r;
    }
    made.push(r);
  }
  return {
    ok: true,
    release: async () => {
      for (const m of made) await m.release();
    },
  };
}
