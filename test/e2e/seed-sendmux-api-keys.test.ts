// docs/seeds/sendmux-api-keys.txt: the three key types, the mailbox permissions (email.send over
// SMTP, mailbox.read/email.receive/mailbox.settings.update over the API), rotation (the old key
// working until it is revoked), immediate revocation, mailbox keys pausing with a suspended mailbox, and 100 active keys per team.
import nodemailer from 'nodemailer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient } from '../helpers/imap.ts';
import { startSink, waitFor } from '../helpers/outbound.ts';
import { startSendmuxSeedServer, type SendmuxSeedServer } from '../helpers/seed-instance.ts';

let s: SendmuxSeedServer;

test.before(async () => {
  s = await startSendmuxSeedServer();
});
test.after(() => s?.stop());

const create = async (body: Record<string, unknown>) => {
  const reply = await s.api('POST', '/api-keys', body);
  assert.is(reply.status, 201, JSON.stringify(reply.body));
  return reply.body.data as { id: string; secret: string; type: string; permissions: string[] };
};

test('key types: infrastructure (root), sending and mailbox keys, each holding what the table says', async () => {
  const root = await create({ name: 'infra', role: 'root:full' });
  assert.match(root.secret, /^wm_root_/);
  const sending = await create({ name: 'worker', type: 'send', role: 'send_only' });
  assert.match(sending.secret, /^wm_send_/);
  assert.equal(sending.permissions, ['email.send']);
  const mailbox = await create({ name: 'client', type: 'mailbox', mailbox_id: s.mailbox.id, role: 'mailbox:full' });
  assert.match(mailbox.secret, /^wm_mbx_/);
  assert.equal(mailbox.permissions.sort(), ['email.receive', 'email.send', 'mailbox.read', 'mailbox.settings.update']);
  // mailbox.read: folders and messages; mailbox.settings.update: identity
  assert.is((await s.api('GET', '/mailbox/folders', undefined, mailbox.secret)).status, 200);
  assert.is((await s.api('PATCH', '/mailbox/identity', { name: 'Agent' }, mailbox.secret)).status, 200);
  const readOnly = await create({
    name: 'reader',
    type: 'mailbox',
    mailbox_id: s.mailbox.id,
    permissions: ['mailbox.read'],
  });
  assert.is((await s.api('PATCH', '/mailbox/identity', { name: 'x' }, readOnly.secret)).status, 403);
  // email.send over SMTP: the mailbox key is the submission password
  const smtp = nodemailer.createTransport({
    host: '127.0.0.1',
    port: s.instance.port('smtp-submission'),
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: s.mailbox.email, pass: mailbox.secret },
  });
  try {
    assert.equal(
      (await smtp.sendMail({ from: s.mailbox.email, to: s.mailbox.email, subject: 'key', text: 'x\n' })).rejected,
      [],
    );
  } finally {
    smtp.close();
  }
  assert.is((await s.api('GET', '/domains', undefined, sending.secret)).status, 403, 'a sending key manages nothing');
});

test("rotate, as the page's four steps: a new secret appears; both work while callers move; revoking the old key ends it and its sessions", async () => {
  const key = (await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: 'rotating' })).body.data.api_key;
  // a caller logged in with the old key (IMAP: the key is the password)
  const caller = await RawClient.connect(s.instance.port('imaps'), true);
  try {
    assert.match(await caller.command('a1', `LOGIN "${s.mailbox.email}" "${key.key}"`), /^a1 OK/m);
    // 1. "Select the rotate action beside the key." 2. "Copy the new secret when it appears."
    const rotated = await s.api('POST', `/api-keys/${key.public_id}/rotate`);
    assert.is(rotated.status, 201, JSON.stringify(rotated.body));
    const next = rotated.body.data;
    assert.match(next.secret, /^wm_mbx_/);
    assert.is.not(next.secret, key.key);
    assert.is(next.rotated_from, key.public_id);
    assert.equal(
      [next.name, next.mailbox_id, next.permissions.sort()],
      ['rotating', s.mailbox.id, ['email.receive', 'email.send', 'mailbox.read', 'mailbox.settings.update']],
    );
    assert.is(rotated.headers.get('location'), `/api/v1/api-keys/${next.id}`);
    // 3. "Deploy the new secret to every system that uses it." Meanwhile the old key still works.
    assert.is((await s.api('GET', '/mailbox/me', undefined, next.secret)).status, 200);
    assert.is(
      (await s.api('GET', '/mailbox/me', undefined, key.key)).status,
      200,
      'the old key works until it is revoked',
    );
    assert.match(await caller.command('a2', 'NOOP'), /^a2 OK/m, 'and so does its live session');
    assert.is((await s.api('GET', `/api-keys/${key.public_id}`)).body.data.status, 'active');
    // 4. "Revoke the old key once all callers have moved." — "Revocation is immediate."
    assert.is((await s.api('DELETE', `/api-keys/${key.public_id}`)).status, 200);
    assert.is((await s.api('GET', '/mailbox/me', undefined, key.key)).status, 401);
    assert.match(await caller.until(/^\* BYE [^\r\n]*\r\n/m, 3000), /key revoked/);
    await caller.waitClosed(3000);
    assert.is((await s.api('GET', '/mailbox/me', undefined, next.secret)).status, 200, 'the new key is not touched');
  } finally {
    caller.close();
  }
});

