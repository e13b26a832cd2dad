// The webhook dispatcher's stages on their own, with a real store and a real HTTP receiver: fan-out
// (matching subscriptions, cursor, batches), one signed POST, and recording attempts (retry schedule,
// the failed delivery that turns its subscription failing, skipping).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { fanOutPending } from '../../src/events/webhook-fanout.ts';
import { deliverable, recordAttempt, skipDelivery, type OutcomeContext } from '../../src/events/webhook-outcome.ts';
import { createDeliveryPump, type DeliveryPumpOptions } from '../../src/events/webhook-pump.ts';
import { WebhookSender } from '../../src/events/webhook-sender.ts';
import { Tx, type Store } from '../../src/store/index.ts';
import { Webhooks, type Webhook, type WebhookAttempt, type WebhookDelivery } from '../../src/store/webhooks.ts';
import { startReceiver, verifyWrenSignature } from '../helpers/events.ts';
import { waitFor } from '../helpers/outbound.ts';
import { freePortOn } from '../helpers/ports.ts';
import { withTempStore } from '../helpers/store.ts';

const logger = pino({ level: 'silent' });

const withStore = (run: (store: Store, webhooks: Webhooks) => Promise<void>) =>
  withTempStore((store) => run(store, new Webhooks(store.kv, store.notifier)));

async function hook(webhooks: Webhooks, over: Partial<Webhook> = {}): Promise<Webhook> {
  const now = Date.now() - 1000;
  const webhook: Webhook = {
    id: `h${Math.random().toString(36).slice(2)}`,
    teamId: 't',
    url: 'http://127.0.0.1:9/hook',
    description: '',
    eventTypes: ['*'],
    accountIds: [],
    secret: 'whsec_c2VjcmV0',
    enabled: true,
    failing: false,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
    ...over,
  };
  await webhooks.save(webhook);
  return webhook;
}

async function addDelivery(
  store: Store,
  webhooks: Webhooks,
  webhook: Webhook,
  eventType = 'message.received',
  dueAt = Date.now(),
): Promise<WebhookDelivery> {
  const tx = new Tx();
  const delivery = webhooks.addDelivery(tx, {
    webhookId: webhook.id,
    teamId: webhook.teamId,
    eventId: 'evt_1',
    eventType,
    body: '{"type":"x"}',
    dueAt,
  });
  await store.kv.commit(tx);
  return delivery;
}

const failure = (attempt: number): WebhookAttempt => ({
  attempt,
  time: Date.now(),
  durationMs: 1,
  statusCode: 503,
  error: 'HTTP 503',
  responseBody: '',
  success: false,
});

test('fan-out: one delivery per matching subscription, across batches, never twice', async () => {
  await withStore(async (store, webhooks) => {
    const all = await hook(webhooks);
    const bounces = await hook(webhooks, { eventTypes: ['message.bounced'] });
    const other = await hook(webhooks, { teamId: 'u' });
    const tx = new Tx();
    for (let i = 0; i < 501; i++)
      store.events.append(tx, { type: i === 500 ? 'message.bounced' : 'message.received', teamId: 't', data: { i } });
    await store.kv.commit(tx);
    await fanOutPending(store, webhooks);
    assert.is((await webhooks.deliveriesOf(all.id, { limit: 1000 })).length, 501, 'the event past the first batch too');
    const toBounces = await webhooks.deliveriesOf(bounces.id, { limit: 1000 });
    assert.equal(
      toBounces.map((d) => d.eventType),
      ['message.bounced'],
    );
    assert.equal(JSON.parse(toBounces[0]!.body).data.i, 500);
    assert.is((await webhooks.deliveriesOf(other.id, { limit: 10 })).length, 0, 'another team hears nothing');
    await fanOutPending(store, webhooks);
    assert.is(
      (await webhooks.deliveriesOf(all.id, { limit: 1000 })).length,
      501,
      'the cursor keeps a second run from doubling',
    );
  });
});

