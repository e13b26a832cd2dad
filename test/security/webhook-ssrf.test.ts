// The webhook SSRF guard and IPv6 addresses that carry an IPv4 address. Each form is
// normalised, its IPv4 address extracted and judged by the IPv4 rules; ranges that only exist
// locally (NAT64 local use, discard-only) are refused outright. Checked where it matters: creating a
// webhook through the API, and delivering to a name whose DNS answer (at delivery time) is such an
// address (rebinding), with a real DNS server and a real receiver that must see nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
import { createWebhookDispatcher, type WebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';
import { type EventsFixture, startEventsFixture } from '../helpers/events-fixture.ts';
import { type Receiver, startReceiver } from '../helpers/events.ts';

let fx: EventsFixture;
let receiver: Receiver;
let strict: WebhookDispatcher;
test.before(async () => {
  fx = await startEventsFixture(false);
  receiver = await startReceiver();
});
test.after(async () => {
  await strict?.stop();
  await receiver.close();
  await fx.close();
});

/** IPv6 forms of loopback, private and metadata IPv4 addresses, and IPv6 ranges that are never a public target. */
const HIDDEN = [
  '[::127.0.0.1]',
  '[::7f00:1]', // ::/96, IPv4-compatible
  '[::ffff:127.0.0.1]',
  '[::ffff:7f00:1]',
  '[::ffff:a9fe:a9fe]',
  '[0:0:0:0:0:ffff:10.0.0.1]', // ::ffff:0:0/96, IPv4-mapped
  '[::ffff:0:127.0.0.1]',
  '[::ffff:0:a00:1]', // ::ffff:0:0:0/96, IPv4-translated
  '[64:ff9b::127.0.0.1]',
  '[64:ff9b::c0a8:101]', // 64:ff9b::/96, NAT64
  '[64:ff9b:1::a00:1]',
  '[64:ff9b:1:abcd::1]', // 64:ff9b:1::/48, local-use NAT64
  '[100::1]', // 100::/64, discard-only
  '[2002:7f00:1::1]',
  '[2002:a9fe:a9fe::1]',
  '[2002:c0a8:101::]', // 6to4 around private IPv4
];

test('creating a webhook: every IPv6 form that embeds a private IPv4 address is refused (422 on url)', async () => {
  strict = createWebhookDispatcher({ store: fx.api.store, allowHttp: true });
  for (const host of HIDDEN) {
    const url = `https://${host}/hook`;
    const reply = await fx.api.call('POST', '/webhooks', { body: { url, event_types: ['message.received'] } });
    assert.is(reply.status, 422, `${url}: ${reply.text}`);
    assert.is(reply.body.error.param, 'url');
  }
  // public IPv4 behind the same IPv6 forms is fine
  for (const host of ['[64:ff9b::8.8.8.8]', '[2002:808:808::1]', '[2606:4700::1111]']) {
    const reply = await fx.api.call('POST', '/webhooks', {
      body: { url: `https://${host}/hook`, event_types: ['message.received'] },
    });
    assert.is(reply.status, 201, `${host}: ${reply.text}`);
    assert.is((await fx.api.call('DELETE', `/webhooks/${reply.body.data.id}`)).status, 200);
  }
});

test('delivering: a name that resolves (at delivery) to an IPv4-mapped or 6to4 loopback address is refused, nothing reaches the receiver', async () => {
  await strict.stop();
  const port = new URL(receiver.url).port;
  fx.dns.zone['rebind.test'] = { AAAA: ['::ffff:127.0.0.1'] };
  fx.dns.zone['rebind6to4.test'] = { AAAA: ['2002:7f00:1::1'] };
  strict = createWebhookDispatcher({
    store: fx.api.store,
    allowHttp: true,
    retryScheduleMs: [50],
    timeoutMs: 1000,
    resolver: createResolver({ servers: fx.dns.servers, timeoutMs: 500, tries: 1 }),
  });
  strict.start();
  for (const name of ['rebind.test', 'rebind6to4.test']) {
    const hook = await fx.api.call('POST', '/webhooks', {
      body: { url: `http://${name}:${port}/hook`, event_types: ['message.received'] },
    });
    assert.is(hook.status, 201, hook.text);
    assert.is(await fx.mail('alice@wren.test', `to ${name}`), 250);
    let attempts: any[] = [];
    for (let i = 0; i < 100 && attempts.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      attempts = (await fx.api.call('GET', `/webhooks/${hook.body.data.id}/deliveries`)).body.data[0]?.attempts ?? [];
    }
    assert.is(attempts.length, 2, JSON.stringify(attempts));
    for (const a of attempts) {
      assert.is(a.success, false);
      assert.match(a.error, new RegExp(`${name.replace('.', '\\.')} resolves to .*private or special-purpose`));
    }
    assert.is(receiver.received.length, 0);
    assert.is((await fx.api.call('DELETE', `/webhooks/${hook.body.data.id}`)).status, 200);
  }
});

test.run();
