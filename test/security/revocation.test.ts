// Revocation reaches live sessions. Revoking a key (or rotating it with revoke_old) ends
// the IMAP, POP3, SMTP submission sessions and SSE streams that logged in with it (IMAP: `* BYE`, then
// close); a new password ends the password sessions; a suspension ends them all. Keys a mailbox key minted (app
// passwords) are its children and die with it. One whole server, real clients over real sockets.
import { readFileSync } from 'node:fs';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import type { Account } from '../../src/store/index.ts';
import { openSse } from '../helpers/events.ts';
import { RawClient } from '../helpers/imap.ts';
import { RawPop3 } from '../helpers/pop3.ts';
import { type Instance, startInstance } from '../helpers/instance.ts';

const PASSWORD = 'ann-password-123';
let server: Instance;
let rootKey: string;
let base: string;

test.before(async () => {
  const any = ['127.0.0.1:0'];
  server = await startInstance({
    overrides: {
      smtp: { mx_listen: [], submission_listen: [], submissions_listen: any },
      imap: { listen: any, tls_listen: [], allow_plain_auth_loopback: true },
      pop3: { listen: any, tls_listen: [] },
    },
  });
  rootKey = readFileSync(bootstrapKeyPath(server.config.data_dir), 'utf8').trim();
  base = `http://127.0.0.1:${server.port('http')}`;
});
/** Every client opened, closed before the server stops (on old code sessions outlive the test). */
const opened: (() => void)[] = [];
test.after(async () => {
  for (const close of opened) close();
  await server.stop();
});

async function api(method: string, path: string, body?: unknown, key = rootKey): Promise<any> {
  const reply = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await reply.text();
  return { status: reply.status, body: text ? JSON.parse(text) : undefined };
}

async function mailbox(address: string): Promise<Account> {
  return server.addAccount(address, PASSWORD);
}

async function mintKey(account: Account, name: string): Promise<{ id: string; secret: string }> {
  const reply = await api('POST', `/api/v1/mailboxes/mbx_${account.id}/keys`, { app_name: name });
  assert.is(reply.status, 201, JSON.stringify(reply.body));
  return { id: reply.body.data.api_key.public_id, secret: reply.body.data.api_key.key };
}

async function imap(user: string, password: string): Promise<RawClient> {
  const client = await RawClient.connect(server.port('imap'));
  opened.push(() => client.close());
  assert.match(await client.command('a1', `LOGIN "${user}" "${password}"`), /^a1 OK/m);
  return client;
}

const alive = async (client: RawClient) => assert.match(await client.command('n1', 'NOOP'), /^n1 OK/m);

async function ended(client: RawClient, reason: RegExp): Promise<void> {
  const text = await client.until(/^\* BYE [^\r\n]*\r\n/m, 3000);
  assert.match(text, reason);
  await client.waitClosed(3000);
}

async function pop3(user: string, password: string): Promise<RawPop3> {
  const client = await RawPop3.connect(server.port('pop3'));
  opened.push(() => client.close());
  await client.line();
  client.send(`USER ${user}`);
  assert.match(await client.line(), /^\+OK/);
  client.send(`PASS ${password}`);
  assert.match(await client.line(), /^\+OK/);
  return client;
}

/** An authenticated SMTP submission session (nodemailer's connection, implicit TLS); resolves its 'end'. */
async function smtp(user: string, password: string): Promise<{ ended: Promise<void>; connection: SMTPConnection }> {
  const connection = new SMTPConnection({
    host: '127.0.0.1',
    port: server.port('smtp-submissions'),
    secure: true,
    tls: { rejectUnauthorized: false },
    socketTimeout: 10_000,
  });
  const ended = new Promise<void>((resolve) => connection.once('end', () => resolve()));
  connection.on('error', () => undefined);
  opened.push(() => connection.close());
  await new Promise<void>((resolve, reject) => connection.connect((err?: Error) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve, reject) =>
    connection.login({ user, pass: password }, (err?: Error | null) => (err ? reject(err) : resolve())),
  );
  return { ended, connection };
}

const within = <T>(promise: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([
    promise,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms)),
  ]);

test('revoking a key ends its IMAP, POP3, SMTP and SSE sessions at once; password sessions go on', async () => {
  const ann = await mailbox('ann@revoke.test');
  const key = await mintKey(ann, 'phone');
  const byKey = await imap('ann@revoke.test', key.secret);
  const byPassword = await imap('ann@revoke.test', PASSWORD);
  const pop = await pop3('ann@revoke.test', key.secret);
  const submission = await smtp('ann@revoke.test', key.secret);
  const sse = await openSse(`${base}/api/v1/mailbox/events`, key.secret);
  opened.push(() => sse.close());
  assert.is(sse.status, 200);
  await alive(byKey);

  assert.is((await api('DELETE', `/api/v1/api-keys/${key.id}`)).status, 200);
  await ended(byKey, /^\* BYE Session ended: key revoked/m);
  assert.match(await pop.line(), /^-ERR \[AUTH\] Session ended: key revoked/);
  await within(submission.ended, 3000, "the SMTP session's end");
  await within(sse.ended, 3000, "the SSE stream's end");
  assert.equal(
    sse.frames.map((f) => [f.event, f.data.reason]),
    [['session_ended', 'key revoked']],
  );
  await alive(byPassword);
  byPassword.close();
});

