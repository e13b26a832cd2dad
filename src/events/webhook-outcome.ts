// Records one webhook attempt on its delivery: success ends it, a failure schedules the next try, and
// the last failure ends it as failed and turns its subscription failing (with a webhook.failing event),
// all in the batch that records the attempt. A delivery whose subscription was disabled, removed or
// turned failing meanwhile is skipped without a POST.
import type { Logger } from 'pino';
import { publicId } from '../store/public-ids.ts';
import type { Store } from '../store/index.ts';
import { Tx } from '../store/index.ts';
import type { Webhook, WebhookAttempt, WebhookDelivery, Webhooks } from '../store/webhooks.ts';

export interface OutcomeContext {
  store: Store;
  webhooks: Webhooks;
  /** Waits after failed attempt 1, 2, …; after the last the delivery fails. */
  retryScheduleMs: number[];
  logger: Logger;
}

/** Should this delivery be POSTed? A test event still goes to a failing (but enabled) subscription. */
export const deliverable = (webhook: Webhook | undefined, delivery: WebhookDelivery): webhook is Webhook =>
  !!webhook && webhook.enabled && (!webhook.failing || delivery.eventType === 'test');

/** Marks a delivery skipped: its subscription no longer takes it. */
export async function skipDelivery(ctx: OutcomeContext, delivery: WebhookDelivery): Promise<void> {
  const tx = new Tx();
  ctx.webhooks.updateDelivery(tx, delivery, { ...delivery, status: 'skipped' });
  await ctx.store.kv.commit(tx);
}

export async function recordAttempt(
  ctx: OutcomeContext,
  webhook: Webhook,
  delivery: WebhookDelivery,
  result: WebhookAttempt,
): Promise<void> {
  const { store, webhooks } = ctx;
  const number = result.attempt;
  const schedule = ctx.retryScheduleMs;
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
      if (hook && !hook.failing && delivery.eventType !== 'test') markFailing(ctx, tx, hook, next, result);
      webhooks.updateDelivery(tx, delivery, next);
      await store.kv.commit(tx);
    });
    return;
  }
  // One attempt per delivery is in flight at a time (the dispatcher's inFlight), so its record needs no lock.
  webhooks.updateDelivery(tx, delivery, next);
  await store.kv.commit(tx);
}

function markFailing(
  ctx: OutcomeContext,
  tx: Tx,
  hook: Webhook,
  delivery: WebhookDelivery,
  result: WebhookAttempt,
): void {
  const now = Date.now();
  ctx.webhooks.put(tx, { ...hook, failing: true, failingSince: now, updatedAt: now });
  ctx.store.events.append(tx, {
    type: 'webhook.failing',
    teamId: hook.teamId,
    data: {
      webhook_id: publicId('whk', hook.id),
      url: hook.url,
      delivery_id: publicId('whda', delivery.id),
      event_id: delivery.eventId,
      last_error: result.error ?? `HTTP ${result.statusCode}`,
    },
  });
  ctx.logger.warn({ webhook: hook.id, url: hook.url }, 'webhook marked failing');
}
