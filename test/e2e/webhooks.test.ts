// Webhooks end to end: mail arrives over SMTP, the dispatcher POSTs signed events to a loopback
// receiver that checks both signatures; retries, failing, rotate-secret, filters, replay, SSRF.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startEventsFixture, type EventsFixture } from '../helpers/events-fixture.ts';
import { startReceiver, verifyStandardWebhook, verifyWrenSignature, type Receiver } from '../helpers/events.ts';

let fx: EventsFixture;
let receiver: Receiver;

test.before(async () => {
  fx = await startEventsFixture({ retryScheduleMs: [100, 150, 200] });
  receiver = await startReceiver();
});
test.after(async () => {
  await fx.close();
  await receiver.close();
});

const createWebhook = async (body: Record<string, unknown>) => {
  const reply = await fx.api.call('POST', '/webhooks', { body: { url: receiver.url, ...body } });
  assert.is(reply.status, 201, reply.text);
  return reply.body.data as { id: string; secret: string };
};
const deleteWebhook = async (id: string) => assert.is((await fx.api.call('DELETE', `/webhooks/${id}`)).status, 200);

test('an SMTP delivery reaches the webhook, signed both ways, with the event headers', async () => {
  receiver.received.length = 0;
  const hook = await createWebhook({ event_types: ['message.received'] });
  assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  assert.is(await fx.mail('alice@wren.test', 'hello hook'), 250);
  const [req] = await receiver.waitFor(1);
  assert.ok(verifyStandardWebhook(hook.secret, req!.headers, req!.body), 'Standard Webhooks signature');
  assert.ok(verifyWrenSignature(hook.secret, req!.headers, req!.body), 'X-Wrenmail-Signature');
  assert.not.ok(verifyWrenSignature(`whsec_${Buffer.from('wrong').toString('base64')}`, req!.headers, req!.body));
  const payload = JSON.parse(req!.body);
  assert.is(payload.type, 'message.received');
  assert.is(req!.headers['x-wrenmail-event-type'], 'message.received');
  assert.is(req!.headers['x-wrenmail-event-id'], payload.id);
  assert.is(req!.headers['webhook-id'], payload.id);
  assert.is(req!.headers['x-wrenmail-delivery-attempt'], '1');
  assert.is(payload.mailbox_id, `mbx_${fx.alice.id}`);
  assert.is(payload.data.subject, 'hello hook');
  assert.is(payload.data.to[0], 'alice@wren.test');
  await deleteWebhook(hook.id);
});