test('sender: a signed POST to the receiver; a 5xx, a refused connection and a private address are failed attempts', async () => {
  const receiver = await startReceiver();
  const sender = new WebhookSender({
    policy: { allowHttp: true, allowPrivateAddresses: true },
    timeoutMs: 2000,
    maxSockets: 2,
  });
  try {
    await withStore(async (store, webhooks) => {
      const webhook = await hook(webhooks, { url: receiver.url });
      const delivery = await addDelivery(store, webhooks, webhook);
      const ok = await sender.post(webhook, delivery, 3);
      assert.is(ok.success, true);
      assert.is(ok.statusCode, 200);
      assert.is(ok.attempt, 3);
      const [got] = await receiver.waitFor(1);
      assert.is(got!.body, delivery.body);
      assert.is(got!.headers['x-wrenmail-delivery-attempt'], '3');
      assert.ok(verifyWrenSignature(webhook.secret, got!.headers, got!.body));

      receiver.script = [503];
      const refused = await sender.post(webhook, delivery, 4);
      assert.equal(
        [refused.success, refused.statusCode, refused.error, refused.responseBody],
        [false, 503, 'HTTP 503', 'try later'],
      );

      const closed = await sender.post(
        { ...webhook, url: `http://127.0.0.1:${await freePortOn('127.0.0.1')}/hook` },
        delivery,
        1,
      );
      assert.equal([closed.success, closed.statusCode], [false, null]);
      assert.match(closed.error!, /ECONNREFUSED/);

      const strict = new WebhookSender({
        policy: { allowHttp: true, allowPrivateAddresses: false },
        timeoutMs: 2000,
        maxSockets: 1,
      });
      const blocked = await strict.post(webhook, delivery, 1);
      strict.close();
      assert.equal([blocked.success, blocked.statusCode], [false, null]);
      assert.is(receiver.received.length, 2, 'nothing reached the receiver from the strict sender');
    });
  } finally {
    sender.close();
    await receiver.close();
  }
});

test('outcome: failures retry on the schedule; the last one fails the delivery and turns the subscription failing once', async () => {
  await withStore(async (store, webhooks) => {
    const webhook = await hook(webhooks);
    const ctx: OutcomeContext = { store, webhooks, retryScheduleMs: [1000, 60_000], logger };
    let delivery = await addDelivery(store, webhooks, webhook);
    for (const [n, wait] of [
      [1, 1000],
      [2, 60_000],
    ] as const) {
      const before = Date.now();
      await recordAttempt(ctx, webhook, delivery, failure(n));
      delivery = (await webhooks.getDelivery(delivery.id))!;
      assert.is(delivery.status, 'pending');
      assert.ok(delivery.dueAt >= before + wait && delivery.dueAt <= Date.now() + wait, `wait after attempt ${n}`);
    }
    assert.ok((await webhooks.due(Date.now() + 60_001, 10)).includes(delivery.id), 'still in the due index');
    await recordAttempt(ctx, webhook, delivery, failure(3));
    delivery = (await webhooks.getDelivery(delivery.id))!;
    assert.is(delivery.status, 'failed');
    assert.is(delivery.attempts.length, 3);
    assert.not.ok(
      (await webhooks.due(Date.now() + 86_400_000, 10)).includes(delivery.id),
      'a failed delivery leaves the due index',
    );
    const failing = (await webhooks.get(webhook.id))!;
    assert.ok(failing.failing);
    const events = (await store.events.list({ afterSeq: 0, limit: 10 })).filter((e) => e.type === 'webhook.failing');
    assert.is(events.length, 1);
    assert.is(events[0]!.data.last_error, 'HTTP 503');

    // A second delivery failing out does not announce it again; a test delivery never turns it failing.
    let second = await addDelivery(store, webhooks, failing);
    second = { ...second, attempts: [failure(1), failure(2)] };
    await recordAttempt(ctx, failing, second, failure(3));
    assert.is(
      (await store.events.list({ afterSeq: 0, limit: 10 })).filter((e) => e.type === 'webhook.failing').length,
      1,
    );
    const fresh = await hook(webhooks);
    const probe = { ...(await addDelivery(store, webhooks, fresh, 'test')), attempts: [failure(1), failure(2)] };
    await recordAttempt(ctx, fresh, probe, failure(3));
    assert.is((await webhooks.getDelivery(probe.id))!.status, 'failed');
    assert.not.ok((await webhooks.get(fresh.id))!.failing);
  });
});

