// Starts an attempt for each due webhook delivery, at most `concurrency` at a time and one per
// delivery, then sleeps until the next due time (capped by the poll interval). What an attempt does
// is the caller's `attempt`; deliveries are due again only once their attempt is recorded. A delivery whose
// lease another node holds ('elsewhere') is left alone for a while (ELSEWHERE_HOLD_MS).
import type { Logger } from 'pino';
import type { Webhooks } from '../store/webhooks.ts';
import { forgetLapsed } from '../store/leases.ts';

/** With attempts in flight and the earliest due entry possibly theirs: look again this soon. */
const BUSY_RESCAN_MS = 250;
/**
 * A delivery whose lease another node held is tried again after this, not at the next poll (30 s): if that
 * node's attempt ends without recording one (it stopped, or its write failed), the delivery waits seconds, not
 * a poll interval (a CI run's last webhook of 96 came later than 20 s). The cost: a lease request per try.
 */
const ELSEWHERE_HOLD_MS = 2000;

export interface DeliveryPumpOptions {
  webhooks: Pick<Webhooks, 'due' | 'nextDueAt'>;
  concurrency: number;
  pollIntervalMs: number;
  /** One attempt of the delivery with this id, recorded; 'elsewhere' when another node holds it. */
  attempt(id: string): Promise<void | 'elsewhere'>;
  logger: Logger;
}

export interface DeliveryPump {
  start(): void;
  /** Looks for due deliveries now (a pump asked for while one runs is done after it). */
  pump(): Promise<void>;
  /** Stops starting attempts and resolves once those in flight are done. */
  stop(): Promise<void>;
  readonly inFlight: number;
}

export function createDeliveryPump(o: DeliveryPumpOptions): DeliveryPump {
  const { webhooks, concurrency, logger: log } = o;
  let running = false;
  let pumping = false;
  let pumpAgain = false;
  let timer: NodeJS.Timeout | null = null;
  const inFlight = new Map<string, Promise<void>>();
  const elsewhere = new Map<string, number>(); // id → when to look at it again

  async function pump(): Promise<void> {
    if (!running) return;
    if (pumping) {
      pumpAgain = true;
      return;
    }
    pumping = true;
    try {
      do {
        pumpAgain = false;
        forgetLapsed(elsewhere);
        for (const id of inFlight.size >= concurrency ? [] : await webhooks.due(Date.now(), concurrency * 2)) {
          if (inFlight.size >= concurrency || !running) break;
          if (inFlight.has(id) || elsewhere.has(id)) continue;
          const job = o
            .attempt(id)
            .then((result) => {
              if (result === 'elsewhere') elsewhere.set(id, Date.now() + Math.min(ELSEWHERE_HOLD_MS, o.pollIntervalMs));
            })
            .catch((err: Error) => log.error({ err, delivery: id }, 'webhook attempt failed to record'))
            .finally(() => {
              inFlight.delete(id);
              void pump();
            });
          inFlight.set(id, job);
        }
        // Inside the loop: a pump asked for while the timer is armed must not be lost.
        await armTimer();
      } while (pumpAgain && running);
    } catch (err) {
      log.error({ err }, 'webhook pump failed');
    } finally {
      pumping = false;
    }
  }

  async function armTimer(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = null;
    const next = await webhooks.nextDueAt();
    if (next === null || !running) return;
    // Due by now and nothing in flight: it came due since the scan, so scan again. With attempts in
    // flight (or held by another node) the earliest entry may be theirs: look again shortly, not spin.
    if (next <= Date.now() && inFlight.size === 0 && elsewhere.size === 0) {
      pumpAgain = true;
      return;
    }
    timer = setTimeout(
      () => void pump(),
      next <= Date.now() ? BUSY_RESCAN_MS : Math.min(next - Date.now(), o.pollIntervalMs),
    );
    timer.unref();
  }

  return {
    start() {
      running = true;
    },
    pump,
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      await Promise.all(inFlight.values());
    },
    get inFlight() {
      return inFlight.size;
    },
  };
}
