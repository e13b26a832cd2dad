// Pieces of the event plumbing that need no sockets: the SSRF address check, URL policy, both
// signatures (checked with the test's own Standard Webhooks verifier), subscription matching.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newWebhookSecret, signatureHeaders } from '../../src/events/signature.ts';
import { BlockedAddress, urlProblem, vetTarget } from '../../src/events/ssrf.ts';
import { isPrivateAddress } from '../../src/security/net.ts';
import { typeMatches } from '../../src/events/types.ts';
import { subscribed } from '../../src/events/webhook-fanout.ts';
import { capUtf8 } from '../../src/api/views/messages.ts';
import type { StoredEvent } from '../../src/store/index.ts';
import type { Webhook } from '../../src/store/webhooks.ts';
import { rejects } from '../helpers/assert.ts';
import { verifyStandardWebhook, verifyWrenSignature } from '../helpers/events.ts';

test('private, loopback, link-local and special addresses are refused; public ones pass', () => {
  for (const a of [
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd12::1',
    '::ffff:127.0.0.1',
    '::ffff:10.1.1.1',
    '224.0.0.1',
    'not-an-ip',
  ]) {
    assert.ok(isPrivateAddress(a), a);
  }
  for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])
    assert.not.ok(isPrivateAddress(a), a);
});

test('URL policy: https unless allowed, no credentials, no literal private hosts unless allowed', async () => {
  const strict = { allowHttp: false, allowPrivateAddresses: false };
  const lax = { allowHttp: true, allowPrivateAddresses: true };
  assert.is(urlProblem('https://hooks.example.com/x', strict), null);
  assert.match(urlProblem('http://hooks.example.com/x', strict)!, /https/);
  assert.is(urlProblem('http://hooks.example.com/x', lax), null);
  assert.match(urlProblem('https://127.0.0.1/x', strict)!, /private/);
  assert.match(urlProblem('https://[::1]:8443/x', strict)!, /private/);
  assert.match(urlProblem('https://app.localhost/x', strict)!, /private/);
  assert.is(urlProblem('http://127.0.0.1:9/x', lax), null);
  assert.match(urlProblem('https://u:p@example.com/', lax)!, /credentials/);
  assert.match(urlProblem('ftp://example.com/', lax)!, /http/);
  assert.match(urlProblem('nonsense', lax)!, /valid/);
  // A name that resolves to loopback is refused at delivery time.
  await rejects(() =>
    vetTarget(new URL('https://localhost.:8443/'), { allowHttp: false, allowPrivateAddresses: false }),
  );
  const err = await rejects(() => vetTarget(new URL('https://127.0.0.1/'), strict));
  assert.ok(err instanceof BlockedAddress);
  assert.equal(await vetTarget(new URL('http://127.0.0.1:9/'), lax), { address: '127.0.0.1', family: 4 });
});

test('signatures verify with the secret (both schemes) and fail with another or a changed body', () => {
  const secret = newWebhookSecret();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{32}$/);
  const body = JSON.stringify({ id: 'evt_000000000001', type: 'test', data: { n: 'ü' } });
  const headers = Object.fromEntries(
    Object.entries(signatureHeaders(secret, 'evt_000000000001', Math.floor(Date.now() / 1000), body)).map(([k, v]) => [
      k.toLowerCase(),
      v,
    ]),
  );
  assert.ok(verifyStandardWebhook(secret, headers, body));
  assert.ok(verifyWrenSignature(secret, headers, body));
  assert.not.ok(verifyStandardWebhook(newWebhookSecret(), headers, body));
  assert.not.ok(verifyStandardWebhook(secret, headers, body.replace('test', 'tesT')));
  assert.not.ok(verifyWrenSignature(secret, headers, `${body} `));
  const stale = Object.fromEntries(
    Object.entries(signatureHeaders(secret, 'evt_1', Math.floor(Date.now() / 1000) - 3600, body)).map(([k, v]) => [
      k.toLowerCase(),
      v,
    ]),
  );
  assert.not.ok(verifyStandardWebhook(secret, stale, body), 'an old timestamp is refused by the verifier');
});

test('subscription matching: types (with aliases), mailboxes, failing, disabled, creation time, test events', () => {
  const now = Date.now();
  const hook: Webhook = {
    id: 'h1',
    teamId: 't',
    url: 'https://x.test/',
    description: '',
    eventTypes: ['message.received', 'message.delivery_delayed'],
    accountIds: [],
    secret: 's',
    enabled: true,
    failing: false,
    failingSince: null,
    createdAt: now - 1000,
    updatedAt: now,
  };
  const event = (over: Partial<StoredEvent>): StoredEvent => ({
    seq: 1,
    id: 'evt_000000000001',
    type: 'message.received',
    time: now,
    teamId: 't',
    accountId: 'a1',
    data: {},
    ...over,
  });
  assert.ok(subscribed(hook, event({})));
  assert.ok(subscribed(hook, event({ type: 'message.deferred' })), 'alias message.delivery_delayed');
  assert.not.ok(subscribed(hook, event({ type: 'message.bounced' })));
  assert.not.ok(subscribed(hook, event({ time: now - 5000 })), 'before the webhook existed');
  assert.not.ok(subscribed({ ...hook, failing: true }, event({})));
  assert.not.ok(subscribed({ ...hook, enabled: false }, event({})));
  assert.ok(subscribed({ ...hook, accountIds: ['a1'] }, event({})));
  assert.not.ok(subscribed({ ...hook, accountIds: ['a2'] }, event({})));
  assert.not.ok(subscribed({ ...hook, accountIds: ['a2'] }, event({ accountId: null })));
  assert.ok(
    subscribed(hook, event({ type: 'test', data: { webhook_id: 'whk_h1' } })),
    'a test event ignores the type filter',
  );
  assert.not.ok(subscribed(hook, event({ type: 'test', data: { webhook_id: 'whk_h2' } })));
  assert.not.ok(
    subscribed({ ...hook, eventTypes: ['*'] }, event({ type: 'webhook.failing', data: { webhook_id: 'whk_h1' } })),
    'never told about itself',
  );
  assert.ok(typeMatches(['*'], 'domain.verified'));
  assert.ok(typeMatches(['message.sent'], 'message.queued'));
});

test('body snapshots are capped on a character boundary', () => {
  assert.equal(capUtf8('abc', 10), { text: 'abc', truncated: false });
  assert.equal(capUtf8('ééé', 3), { text: 'é', truncated: true });
  assert.equal(capUtf8('a€', 3), { text: 'a', truncated: true });
});

test.run();
