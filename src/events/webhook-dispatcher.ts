// Delivers events to webhook subscriptions (API.md §B7, DESIGN.md §6). Two stages, both durable:
// fan-out turns each logged event into one delivery record per matching subscription (the cursor of
// the last event fanned out is written in the same batch, so a crash neither loses nor doubles one);
// the sender POSTs due deliveries and records every attempt with the next retry time, so retries
// survive restarts and kill -9 (a POST cut off by a crash is simply tried again: at least once).
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { pino, type Logger } from 'pino';
import { publicId } from '../store/public-ids.ts';
import type { StoredEvent, Store } from '../store/index.ts';
import { Tx } from '../store/index.ts';
import { type Webhook, type WebhookAttempt, type WebhookDelivery, Webhooks } from '../store/webhooks.ts';
import { signatureHeaders } from './signature.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { resolverLookup, setUrlPolicy, vetTarget, type UrlPolicy } from './ssrf.ts';
import { eventPayload, typeMatches } from './types.ts';

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
 * - retentionMs: finished deliveries older than this are pruned (hourly), default 7 days
 * - resolver: the process's DNS resolver for webhook host names (default: the system's lookup); each
 *   attempt resolves anew and refuses private answers (DNS rebinding)
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
  retentionMs: 7 * 24 * HOUR,
};
const FANOUT_BATCH = 500;
const RESPONSE_BODY_BYTES = 1024;
const BUSY_RESCAN_MS = 250;

/** Does this subscription want this event? A test event goes to the one subscription it names. */
export function subscribed(webhook: Webhook, event: StoredEvent): boolean {
  const id = publicId('whk', webhook.id);
  if (event.type === 'test') return event.data.webhook_id === id && webhook.enabled;
  if (!webhook.enabled || webhook.failing || event.time < webhook.createdAt) return false;
  if (event.type === 'webhook.failing' && event.data.webhook_id === id) return false;
  if (!typeMatches(webhook.eventTypes, event.type)) return false;
  return webhook.accountIds.length === 0 || (event.accountId !== null && webhook.accountIds.includes(event.accountId));
}