test('500 twice then 200: three attempts recorded, one success', async () => {
  receiver.received.length = 0;
  receiver.script = [500, 500, 200];
  const hook = await createWebhook({ event_types: ['message.received'] });
  assert.is(await fx.mail('alice@wren.test', 'retry me'), 250);
  const requests = await receiver.waitFor(3);
  assert.equal(
    requests.map((r) => r.headers['x-wrenmail-delivery-attempt']),
    ['1', '2', '3'],
  );
  assert.is(new Set(requests.map((r) => r.headers['webhook-id'])).size, 1, 'the same message id on every attempt');
  let deliveries: any;
  for (let i = 0; i < 50; i++) {
    deliveries = (await fx.api.call('GET', `/webhooks/${hook.id}/deliveries`)).body.data;
    if (deliveries[0]?.status === 'succeeded') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.is(deliveries.length, 1);
  assert.is(deliveries[0].status, 'succeeded');
  assert.equal(
    deliveries[0].attempts.map((a: any) => [a.attempt, a.status_code, a.success]),
    [
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ],
  );
  const one = await fx.api.call('GET', `/webhooks/${hook.id}/deliveries/${deliveries[0].id}`);
  assert.is(one.body.data.attempt_count, 3);
  const payload = await fx.api.call('GET', `/webhooks/${hook.id}/deliveries/${deliveries[0].id}/payload`);
  assert.equal(payload.body.data.payload, JSON.parse(requests[0]!.body));
  await deleteWebhook(hook.id);
});

test('rotate-secret: the next delivery is signed with the new secret only', async () => {
  receiver.received.length = 0;
  const hook = await createWebhook({ event_types: ['message.received'] });
  const rotated = await fx.api.call('POST', `/webhooks/${hook.id}/rotate-secret`);
  assert.is(rotated.status, 200);
  const secret = rotated.body.data.secret as string;
  assert.is.not(secret, hook.secret);
  const test1 = await fx.api.call('POST', `/webhooks/${hook.id}/test`);
  assert.is(test1.status, 200);
  const [req] = await receiver.waitFor(1);
  assert.is(JSON.parse(req!.body).type, 'test');
  assert.is(JSON.parse(req!.body).id, test1.body.data.event_id);
  assert.ok(verifyStandardWebhook(secret, req!.headers, req!.body));
  assert.ok(verifyWrenSignature(secret, req!.headers, req!.body));
  assert.not.ok(verifyStandardWebhook(hook.secret, req!.headers, req!.body));
  assert.not.ok(verifyWrenSignature(hook.secret, req!.headers, req!.body));
  await deleteWebhook(hook.id);
});

test('filters: event types and mailboxes; a test event goes only to its webhook', async () => {
  receiver.received.length = 0;
  const bobOnly = await createWebhook({ event_types: ['message.received'], mailbox_ids: [`mbx_${fx.bob.id}`] });
  const spamOnly = await createWebhook({ event_types: ['message.received.spam'] });
  assert.is(await fx.mail('alice@wren.test', 'for alice'), 250);
  assert.is(await fx.mail('bob@wren.test', 'for bob'), 250);
  const [req] = await receiver.waitFor(1);
  await new Promise((r) => setTimeout(r, 300));
  assert.is(receiver.received.length, 1, "only bob's message, only once");
  assert.is(JSON.parse(req!.body).data.subject, 'for bob');
  await fx.api.call('POST', `/webhooks/${spamOnly.id}/test`);
  await receiver.waitFor(2);
  await new Promise((r) => setTimeout(r, 200));
  assert.is(receiver.received.length, 2);
  const bad = await fx.api.call('POST', '/webhooks', {
    body: { url: receiver.url, event_types: ['message.received'], mailbox_ids: ['mbx_nope'] },
  });
  assert.is(bad.status, 422);
  await deleteWebhook(bobOnly.id);
  await deleteWebhook(spamOnly.id);
});

test('retries run out: the webhook is failing, a webhook.failing event goes to others, events are skipped until re-enabled', async () => {
  receiver.received.length = 0;
  const watcher = await startReceiver('/watch');
  try {
    receiver.script = [500, 500, 500, 500];
    const hook = await createWebhook({ event_types: ['message.received'] });
    const watch = (
      await fx.api.call('POST', '/webhooks', { body: { url: watcher.url, event_types: ['webhook.failing'] } })
    ).body.data;
    assert.is(await fx.mail('alice@wren.test', 'doomed'), 250);
    await receiver.waitFor(4);
    const [notice] = await watcher.waitFor(1);
    const event = JSON.parse(notice!.body);
    assert.is(event.type, 'webhook.failing');
    assert.is(event.data.webhook_id, hook.id);
    assert.ok(verifyStandardWebhook(watch.secret, notice!.headers, notice!.body));
    const got = (await fx.api.call('GET', `/webhooks/${hook.id}`)).body.data;
    assert.is(got.failing, true);
    const [delivery] = (await fx.api.call('GET', `/webhooks/${hook.id}/deliveries?status=failed`)).body.data;
    assert.is(delivery.attempt_count, 4);

    assert.is(await fx.mail('alice@wren.test', 'skipped'), 250);
    await new Promise((r) => setTimeout(r, 300));
    assert.is(receiver.received.length, 4, 'no delivery while failing');

    const enabled = await fx.api.call('PATCH', `/webhooks/${hook.id}`, { body: { enabled: true } });
    assert.is(enabled.body.data.failing, false);
    assert.is(await fx.mail('alice@wren.test', 'back'), 250);
    const requests = await receiver.waitFor(5);
    assert.is(JSON.parse(requests[4]!.body).data.subject, 'back');

    const replay = await fx.api.call('POST', `/webhooks/${hook.id}/deliveries/${delivery.id}/replay`);
    assert.is(replay.status, 201);
    assert.is(replay.body.data.replay_of, delivery.id);
    const again = await receiver.waitFor(6);
    assert.is(again[5]!.body, again[0]!.body, 'the replay sends the same payload');
    await deleteWebhook(hook.id);
    await deleteWebhook(watch.id);
  } finally {
    await watcher.close();
  }
});

test('outbound: a queued message, its delivery and a bounce reach the webhook', async () => {
  receiver.received.length = 0;
  const { createQueueRunner } = await import('../../src/outbound/queue-runner.ts');
  const { createResolver } = await import('../../src/dns/resolver.ts');
  const hook = await createWebhook({ event_types: ['message.sent', 'message.delivered', 'message.bounced'] });
  const runner = createQueueRunner({
    store: fx.api.store,
    resolver: createResolver({ servers: fx.dns.servers, timeoutMs: 500, tries: 1 }),
    hostname: 'mx.wren.test',
    mtaSts: false,
    deliverLocal: async (_raw, envelope) => {
      if (envelope.to.includes('nobody@wren.test'))
        throw Object.assign(new Error('no such user'), { responseCode: 550 });
    },
  });
  runner.start();
  try {
    const raw = Buffer.from(
      'From: alice@wren.test\r\nTo: bob@wren.test\r\nSubject: outbound\r\nMessage-ID: <out-1@wren.test>\r\n\r\nhi\r\n',
    );
    await fx.api.store.queue.enqueue({
      teamId: fx.api.teamId,
      accountId: fx.alice.id,
      from: 'alice@wren.test',
      to: ['bob@wren.test'],
      raw,
      subject: 'outbound',
    });
    await fx.api.store.queue.enqueue({
      teamId: fx.api.teamId,
      accountId: fx.alice.id,
      from: 'alice@wren.test',
      to: ['nobody@wren.test'],
      raw,
      subject: 'outbound',
    });
    const requests = await receiver.waitFor(4);
    await new Promise((r) => setTimeout(r, 200));
    const types = receiver.received
      .map((r) => JSON.parse(r.body))
      .filter((e) => e.data.subject === 'outbound')
      .map((e) => `${e.type}:${e.data.recipient ?? e.data.to}`);
    assert.equal(types.sort(), [
      'message.bounced:nobody@wren.test',
      'message.delivered:bob@wren.test',
      'message.queued:bob@wren.test',
      'message.queued:nobody@wren.test',
    ]);
    for (const r of requests) assert.ok(verifyStandardWebhook(hook.secret, r.headers, r.body));
  } finally {
    await runner.stop();
  }
  await deleteWebhook(hook.id);
});

test('URLs: https required unless allowed, private targets refused unless allowed (API check)', async () => {
  const { createWebhookDispatcher } = await import('../../src/events/webhook-dispatcher.ts');
  const _strict = createWebhookDispatcher({ store: fx.api.store });
  try {
    for (const url of [
      'http://example.com/hook',
      'https://127.0.0.1/hook',
      'https://[::1]/x',
      'https://10.1.2.3/x',
      'https://169.254.169.254/latest',
      'https://localhost/x',
      'ftp://example.com/',
      'https://user:pw@example.com/',
    ]) {
      const reply = await fx.api.call('POST', '/webhooks', { body: { url, event_types: ['message.received'] } });
      assert.is(reply.status, 422, url);
      assert.is(reply.body.error.param, 'url');
    }
    const ok = await fx.api.call('POST', '/webhooks', {
      body: { url: 'https://hooks.example.com/in', event_types: ['*'] },
    });
    assert.is(ok.status, 201);
    await deleteWebhook(ok.body.data.id);
  } finally {
    // Back to the fixture's permissive policy for the other tests.
    createWebhookDispatcher({ store: fx.api.store, allowHttp: true, allowPrivateAddresses: true });
  }
});

test('CRUD, permissions, another team cannot see it, Idempotency-Key on create', async () => {
  const headers = { 'idempotency-key': 'create-1' };
  const a = await fx.api.call('POST', '/webhooks', {
    body: { url: receiver.url, event_types: ['message.delivered', 'message.sent'], description: 'ci' },
    headers,
  });
  const b = await fx.api.call('POST', '/webhooks', {
    body: { url: receiver.url, event_types: ['message.delivered', 'message.sent'], description: 'ci' },
    headers,
  });
  assert.is(a.status, 201);
  assert.is(b.text, a.text, 'the replay returns the same webhook and secret');
  const id = a.body.data.id;
  const list = await fx.api.call('GET', '/webhooks');
  assert.ok(list.body.data.some((w: any) => w.id === id && w.secret === undefined));
  const other = await fx.api.newTeam('other');
  assert.is((await fx.api.call('GET', `/webhooks/${id}`, { key: other.key })).status, 404);
  const readonly = await fx.api.makeKey(['webhook.read']);
  assert.is((await fx.api.call('GET', `/webhooks/${id}`, { key: readonly })).status, 200);
  assert.is((await fx.api.call('POST', `/webhooks/${id}/rotate-secret`, { key: readonly })).status, 403);
  const patched = await fx.api.call('PATCH', `/webhooks/${id}`, {
    body: { event_types: ['message.bounced'], enabled: false },
  });
  assert.equal(patched.body.data.event_types, ['message.bounced']);
  assert.is(patched.body.data.enabled, false);
  assert.is((await fx.api.call('POST', `/webhooks/${id}/test`)).status, 409, 'no test to a disabled webhook');
  assert.is(
    (await fx.api.call('POST', '/webhooks', { body: { url: receiver.url, event_types: ['no.such'] } })).status,
    400,
  );
  await deleteWebhook(id);
  assert.is((await fx.api.call('GET', `/webhooks/${id}`)).status, 404);
});

test.run();
