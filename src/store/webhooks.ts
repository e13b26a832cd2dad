// Webhook subscriptions and their deliveries (docs/API.md §11). `wh/<id>` is a subscription, `wt/<team>/<id>`
// its team index; `wd/<id>` a delivery (one event to one subscription, with every attempt), `wx/<webhook>/<id>`
// the per-subscription index, `w/<dueAt>/<id>` the deliveries still to try by due time, and `wc` the
// last event sequence fanned out. Delivery ids are time-ordered, so listings and pruning are range scans.
import type { Kv, Notifier } from './db.ts';
import { hex, prefixRange } from './keys.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';

export interface Webhook {
  id: string;
  teamId: string;
  url: string;
  description: string;
  /** Event types (stored names or their public aliases); never empty. */
  eventTypes: string[];
  /** Account ids; empty: every mailbox of the team (and events tied to none). */
  accountIds: string[];
  /** `whsec_<base64>`: the key of both signatures is the decoded base64. */
  secret: string;
  enabled: boolean;
  /** Set when a delivery ran out of retries; cleared by re-enabling. */
  failing: boolean;
  failingSince: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface WebhookAttempt {
  attempt: number;
  time: number;
  durationMs: number;
  /** HTTP status, or null when no response came (refused, timeout, blocked address). */
  statusCode: number | null;
  error: string | null;
  /** Start of the response body, for debugging the receiver. */
  responseBody: string;
  success: boolean;
}

export interface WebhookDelivery {
  id: string;
  webhookId: string;
  teamId: string;
  eventId: string;
  eventType: string;
  /** The exact bytes POSTed (signatures are over them); kept so payload view and replay survive event pruning. */
  body: string;
  /** pending: due at dueAt; succeeded; failed: retries exhausted; skipped: its subscription was disabled or failing. */
  status: 'pending' | 'succeeded' | 'failed' | 'skipped';
  attempts: WebhookAttempt[];
  dueAt: number;
  /** Set when this delivery is a replay of another one. */
  replayOf: string | null;
  createdAt: number;
  updatedAt: number;
}

const SEQ = 12;
const wkeys = {
  webhook: (id: string) => `wh/${id}`,
  teamWebhook: (teamId: string, id: string) => `wt/${teamId}/${id}`,
  delivery: (id: string) => `wd/${id}`,
  webhookDelivery: (webhookId: string, id: string) => `wx/${webhookId}/${id}`,
  due: (dueAt: number, id: string) => `w/${hex(dueAt, SEQ)}/${id}`,
  cursor: 'wc',
};
const lastSegment = (key: string): string => key.slice(key.lastIndexOf('/') + 1);

export class Webhooks {
  private readonly kv: Kv;
  private readonly notifier: Notifier;

  constructor(kv: Kv, notifier: Notifier) {
    this.kv = kv;
    this.notifier = notifier;
  }

  get(id: string): Promise<Webhook | undefined> {
    return this.kv.get<Webhook>(wkeys.webhook(id));
  }

  async listForTeam(teamId: string): Promise<Webhook[]> {
    const ids = (await this.kv.keys(prefixRange(`wt/${teamId}/`))).map(lastSegment);
    return (await this.kv.getMany<Webhook>(ids.map(wkeys.webhook))).filter((w): w is Webhook => w !== undefined);
  }

  async save(webhook: Webhook): Promise<void> {
    const tx = new Tx();
    this.put(tx, webhook);
    await this.kv.commit(tx);
  }

  put(tx: Tx, webhook: Webhook): void {
    tx.put(wkeys.webhook(webhook.id), webhook);
    tx.put(wkeys.teamWebhook(webhook.teamId, webhook.id), 1);
  }

  /** Removes the subscription; its pending deliveries are dropped from the due index (their records stay until pruned). */
  async remove(webhook: Webhook): Promise<void> {
    const tx = new Tx();
    tx.del(wkeys.webhook(webhook.id));
    tx.del(wkeys.teamWebhook(webhook.teamId, webhook.id));
    for (const delivery of await this.deliveriesOf(webhook.id, { limit: Number.MAX_SAFE_INTEGER })) {
      if (delivery.status === 'pending') tx.del(wkeys.due(delivery.dueAt, delivery.id));
    }
    await this.kv.commit(tx);
  }