test("rotating a key leaves the old key's sessions until it is revoked (revoke_old: at once); a new password ends password sessions, not key sessions", async () => {
  const bob = await mailbox('bob@revoke.test');
  const key = await mintKey(bob, 'laptop');
  const old = await imap('bob@revoke.test', key.secret);
  const rotated = await api('POST', `/api/v1/api-keys/${key.id}/rotate`);
  assert.is(rotated.status, 201);
  await alive(old);
  assert.is((await api('DELETE', `/api/v1/api-keys/${key.id}`)).status, 200);
  await ended(old, /Session ended: key revoked/);
  const leaked = await imap('bob@revoke.test', rotated.body.data.secret);
  const replaced = await api('POST', `/api/v1/api-keys/${rotated.body.data.id}/rotate`, { revoke_old: true });
  assert.is(replaced.status, 201);
  await ended(leaked, /Session ended: key revoked/);

  const byKey = await imap('bob@revoke.test', replaced.body.data.secret);
  const byPassword = await imap('bob@revoke.test', PASSWORD);
  const submission = await smtp('bob@revoke.test', PASSWORD);
  assert.is(
    (await api('PUT', `/api/v1/mailboxes/mbx_${bob.id}/password`, { password: 'a brand new password' })).status,
    200,
  );
  await ended(byPassword, /Session ended: password changed/);
  await within(submission.ended, 3000, "the SMTP session's end");
  await alive(byKey);
  byKey.close();
});

test('suspending a mailbox ends every session of it, whatever the credential', async () => {
  const cat = await mailbox('cat@revoke.test');
  const key = await mintKey(cat, 'tablet');
  const byKey = await imap('cat@revoke.test', key.secret);
  const byPassword = await imap('cat@revoke.test', PASSWORD);
  const pop = await pop3('cat@revoke.test', PASSWORD);
  assert.is((await api('POST', `/api/v1/mailboxes/mbx_${cat.id}/suspend`)).status, 200);
  await ended(byKey, /Session ended: mailbox suspended/);
  await ended(byPassword, /Session ended: mailbox suspended/);
  assert.match(await pop.line(), /^-ERR \[AUTH\] Session ended: mailbox suspended/);
});

test('an app password minted by a mailbox key is its child: revoked with it, and its sessions end', async () => {
  const dan = await mailbox('dan@revoke.test');
  const parent = await mintKey(dan, 'mail app');
  const added = await fetch(`${base}/api/account/auth`, {
    method: 'POST',
    headers: { authorization: `Bearer ${parent.secret}`, 'content-type': 'application/json' },
    body: JSON.stringify([{ type: 'addAppPassword', name: 'minted by a key', password: '' }]),
  });
  const child: string = ((await added.json()) as any).data.appPasswords[0].password;
  const byChild = await imap('dan@revoke.test', child);
  assert.is((await api('DELETE', `/api/v1/api-keys/${parent.id}`)).status, 200);
  await ended(byChild, /Session ended: key revoked/);
  const keys = (await api('GET', '/api/v1/api-keys?limit=100')).body.data;
  assert.equal(
    keys
      .filter((k: any) => k.mailbox_id === `mbx_${dan.id}`)
      .map((k: any) => [k.name, k.status])
      .sort(),
    [
      ['mail app', 'revoked'],
      ['minted by a key', 'revoked'],
    ],
  );
  const refused = await RawClient.connect(server.port('imap'));
  assert.match(await refused.command('a1', `LOGIN "dan@revoke.test" "${child}"`), /^a1 NO \[AUTHENTICATIONFAILED\]/m);
  refused.close();
  // a manager's keys stand on their own: revoking one key of dan leaves the others
  const other = await mintKey(dan, 'desktop');
  const byOther = await imap('dan@revoke.test', other.secret);
  await alive(byOther);
  byOther.close();
});

test('a key that expires ends its sessions when it does', async () => {
  const eve = await mailbox('eve@revoke.test');
  const expiresAt = new Date(Date.now() + 2500).toISOString();
  const created = await api('POST', '/api/v1/api-keys', {
    name: 'short-lived',
    type: 'mailbox',
    role: 'mailbox:full',
    mailbox_id: `mbx_${eve.id}`,
    expires_at: expiresAt,
  });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const client = await imap('eve@revoke.test', created.body.data.secret);
  await alive(client);
  const text = await client.until(/^\* BYE [^\r\n]*\r\n/m, 6000);
  assert.match(text, /Session ended: key expired/);
  assert.ok(Date.now() >= Date.parse(expiresAt));
  await client.waitClosed(3000);
});

