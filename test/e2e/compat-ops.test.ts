// Stalwart/Mailbux compatibility for operations: `/api/queue/*` over the outbound queue,
// `/api/spam-filter/*` over the classifier, and `/api/account/auth` (app passwords = mailbox keys).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { basic, type CompatFixture, startCompat } from '../helpers/compat.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { createResolver } from '../../src/dns/resolver.ts';

let f: CompatFixture;
let dns: TestDnsServer;
test.before(async () => {
  // x.test sends from no address: classify's envelope (remoteIp, envFrom) is checked against it.
  dns = await startDnsServer({ 'x.test': { TXT: ['v=spf1 -all'] } });
  f = await startCompat({ resolver: createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }) });
  await f.store.domains.create(f.teamId, 'ops.test');
  await f.store.accounts.create({
    teamId: f.teamId,
    address: 'ann@ops.test',
    passwordHash: await hashPassword('ann-password-1'),
  });
});
test.after(async () => {
  await f.close();
  await dns.close();
});

async function data(
  method: string,
  path: string,
  options: { body?: unknown; raw?: string; auth?: string } = {},
): Promise<any> {
  const reply = await f.compat(method, path, options);
  assert.is(reply.status, 200, `${method} ${path}: ${reply.text}`);
  assert.ok(reply.body && 'data' in reply.body, `${method} ${path}: ${reply.text}`);
  return reply.body.data;
}

