// Delivers events to webhook subscriptions (docs/API.md §11, docs/ARCHITECTURE.md §9). Two stages, both durable:
// fan-out turns each logged event into one delivery record per matching subscription
// (webhook-fanout.ts); the sender POSTs due deliveries (webhook-sender.ts) and records every attempt
// with the next retry time (webhook-outcome.ts), so retries survive restarts and kill -9 (a POST cut
// off by a crash is simply tried again: at least once), as often as webhook-pump.ts starts them.
// This module wires the stages and runs fan-out, polling and pruning. Each attempt and each fan-out runs
// under a lease (src/store/leases.ts), so of several nodes on one database one does it.
import { pino, type Logger } from 'pino';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Store } from '../store/index.ts';
import { Webhooks } from '../store/webhooks.ts';
import { withLease, type LeaseOptions } from '../store/leases.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { resolverLookup, setUrlPolicy, type UrlPolicy } from './ssrf.ts';
import { fanOutPending } from './webhook-fanout.ts';
import { createDeliveryPump } from './webhook-pump.ts';
import { deliverable, recordAttempt, skipDelivery, type OutcomeContext } from './webhook-outcome.ts';
import { WebhookSender } from './webhook-sender.ts';

/**
 * Options of createWebhookDispatcher:
 * - store; logger (pino, default silent)
 * - allowHttp: http:// URLs allowed (config webhooks.allow_http), default false
 * - allowPrivateAddresses: loopback/private/link-local targets allowed (webhooks.allow_private_addresses), default false
 * - retryScheduleMs: waits after failed attempt 1, 2, …; after the last the subscription is marked
 *   failing. Default +30 s, 2 m, 10 m, 30 m, 1 h, 4 h, 12 h, 24 h
 * - timeoutMs: per attempt, default 10 s
 * - concurrency: POSTs in flight, default 16
 * - pollIntervalMs: safety rescan of the due index, default 30 s
 * - retentionMs: finished deliveries older than this are pruned (hourly), default events.retention_days
 * - resolver: the process's DNS resolver for webhook host names (default: the system's lookup); each
 *   attempt resolves anew and refuses private answers (DNS rebinding)
 * - lease: the owner id of this dispatcher's leases (default this process's) and their length
 */
export interface WebhookDispatcherOptions {
  store: Store;
  logger?: Logger;
  allowHttp?: boolean;
  allowPrivateAddresses?: boolean;
  retryScheduleMs?: number[];
  timeoutMs?: number;
  concurrency?: number;
  pollIntervalMs?: number;
  retentionMs?: number;
  resolver?: Pick<DnsResolver, 'a' | 'aaaa'>;
  lease?: { owner?: string; ttlMs?: number };
}

export interface WebhookDispatcher {
  start(): void;
  /** Stops taking work and resolves once the attempts in flight are recorded. */
  stop(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const WEBHOOK_DEFAULTS = {
  retryScheduleMs: [30_000, 2 * MINUTE, 10 * MINUTE, 30 * MINUTE, HOUR, 4 * HOUR, 12 * HOUR, 24 * HOUR],
  timeoutMs: 10_000,
  concurrency: 16,
  pollIntervalMs: 30_000,
  retentionMs: CONFIG_DEFAULTS.events.retention_days * 24 * HOUR,
};
/** How soon a node whose fan-out found the lease held elsewhere looks again. */
const FAN_OUT_RETRY_MS = 250;

export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { store } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const policy: UrlPolicy = {
    allowHttp: options.allowHttp ?? false,
    allowPrivateAddresses: options.allowPrivateAddresses ?? false,
  };
  setUrlPolicy(store, policy);
  const concurrency = options.concurrency ?? WEBHOOK_DEFAULTS.concurrency;
  const pollIntervalMs = options.pollIntervalMs ?? WEBHOOK_DEFAULTS.pollIntervalMs;
  const retentionMs = options.retentionMs ?? WEBHOOK_DEFAULTS.retentionMs;
  const webhooks = new Webhooks(store.kv, store.notifier);
  const sender = new WebhookSender({
    policy,
    hostLookup: options.resolver ? resolverLookup(options.resolver) : undefined,
    timeoutMs: options.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs,
    maxSockets: concurrency,
  });
  const outcome: OutcomeContext = {
    store,
    webhooks,
    retryScheduleMs: options.retryScheduleMs ?? WEBHOOK_DEFAULTS.retryScheduleMs,
    logger: log,
  };

  const lease: LeaseOptions = { leases: store.kv.engine.leases, ...options.lease };
  const pump = createDeliveryPump({ webhooks, concurrency, pollIntervalMs, attempt, logger: log });

  let running = false;
  let fanning: Promise<void> | null = null;
  let fanAgain = false;
  let fanRetry: NodeJS.Timeout | null = null;
  let poller: NodeJS.Timeout | null = null;
  let lastPrune = 0;

  const onEvent = () => void fanOut();
  const onDue = () => void pump.pump();

  function fanOut(): Promise<void> {
    if (fanning) {
      fanAgain = true;
      return fanning;
    }
    fanning = (async () => {
      do {
        fanAgain = false;
        // One node fans out at a time (the cursor is shared). When another holds the lease, its pass may
        // have read the cursor before this node's event committed: this node looks again shortly rather
        // than leave the event to the next event or the 30 s poll (a CI run's last delivery waited past 20 s).
        const pass = await withLease(lease, 'webhook-fanout', () => fanOutPending(store, webhooks));
        if (!pass.ran && running && !fanRetry) {
          fanRetry = setTimeout(() => {
            fanRetry = null;
            if (running) void fanOut();
          }, FAN_OUT_RETRY_MS);
          fanRetry.unref();
        }
      } while (fanAgain && running);
    })()
      .catch((err: Error) => log.error({ err }, 'webhook fan-out failed'))
      .finally(() => (fanning = null));
    return fanning;
  }

  async function attempt(id: string): Promise<void | 'elsewhere'> {
    const claimed = await withLease(lease, `webhook/${id}`, async () => {
      const delivery = await webhooks.getDelivery(id);
      // A due list read before the previous attempt was recorded (here or on another node) may name it
      // again: the record, read under the lease, decides.
      if (delivery?.status !== 'pending' || delivery.dueAt > Date.now()) return;
      const webhook = await webhooks.get(delivery.webhookId);
      if (!deliverable(webhook, delivery)) return skipDelivery(outcome, delivery);
      const result = await sender.post(webhook, delivery, delivery.attempts.length + 1);
      await recordAttempt(outcome, webhook, delivery, result);
    });
    return claimed.ran ? undefined : 'elsewhere';
  }

  function poll(): void {
    void fanOut();
    void pump.pump();
    if (Date.now() - lastPrune > HOUR) {
      lastPrune = Date.now();
      webhooks
        .prune(Date.now() - retentionMs)
        .catch((err: Error) => log.error({ err }, 'webhook delivery pruning failed'));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      pump.start();
      store.notifier.on('event', onEvent);
      store.notifier.on('webhook-due', onDue);
      poller = setInterval(poll, pollIntervalMs);
      poller.unref();
      poll();
    },
    async stop() {
      if (!running) return;
      running = false;
      store.notifier.off('event', onEvent);
      store.notifier.off('webhook-due', onDue);
      if (poller) clearInterval(poller);
      if (fanRetry) clearTimeout(fanRetry);
      const pumped = pump.stop(); // no attempt starts from here on
      await fanning;
      await pumped;
      sender.close();
    },
  };
}