test("shortening a key's expires_at (PATCH) moves the end of the sessions already logged in with it", async () => {
  const fay = await mailbox('fay@revoke.test');
  const key = await mintKey(fay, 'to be shortened');
  const client = await imap('fay@revoke.test', key.secret);
  const sse = await openSse(`${base}/api/v1/mailbox/events`, key.secret);
  opened.push(() => sse.close());
  assert.is(sse.status, 200);
  const expiresAt = new Date(Date.now() + 1500).toISOString();
  assert.is((await api('PATCH', `/api/v1/api-keys/${key.id}`, { expires_at: expiresAt })).status, 200);
  await alive(client);
  const text = await client.until(/^\* BYE [^\r\n]*\r\n/m, 5000);
  assert.match(text, /Session ended: key expired/);
  assert.ok(Date.now() >= Date.parse(expiresAt));
  await within(sse.ended, 3000, "the SSE stream's end");
  assert.equal(
    sse.frames.map((f) => [f.event, f.data.reason]),
    [['session_ended', 'key expired']],
  );
});

test("a root key's SSE stream for one mailbox ends when that mailbox is suspended or deleted; its team-wide stream goes on", async () => {
  const gus = await mailbox('gus@revoke.test');
  const hal = await mailbox('hal@revoke.test');
  const open = async (query: string) => {
    const sse = await openSse(`${base}/api/v1/mailbox/events${query}`, rootKey);
    opened.push(() => sse.close());
    assert.is(sse.status, 200);
    return sse;
  };
  const forGus = await open(`?mailbox_id=mbx_${gus.id}`);
  const forHal = await open(`?mailbox_id=mbx_${hal.id}`);
  const teamWide = await open('');
  assert.is((await api('POST', `/api/v1/mailboxes/mbx_${gus.id}/suspend`)).status, 200);
  await within(forGus.ended, 3000, "the suspended mailbox's stream end");
  assert.equal(
    forGus.frames.map((f) => [f.event, f.data.reason]),
    [['session_ended', 'mailbox suspended']],
  );
  assert.is((await api('DELETE', `/api/v1/mailboxes/mbx_${hal.id}`)).status, 200);
  await within(forHal.ended, 3000, "the deleted mailbox's stream end");
  assert.equal(
    forHal.frames.filter((f) => f.event === 'session_ended').map((f) => f.data.reason),
    ['mailbox deleted'],
  );
  let teamWideEnded = false;
  void teamWide.ended.then(() => (teamWideEnded = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.not.ok(teamWideEnded, 'the team-wide stream is no session of either mailbox');
  teamWide.close();
});

test('a key just used (its verification kept in memory) is refused on the very next request once revoked or rotated away, requests in flight or not', async () => {
  const make = async (name: string) => {
    const created = await api('POST', '/api/v1/api-keys', { name, type: 'root', role: 'root:full' });
    assert.is(created.status, 201, JSON.stringify(created.body));
    return { id: created.body.data.id as string, secret: created.body.data.secret as string };
  };
  const status = (secret: string): Promise<number> =>
    api('GET', '/api/v1/domains', undefined, secret).then((r) => r.status);
  const busy = await make('revoked while busy');
  for (let i = 0; i < 3; i++) assert.is(await status(busy.secret), 200);
  // Lookups under way while the key is revoked must not put it back in memory.
  const inFlight = Array.from({ length: 20 }, () => status(busy.secret));
  assert.is((await api('DELETE', `/api/v1/api-keys/${busy.id}`)).status, 200);
  await Promise.all(inFlight);
  for (let i = 0; i < 3; i++) assert.is(await status(busy.secret), 401);

  const leaked = await make('rotated away');
  assert.is(await status(leaked.secret), 200);
  const successor = await api('POST', `/api/v1/api-keys/${leaked.id}/rotate`, { revoke_old: true });
  assert.is(successor.status, 201, JSON.stringify(successor.body));
  assert.is(await status(leaked.secret), 401);
  const fresh: string = successor.body.data.secret;
  assert.is(await status(fresh), 200);
  // What memory holds answers the exact secret it was found by, nothing close to it.
  const near = `${fresh.slice(0, -1)}${fresh.endsWith('A') ? 'B' : 'A'}`;
  assert.is(await status(near), 401);
});

test("a console session opened with a root key ends (401) once a PATCH has moved the key's expiry past", async () => {
  const created = await api('POST', '/api/v1/api-keys', { name: 'console operator', type: 'root', role: 'root:full' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const login = await fetch(`${base}/admin/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `secret=${encodeURIComponent(created.body.data.secret)}`,
  });
  assert.is(login.status, 303, await login.text());
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const domains = () => fetch(`${base}/api/v1/domains`, { headers: { cookie } }).then((r) => r.status);
  assert.is(await domains(), 200);
  const expiresAt = Date.now() + 1500;
  assert.is(
    (await api('PATCH', `/api/v1/api-keys/${created.body.data.id}`, { expires_at: new Date(expiresAt).toISOString() }))
      .status,
    200,
  );
  assert.is(await domains(), 200, 'still valid until then');
  await new Promise((r) => setTimeout(r, expiresAt - Date.now() + 50));
  assert.is(await domains(), 401);
});

test.run();