export function createWebhookDispatcher(options: WebhookDispatcherOptions): WebhookDispatcher {
  const { store } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const policy: UrlPolicy = { allowHttp: options.allowHttp ?? false, allowPrivateAddresses: options.allowPrivateAddresses ?? false };
  setUrlPolicy(store, policy);
  const hostLookup = options.resolver ? resolverLookup(options.resolver) : undefined;
  const schedule = options.retryScheduleMs ?? WEBHOOK_DEFAULTS.retryScheduleMs;
  const timeoutMs = options.timeoutMs ?? WEBHOOK_DEFAULTS.timeoutMs;
  const concurrency = options.concurrency ?? WEBHOOK_DEFAULTS.concurrency;
  const pollIntervalMs = options.pollIntervalMs ?? WEBHOOK_DEFAULTS.pollIntervalMs;
  const retentionMs = options.retentionMs ?? WEBHOOK_DEFAULTS.retentionMs;
  const webhooks = new Webhooks(store.kv, store.notifier);
  // Keep-alive per receiver host: connections are reused only for the name they were vetted for.
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: concurrency }), https: new https.Agent({ keepAlive: true, maxSockets: concurrency }) };

  let running = false;
  let fanning: Promise<void> | null = null;
  let fanAgain = false;
  let pumping = false;
  let pumpAgain = false;
  let timer: NodeJS.Timeout | null = null;
  let poller: NodeJS.Timeout | null = null;
  let lastPrune = 0;
  const inFlight = new Map<string, Promise<void>>();

  const onEvent = () => void fanOut();
  const onDue = () => void pump();

  function fanOut(): Promise<void> {
    if (fanning) {
      fanAgain = true;
      return fanning;
    }
    fanning = (async () => {
      do {
        fanAgain = false;
        await fanOutPending();
      } while (fanAgain && running);
    })()
      .catch((err: Error) => log.error({ err }, 'webhook fan-out failed'))
      .finally(() => (fanning = null));
    return fanning;
  }

  async function fanOutPending(): Promise<void> {
    for (;;) {
      const events = await store.events.list({ afterSeq: await webhooks.cursor(), limit: FANOUT_BATCH });
      if (events.length === 0) return;
      const byTeam = new Map<string, Webhook[]>();
      for (const teamId of new Set(events.map((e) => e.teamId))) byTeam.set(teamId, await webhooks.listForTeam(teamId));
      const tx = new Tx();
      for (const event of events) {
        for (const webhook of byTeam.get(event.teamId)!) {
          if (!subscribed(webhook, event)) continue;
          webhooks.addDelivery(tx, { webhookId: webhook.id, teamId: event.teamId, eventId: event.id, eventType: event.type, body: JSON.stringify(eventPayload(event)), dueAt: Date.now() });
        }
      }
      webhooks.setCursor(tx, events.at(-1)!.seq);
      await store.kv.commit(tx);
      if (events.length < FANOUT_BATCH) return;
    }
  }

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
        for (const id of inFlight.size >= concurrency ? [] : await webhooks.due(Date.now(), concurrency * 2)) {
          if (inFlight.size >= concurrency || !running) break;
          if (inFlight.has(id)) continue;
          const job = attempt(id)
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
    // flight the earliest entry may be theirs: look again shortly rather than spin on it.
    if (next <= Date.now() && inFlight.size === 0) {
      pumpAgain = true;
      return;
    }
    timer = setTimeout(() => void pump(), next <= Date.now() ? BUSY_RESCAN_MS : Math.min(next - Date.now(), pollIntervalMs));
    timer.unref();
  }

  async function attempt(id: string): Promise<void> {
    const delivery = await webhooks.getDelivery(id);
    // A due list read before the previous attempt was recorded may name it again: the record decides.
    if (!delivery || delivery.status !== 'pending' || delivery.dueAt > Date.now()) return;
    const webhook = await webhooks.get(delivery.webhookId);
    if (!webhook || !webhook.enabled || (webhook.failing && delivery.eventType !== 'test')) {
      const tx = new Tx();
      webhooks.updateDelivery(tx, delivery, { ...delivery, status: 'skipped' });
      await store.kv.commit(tx);
      return;
    }
    const number = delivery.attempts.length + 1;
    const result = await post(webhook, delivery, number);
    const next: WebhookDelivery = { ...delivery, attempts: [...delivery.attempts, result] };
    const tx = new Tx();
    if (result.success) next.status = 'succeeded';
    else if (number - 1 < schedule.length) next.dueAt = Date.now() + schedule[number - 1]!;
    else {
      // Out of retries: the subscription turns failing, in the batch that records the attempt, under
      // the lock the API's updates of the subscription take too.
      next.status = 'failed';
      await store.directory.run(`webhook/${webhook.id}`, async () => {
        const hook = await webhooks.get(webhook.id);
        if (hook && !hook.failing && delivery.eventType !== 'test') markFailing(tx, hook, next, result);
        webhooks.updateDelivery(tx, delivery, next);
        await store.kv.commit(tx);
      });
      return;
    }
    // One attempt per delivery is in flight at a time (inFlight), so its record needs no lock.
    webhooks.updateDelivery(tx, delivery, next);
    await store.kv.commit(tx);
  }

  function markFailing(tx: Tx, hook: Webhook, delivery: WebhookDelivery, result: WebhookAttempt): void {
    const now = Date.now();
    webhooks.put(tx, { ...hook, failing: true, failingSince: now, updatedAt: now });
    store.events.append(tx, {
      type: 'webhook.failing',
      teamId: hook.teamId,
      data: { webhook_id: publicId('whk', hook.id), url: hook.url, delivery_id: publicId('whda', delivery.id), event_id: delivery.eventId, last_error: result.error ?? `HTTP ${result.statusCode}` },
    });
    log.warn({ webhook: hook.id, url: hook.url }, 'webhook marked failing');
  }

  async function post(webhook: Webhook, delivery: WebhookDelivery, number: number): Promise<WebhookAttempt> {
    const started = Date.now();
    const done = (statusCode: number | null, error: string | null, responseBody = ''): WebhookAttempt => ({
      attempt: number, time: started, durationMs: Date.now() - started, statusCode, error, responseBody,
      success: statusCode !== null && statusCode >= 200 && statusCode < 300,
    });
    try {
      const url = new URL(webhook.url);
      const target = await vetTarget(url, policy, hostLookup);
      const headers = {
        'Content-Type': 'application/json',
        'User-Agent': 'WrenMail-Webhooks/1.0',
        'X-Wrenmail-Event-Id': delivery.eventId,
        'X-Wrenmail-Event-Type': delivery.eventType,
        'X-Wrenmail-Delivery-Id': publicId('whda', delivery.id),
        'X-Wrenmail-Delivery-Attempt': String(number),
        ...signatureHeaders(webhook.secret, delivery.eventId, Math.floor(Date.now() / 1000), delivery.body),
      };
      const reply = await send(url, target, headers, delivery.body);
      return done(reply.status, reply.status >= 200 && reply.status < 300 ? null : `HTTP ${reply.status}`, reply.body);
    } catch (err) {
      return done(null, (err as Error).message);
    }
  }

  function send(url: URL, target: { address: string; family: number }, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
    // The connection goes to the vetted address; Host, SNI and certificate checks still use the name.
    const lookup: LookupFunction = (_host, opts, callback) => {
      if (opts.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [target]);
      else callback(null, target.address, target.family);
    };
    const secure = url.protocol === 'https:';
    const client = secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = client.request(url, { method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) }, lookup, agent: secure ? agents.https : agents.http }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < RESPONSE_BODY_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => {
          clearTimeout(timeout);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, RESPONSE_BODY_BYTES).toString('utf8') });
        });
        res.on('error', reject);
      });
      const timeout = setTimeout(() => req.destroy(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
      req.on('error', (err) => {
        clearTimeout(timeout);
        reject(err);
      });
      req.end(body);
    });
  }

  function poll(): void {
    void fanOut();
    void pump();
    if (Date.now() - lastPrune > HOUR) {
      lastPrune = Date.now();
      webhooks.prune(Date.now() - retentionMs).catch((err: Error) => log.error({ err }, 'webhook delivery pruning failed'));
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
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
      if (timer) clearTimeout(timer);
      if (poller) clearInterval(poller);
      await fanning;
      await Promise.all(inFlight.values());
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
