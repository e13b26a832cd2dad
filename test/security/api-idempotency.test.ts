// An Idempotency-Key replay is the caller's own. Another key sending the same body under
// the same Idempotency-Key must not receive the stored reply (a new key's secret, a mailbox key's
// secret, another sender's message ids): its request is its own, checked against its own powers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/security/permissions.ts';
import type { Account } from '../../src/store/index.ts';
import { type ApiFixture, startApi } from '../helpers/api.ts';

let api: ApiFixture;
let ann: Account;
let bob: Account;
test.before(async () => {
  api = await startApi();
  await api.store.domains.create(api.teamId, 'idem.test');
  ann = await api.store.accounts.create({ teamId: api.teamId, address: 'ann@idem.test' });
  bob = await api.store.accounts.create({ teamId: api.teamId, address: 'bob@idem.test' });
});
test.after(() => api.close());

const secrets = (text: string) => text.match(/wm_(root|send|mbx)_[A-Za-z0-9]{32}/g) ?? [];

test("api key create: a key holding only apikey.create cannot collect root's new root:full secret", async () => {
  const body = { name: 'ops', type: 'root', role: 'root:full' };
  const headers = { 'idempotency-key': 'create-ops-1' };
  const first = await api.call('POST', '/api-keys', { body, headers });
  assert.is(first.status, 201, first.text);
  const rootSecret: string = first.body.data.secret;
  // root's own retry is still a replay
  const again = await api.call('POST', '/api-keys', { body, headers });
  assert.is(again.headers.get('idempotent-replayed'), 'true');
  assert.is(again.body.data.secret, rootSecret);

  const creator = await api.makeKey(['apikey.create']);
  const stolen = await api.call('POST', '/api-keys', { key: creator, body, headers });
  assert.is(stolen.status, 403, stolen.text);
  assert.is(stolen.headers.get('idempotent-replayed'), null);
  assert.not.ok(stolen.text.includes(rootSecret));
  assert.equal(secrets(stolen.text), []);
});

test("mailbox key mint: another manager replaying the request gets its own key, never the first one's secret", async () => {
  const path = `/mailboxes/mbx_${ann.id}/keys`;
  const headers = { 'idempotency-key': 'laptop-1' };
  const first = await api.call('POST', path, { body: { app_name: 'laptop' }, headers });
  assert.is(first.status, 201, first.text);
  const firstSecret: string = first.body.data.api_key.key;
  const manager = await api.makeKey(['mailbox.admin.manage', ...PRESETS['mailbox:full']!]);
  const other = await api.call('POST', path, { key: manager, body: { app_name: 'laptop' }, headers });
  assert.is(other.status, 201, other.text);
  assert.is(other.headers.get('idempotent-replayed'), null);
  assert.is.not(other.body.data.api_key.key, firstSecret);
  assert.not.ok(other.text.includes(firstSecret));
  // the same key on another path is another request, not a conflict or a replay
  const elsewhere = await api.call('POST', `/mailboxes/mbx_${bob.id}/keys`, { body: { app_name: 'laptop' }, headers });
  assert.is(elsewhere.status, 201, elsewhere.text);
  assert.is(elsewhere.headers.get('idempotent-replayed'), null);
});

test("send: a mailbox key replaying another sender's request is checked as itself (403), not handed the message ids", async () => {
  const annKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', ann.id);
  const bobKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', bob.id);
  const body = { from: 'ann@idem.test', to: 'x@far.test', subject: 'private', text_body: 'hello' };
  const headers = { 'idempotency-key': 'send-1' };
  const sent = await api.call('POST', '/emails/send', { key: annKey, body, headers });
  assert.is(sent.status, 200, sent.text);
  const replay = await api.call('POST', '/emails/send', { key: bobKey, body, headers });
  assert.is(replay.status, 403, replay.text);
  assert.not.ok(replay.text.includes(sent.body.data.message_id));
  // ann's own retry is a replay: one message queued
  const retry = await api.call('POST', '/emails/send', { key: annKey, body, headers });
  assert.is(retry.body.data.message_id, sent.body.data.message_id);
  assert.is(
    (await api.store.queue.list({ limit: 100 })).jobs.filter((j) => `eml_${j.messageId}` === sent.body.data.message_id)
      .length,
    1,
  );
});

test.run();
