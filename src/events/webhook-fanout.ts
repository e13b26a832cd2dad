// The first stage of webhook delivery: each logged event becomes one delivery record per matching
// subscription. The cursor of the last event fanned out is written in the same batch as the records,
// so a crash neither loses nor doubles a delivery.
import { publicId } from '../store/public-ids.ts';
import type { StoredEvent, Store } from '../store/index.ts';
import { Tx } from '../store/index.ts';
import type { Webhook, Webhooks } from '../store/webhooks.ts';
import { eventPayload, typeMatches } from './types.ts';

/** Events read per batch. */
const FANOUT_BATCH = 500;

/** Does this subscription want this event? A test event goes to the one subscription it names. */
export function subscribed(webhook: Webhook, event: StoredEvent): boolean {
  const id = publicId('whk', webhook.id);
  if (event.type === 'test') return event.data.webhook_id === id && webhook.enabled;
  if (!webhook.enabled || webhook.failing || event.time < webhook.createdAt) return false;
  if (event.type === 'webhook.failing' && event.data.webhook_id === id) return false;
  if (!typeMatches(webhook.eventTypes, event.type)) return false;
  return webhook.accountIds.length === 0 || (event.accountId !== null && webhook.accountIds.includes(event.accountId));
}

/** Fans out every event logged since the cursor; returns once the log is caught up. */
export async function fanOutPending(store: Store, webhooks: Webhooks): Promise<void> {
  for (;;) {
    const events = await store.events.list({ afterSeq: await webhooks.cursor(), limit: FANOUT_BATCH });
    if (events.length === 0) return;
    const byTeam = new Map<string, Webhook[]>();
    for (const teamId of new Set(events.map((e) => e.teamId))) byTeam.set(teamId, await webhooks.listForTeam(teamId));
    const tx = new Tx();
    for (const event of events) {
      for (const webhook of byTeam.get(event.teamId)!) {
        if (!subscribed(webhook, event)) continue;
        webhooks.addDelivery(tx, {
          webhookId: webhook.id,
          teamId: event.teamId,
          eventId: event.id,
          eventType: event.type,
          body: JSON.stringify(eventPayload(event)),
          dueAt: Date.now(),
        });
      }
    }
    webhooks.setCursor(tx, events.at(-1)!.seq);
    await store.kv.commit(tx);
    if (events.length < FANOUT_BATCH) return;
  }
}