test('rotate with revoke_old (a leaked key): the old key stops in the same step; a revoked key does not rotate', async () => {
  const key = await create({ name: 'leaked', role: 'root:readonly' });
  const rotated = await s.api('POST', `/api-keys/${key.id}/rotate`, { revoke_old: true });
  assert.is(rotated.status, 201, JSON.stringify(rotated.body));
  assert.is((await s.api('GET', '/domains', undefined, key.secret)).status, 401);
  assert.is((await s.api('GET', '/domains', undefined, rotated.body.data.secret)).status, 200);
  const again = await s.api('POST', `/api-keys/${key.id}/rotate`);
  assert.equal([again.status, again.body.error.code], [409, 'conflict']);
  assert.is((await s.api('DELETE', `/api-keys/${rotated.body.data.id}`)).status, 200);
  assert.is((await s.api('GET', '/domains', undefined, rotated.body.data.secret)).status, 401);
});

test('sending keys route through chosen providers or a delivery group (Create a key): their mail goes out through the group', async () => {
  const sink = await startSink();
  try {
    const provider = await s.api('POST', '/providers', {
      name: 'loopback relay',
      smtp_host: '127.0.0.1',
      smtp_port: sink.port,
      smtp_protocol: 'starttls',
      verify_certificate: false,
    });
    assert.is(provider.status, 201, JSON.stringify(provider.body));
    const group = (
      await s.api('POST', '/delivery-groups', { name: 'Chosen providers', provider_ids: [provider.body.data.id] })
    ).body.data;
    const worker = await create({ name: 'routed worker', type: 'send', delivery_group_id: group.id });
    assert.equal((await s.api('GET', `/delivery-groups/${group.id}`)).body.data.api_key_ids, [worker.id]);
    const sent = await s.api(
      'POST',
      '/emails/send',
      { from: s.mailbox.email, to: 'erin@remote.example', subject: 'Routed by key', text_body: 'hello' },
      worker.secret,
    );
    assert.is(sent.status, 200, JSON.stringify(sent.body));
    await waitFor(
      () => sink.messages.some((m) => m.to.includes('erin@remote.example')),
      15_000,
      "the key's mail through its group",
    );
    // its successor sends the same way; a revoked key no longer counts
    const next = (await s.api('POST', `/api-keys/${worker.id}/rotate`, { revoke_old: true })).body.data;
    assert.equal((await s.api('GET', `/delivery-groups/${group.id}`)).body.data.api_key_ids, [next.id]);
    const mailboxKey = await s.api('POST', '/api-keys', {
      name: 'x',
      type: 'mailbox',
      mailbox_id: s.mailbox.id,
      delivery_group_id: group.id,
    });
    assert.equal([mailboxKey.status, mailboxKey.body.error.param], [422, 'delivery_group_id']);
    // the group stays while a key sends through it, unless forced
    assert.equal((await s.api('DELETE', `/delivery-groups/${group.id}`)).body.error.code, 'conflict');
    assert.is((await s.api('DELETE', `/delivery-groups/${group.id}?force=true`)).status, 200);
    assert.equal((await s.api('GET', '/delivery-groups')).body.data, []);
  } finally {
    await sink.close();
  }
});

test('mailbox keys stop working while their mailbox is suspended and work again after it is resumed', async () => {
  const key = (await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: 'pausing' })).body.data.api_key.key;
  assert.is((await s.api('GET', '/mailbox/me', undefined, key)).status, 200);
  assert.is((await s.api('POST', `/mailboxes/${s.mailbox.id}/suspend`)).status, 200);
  assert.is((await s.api('GET', '/mailbox/me', undefined, key)).status, 403);
  assert.is((await s.api('POST', `/mailboxes/${s.mailbox.id}/resume`)).status, 200);
  assert.is((await s.api('GET', '/mailbox/me', undefined, key)).status, 200);
});

test('100 active API keys per team across root and mailbox-class keys: the 101st is 409 limit_exceeded; revoking frees a place', async () => {
  const active = (await s.api('GET', '/api-keys?limit=100')).body.data.filter(
    (k: { status: string }) => k.status === 'active',
  ).length;
  let lastId = '';
  for (let n = active; n < 100; n++) {
    lastId =
      n % 2
        ? (await create({ name: `k${n}`, role: 'root:readonly' })).id
        : (await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: `k${n}` })).body.data.api_key.public_id;
    assert.ok(lastId, `key ${n + 1}`);
  }
  const over = await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: 'one too many' });
  assert.equal([over.status, over.body.error.code], [409, 'limit_exceeded']);
  const overRoot = await s.api('POST', '/api-keys', { name: 'one too many', role: 'root:readonly' });
  assert.equal([overRoot.status, overRoot.body.error.code], [409, 'limit_exceeded']);
  assert.is((await s.api('DELETE', `/api-keys/${lastId}`)).status, 200);
  assert.is((await s.api('POST', '/api-keys', { name: 'fits again', role: 'root:readonly' })).status, 201);
});

test.run();