  getDelivery(id: string): Promise<WebhookDelivery | undefined> {
    return this.kv.get<WebhookDelivery>(wkeys.delivery(id));
  }

  /** A subscription's deliveries, newest first; `before` is a delivery id to continue after. */
  async deliveriesOf(webhookId: string, options: { before?: string; limit: number }): Promise<WebhookDelivery[]> {
    const range = {
      gte: `wx/${webhookId}/`,
      lt: options.before ? wkeys.webhookDelivery(webhookId, options.before) : `wx/${webhookId}/\xff`,
      reverse: true,
      limit: options.limit,
    };
    const ids = (await this.kv.keys(range)).map(lastSegment);
    return (await this.kv.getMany<WebhookDelivery>(ids.map(wkeys.delivery))).filter(
      (d): d is WebhookDelivery => d !== undefined,
    );
  }

  /** A new pending delivery, due at `dueAt`, in the caller's batch. */
  addDelivery(
    tx: Tx,
    input: Pick<WebhookDelivery, 'webhookId' | 'teamId' | 'eventId' | 'eventType' | 'body'> & {
      dueAt: number;
      replayOf?: string;
    },
  ): WebhookDelivery {
    const now = Date.now();
    const delivery: WebhookDelivery = {
      ...input,
      id: newId(now),
      status: 'pending',
      attempts: [],
      replayOf: input.replayOf ?? null,
      createdAt: now,
      updatedAt: now,
    };
    tx.put(wkeys.delivery(delivery.id), delivery);
    tx.put(wkeys.webhookDelivery(delivery.webhookId, delivery.id), 1);
    tx.put(wkeys.due(delivery.dueAt, delivery.id), 1);
    // The dispatcher listens, so a delivery added anywhere (fan-out, test, replay) is sent at once.
    tx.onCommit(() => this.notifier.emit('webhook-due', delivery.dueAt));
    return delivery;
  }

  /** Writes `next` over `before`, keeping the due index in step (only pending deliveries are in it). */
  updateDelivery(tx: Tx, before: WebhookDelivery, next: WebhookDelivery): void {
    if (before.status === 'pending') tx.del(wkeys.due(before.dueAt, before.id));
    if (next.status === 'pending') tx.put(wkeys.due(next.dueAt, next.id), 1);
    tx.put(wkeys.delivery(next.id), { ...next, updatedAt: Date.now() });
  }

  /** Ids of pending deliveries due at or before `until`, earliest first. */
  async due(until: number, limit: number): Promise<string[]> {
    return (await this.kv.keys({ gte: 'w/', lt: `w/${hex(until + 1, SEQ)}`, limit })).map(lastSegment);
  }

  /** When the earliest pending delivery is due, or null. */
  async nextDueAt(): Promise<number | null> {
    const [first] = await this.kv.keys({ ...prefixRange('w/'), limit: 1 });
    return first === undefined ? null : parseInt(first.split('/')[1]!, 16);
  }

  /** The last event sequence whose deliveries were created. */
  async cursor(): Promise<number> {
    return (await this.kv.get<number>(wkeys.cursor)) ?? 0;
  }

  setCursor(tx: Tx, seq: number): void {
    tx.put(wkeys.cursor, seq);
  }

  /** Deletes finished deliveries created before `before` (ms); returns how many. */
  async prune(before: number, batchSize = 1000): Promise<number> {
    const bound = newId(before).slice(0, 10); // the time part of the id
    let removed = 0;
    for (;;) {
      const old = await this.kv.values<WebhookDelivery>({ gte: 'wd/', lt: `wd/${bound}`, limit: batchSize });
      const done = old.filter((d) => d.status !== 'pending');
      const tx = new Tx();
      for (const d of done) {
        tx.del(wkeys.delivery(d.id));
        tx.del(wkeys.webhookDelivery(d.webhookId, d.id));
      }
      await this.kv.commit(tx);
      removed += done.length;
      if (old.length < batchSize || done.length === 0) return removed;
    }
  }
}