test('outcome: success ends the delivery; a disabled or failing subscription skips it (a test event still goes to a failing one)', async () => {
  await withStore(async (store, webhooks) => {
    const webhook = await hook(webhooks);
    const ctx: OutcomeContext = { store, webhooks, retryScheduleMs: [1000], logger };
    const delivery = await addDelivery(store, webhooks, webhook);
    await recordAttempt(ctx, webhook, delivery, { ...failure(1), statusCode: 204, error: null, success: true });
    assert.is((await webhooks.getDelivery(delivery.id))!.status, 'succeeded');

    const other = await addDelivery(store, webhooks, webhook);
    assert.ok(deliverable(webhook, other));
    assert.not.ok(deliverable({ ...webhook, enabled: false }, other));
    assert.not.ok(deliverable({ ...webhook, failing: true }, other));
    assert.not.ok(deliverable(undefined, other));
    assert.ok(deliverable({ ...webhook, failing: true }, { ...other, eventType: 'test' }));
    await skipDelivery(ctx, other);
    assert.is((await webhooks.getDelivery(other.id))!.status, 'skipped');
    assert.not.ok((await webhooks.due(Date.now() + 10_000, 10)).includes(other.id));
  });
});

/** A pump of two slots that polls every minute (the tests look for what happens sooner), with the test's attempt. */
const pumpOf = (webhooks: Webhooks, attempt: DeliveryPumpOptions['attempt']) =>
  createDeliveryPump({ webhooks, concurrency: 2, pollIntervalMs: 60_000, logger, attempt });

/** Records a delivery's attempt as a 200, as a receiver that took it would. */
async function succeed(ctx: OutcomeContext, webhook: Webhook, id: string) {
  const delivery = (await ctx.webhooks.getDelivery(id))!;
  await recordAttempt(ctx, webhook, delivery, { ...failure(1), statusCode: 200, error: null, success: true });
}

test('pump: at most `concurrency` attempts at once, one per delivery; a delivery due later is started when due, unasked', async () => {
  await withStore(async (store, webhooks) => {
    const webhook = await hook(webhooks);
    const ctx: OutcomeContext = { store, webhooks, retryScheduleMs: [1000], logger };
    for (let i = 0; i < 5; i++) await addDelivery(store, webhooks, webhook);
    const later = await addDelivery(store, webhooks, webhook, 'message.received', Date.now() + 400);
    const releases: (() => void)[] = [];
    const started: { id: string; at: number }[] = [];
    let active = 0;
    let most = 0;
    const pump = pumpOf(webhooks, async (id) => {
      started.push({ id, at: Date.now() });
      most = Math.max(most, ++active);
      if (id !== later.id) await new Promise<void>((r) => releases.push(r));
      await succeed(ctx, webhook, id);
      active--;
    });
    pump.start();
    await pump.pump();
    await waitFor(() => started.length === 2, 5000, 'two attempts');
    await pump.pump(); // asking again while both slots are taken starts nothing
    assert.is(started.length, 2);
    assert.is(pump.inFlight, 2);
    while (started.length < 5 || releases.length) {
      releases.shift()?.();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.is(most, 2);
    assert.is(new Set(started.map((s) => s.id)).size, started.length, 'no delivery attempted twice');
    // Nothing asks for the later one: the pump's own timer starts it once it is due.
    const late = await waitFor(() => started.find((s) => s.id === later.id), 5000, 'the later delivery');
    assert.ok(late.at >= later.dueAt, 'not before it was due');
    await pump.stop();
    assert.is((await webhooks.getDelivery(later.id))!.status, 'succeeded');
    assert.is(started.length, 6);
  });
});

test('pump: a delivery whose lease another node held is tried again within seconds, not at the next poll', async () => {
  await withStore(async (store, webhooks) => {
    const webhook = await hook(webhooks);
    const ctx: OutcomeContext = { store, webhooks, retryScheduleMs: [1000], logger };
    const delivery = await addDelivery(store, webhooks, webhook);
    const tries: number[] = [];
    // The first try finds the lease held on another node, whose attempt then ends without recording one.
    const pump = pumpOf(webhooks, async (id) => {
      tries.push(Date.now());
      if (tries.length === 1) return 'elsewhere';
      await succeed(ctx, webhook, id);
    });
    pump.start();
    await pump.pump();
    // With the hold as long as the poll (60 s here), the second try came a minute later.
    await waitFor(() => tries.length === 2, 5000, 'a second try');
    assert.ok(tries[1]! - tries[0]! < 4000, `tried again after ${tries[1]! - tries[0]!} ms`);
    await pump.stop();
    assert.is((await webhooks.getDelivery(delivery.id))!.status, 'succeeded');
  });
});

test.run();