test('queue: list ids or values, get in the 0.15 shape, reschedule, cancel; other teams and unknown ids → 404', async () => {
  const {
    jobs: [job],
  } = await f.store.queue.enqueue({
    teamId: f.teamId,
    from: 'ann@ops.test',
    to: ['x@far.test', 'y@far.test'],
    raw: makeMessage({ subject: 'queued' }),
    dueAt: Date.now() + 60_000,
  });
  const id = parseInt(job!.id, 16);
  assert.equal(await data('GET', '/queue/messages'), { items: [id], total: 1, status: true });
  assert.equal((await data('GET', '/queue/messages?to=nobody')).total, 0);
  const [item] = (await data('GET', '/queue/messages?values=1&from=ann')).items;
  assert.is(item.id, id);
  const message = await data('GET', `/queue/messages/${id}`);
  assert.is(message.return_path, 'ann@ops.test');
  assert.match(message.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(
    message.recipients.map((r: { address: string; status: string; queue: string }) => [r.address, r.status, r.queue]),
    [
      ['x@far.test', 'scheduled', 'default'],
      ['y@far.test', 'scheduled', 'default'],
    ],
  );

  const at = new Date(Date.now() + 3_600_000);
  assert.is(await data('PATCH', `/queue/messages/${id}?at=${encodeURIComponent(at.toISOString())}`), true);
  assert.is((await f.store.queue.get(job!.id))!.dueAt, Math.floor(at.getTime()));
  assert.is(await data('PATCH', `/queue/messages/${id}?filter=nobody`), false);
  assert.is(await data('PATCH', `/queue/messages/${id}`), true);
  assert.ok((await f.store.queue.get(job!.id))!.dueAt <= Date.now());

  const other = await f.newTeam('team-b');
  assert.is((await f.compat('GET', `/queue/messages/${id}`, { auth: `Bearer ${other.key}` })).status, 404);
  assert.equal(await data('GET', '/queue/messages', { auth: `Bearer ${other.key}` }), {
    items: [],
    total: 0,
    status: true,
  });
  assert.is((await f.compat('GET', '/queue/messages/999999')).status, 404);

  const partial = await f.compat('DELETE', `/queue/messages/${id}?filter=x@far`);
  assert.is(partial.body.error, 'unsupported');
  assert.is(await data('DELETE', `/queue/messages/${id}`), true);
  assert.is((await f.store.queue.get(job!.id))!.state, 'cancelled');
  assert.is(await data('DELETE', `/queue/messages/${id}`), false);
  assert.equal(await data('GET', '/queue/messages'), { items: [], total: 0, status: true });
  assert.is(await data('GET', '/queue/status'), true);
  assert.is((await f.compat('PATCH', '/queue/status/stop')).body.error, 'unsupported');
});

test("spam-filter: train (0.14) and upload (0.15) raw samples, per account; classify in Stalwart's shape", async () => {
  const spam = makeMessage({
    subject: 'WIN A FREE CRUISE TODAY',
    body: 'claim your qwertyprize at http://cheap.example/\r\n',
  }).toString();
  const ham = makeMessage({ subject: 'minutes of Tuesday', body: 'notes attached\r\n' }).toString();
  assert.is(await data('POST', '/spam-filter/train/spam', { raw: spam }), null);
  assert.is(await data('POST', '/spam-filter/upload/ham/ann@ops.test', { raw: ham }), null);
  assert.equal((await f.store.spam.model('s')).totals, { spam: 1, ham: 1 });
  const ghost = await f.compat('POST', '/spam-filter/upload/ham/ghost@ops.test', { raw: ham });
  assert.equal([ghost.status, ghost.body], [404, { error: 'notFound', item: 'ghost@ops.test' }]);
  assert.is((await f.compat('POST', '/spam-filter/upload/maybe', { raw: ham })).status, 404);
  assert.is((await f.compat('POST', '/spam-filter/train/spam', { raw: '' })).status, 400);
  assert.is(await data('GET', '/spam-filter/train/status'), false);

  const classified = await data('POST', '/spam-filter/classify', {
    body: {
      message: spam,
      remoteIp: '192.0.2.1',
      ehloDomain: 'x.test',
      envFrom: 'a@x.test',
      envFromFlags: 0,
      envRcptTo: ['ann@ops.test'],
    },
  });
  assert.type(classified.score, 'number');
  assert.ok('SUBJECT_ALL_CAPS' in classified.tags, JSON.stringify(classified.tags));
  // Scored as received in that session: SPF of envFrom's domain for remoteIp, as Stalwart checks it.
  assert.ok('SPF_FAIL' in classified.tags, JSON.stringify(classified.tags));
  const badIp = await f.compat('POST', '/spam-filter/classify', {
    body: { message: spam, remoteIp: 'not an address' },
  });
  assert.is(badIp.status, 400, badIp.text);
  assert.is(classified.tags.SUBJECT_ALL_CAPS.action, 'allow');
  assert.is(classified.disposition.action, 'allow');
  assert.match(classified.disposition.value, /^X-Spam-Score: /);
  const gtube = await data('POST', '/spam-filter/classify', {
    body: {
      message: makeMessage({
        body: 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n',
      }).toString(),
    },
  });
  assert.equal(gtube.disposition, { action: 'reject' });
  const readOnly = await f.makeKey(['domain.read']);
  assert.is(
    (await f.compat('POST', '/spam-filter/classify', { auth: `Bearer ${readOnly}`, body: { message: spam } })).status,
    403,
  );
});

test("account/auth: a mailbox's app passwords (mailbox keys, also IMAP/SMTP passwords) and its own password (Basic only)", async () => {
  const login = new LoginService(f.store);
  const me = basic('ann@ops.test', 'ann-password-1');
  assert.equal(await data('GET', '/account/auth', { auth: me }), { otpEnabled: false, appPasswords: [] });
  const added = await data('POST', '/account/auth', {
    auth: me,
    body: [{ type: 'addAppPassword', name: 'laptop', password: '' }],
  });
  const secret: string = added.appPasswords[0].password;
  assert.match(secret, /^wm_mbx_/);
  assert.ok((await login.login('ann@ops.test', secret, '127.0.0.8')).ok);
  assert.equal(await data('GET', '/account/auth', { auth: `Bearer ${secret}` }), {
    otpEnabled: false,
    appPasswords: ['laptop'],
  });
  // password changes need Basic
  const viaKey = await f.compat('POST', '/account/auth', {
    auth: `Bearer ${secret}`,
    body: [{ type: 'setPassword', password: 'ann-password-2' }],
  });
  assert.is(viaKey.body.error, 'other');
  assert.is(
    await data('POST', '/account/auth', { auth: me, body: [{ type: 'setPassword', password: 'ann-password-2' }] }),
    null,
  );
  assert.ok((await login.login('ann@ops.test', 'ann-password-2', '127.0.0.8')).ok);
  const me2 = basic('ann@ops.test', 'ann-password-2');
  assert.is(
    (await f.compat('POST', '/account/auth', { auth: me2, body: [{ type: 'enableOtpAuth', url: 'otpauth://totp/x' }] }))
      .body.error,
    'unsupported',
  );
  assert.is(
    await data('POST', '/account/auth', { auth: me2, body: [{ type: 'removeAppPassword', name: 'laptop' }] }),
    null,
  );
  assert.not.ok((await login.login('ann@ops.test', secret, '127.0.0.8')).ok);
  assert.is((await f.compat('GET', '/account/auth', { auth: basic('ann@ops.test', 'wrong-password') })).status, 401);
  // a mailbox login reaches nothing else
  assert.is((await f.compat('GET', '/principal', { auth: me2 })).status, 403);
  assert.is((await f.compat('POST', '/account/auth', { auth: me2, body: [] })).status, 400);
});

test.run();
