// Malformed and hostile input on raw sockets: every case gets a tagged BAD/NO or BYE + close, and
// other sessions keep working meanwhile.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { pairKey } from '../../src/security/login.ts';

let f: ImapFixture;
let strict: ImapFixture;

test.before(async () => {
  f = await startImap({
    limits: { maxLineBytes: 8192, maxLiteralBytes: 100_000, idleTimeoutMs: 2000, maxConnectionsPerIp: 8 },
  });
  strict = await startImap({ allowPlainAuthWithoutTls: false, limits: { maxConnectionsPerAccount: 1 } });
  await f.deliver(makeMessage({ subject: 'one' }));
});
test.after(async () => {
  await f.close();
  await strict.close();
});

async function loggedIn(fixture = f): Promise<RawClient> {
  const c = await RawClient.connect(fixture.port);
  assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
  return c;
}

async function connectionsReach(n: number, timeoutMs = 5000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; f.server.connections !== n && Date.now() < deadline; )
    await new Promise((r) => setTimeout(r, 50));
  return f.server.connections === n;
}

test('unknown command, wrong state, bad tag, unbalanced parentheses', async () => {
  const c = await RawClient.connect(f.port);
  assert.match(await c.command('a1', 'FROBNICATE'), /^a1 BAD/m);
  assert.match(await c.command('a2', 'SELECT INBOX'), /^a2 BAD/m);
  c.write('a+b NOOP\r\n');
  await c.until(/^\* BAD/m);
  c.buffer = '';
  assert.match(await c.command('a3', 'LOGIN (a b'), /^a3 BAD/m);
  assert.match(await c.command('a4', 'LOGIN a b)'), /^a4 BAD/m);
  assert.match(await c.command('a5', 'LOGIN "unterminated'), /^a5 BAD/m);
  assert.match(await c.command('a6', 'NOOP'), /^a6 OK/m);
  c.close();
});

test('binary garbage gets BAD, the session survives', async () => {
  const c = await loggedIn();
  c.write(Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x0d, 0x0a, 0x80, 0x81, 0x0a]));
  await c.until(/^\* BAD[^\n]*\n[\s\S]*^\* BAD/m);
  c.buffer = '';
  assert.match(await c.command('b1', 'NOOP'), /^b1 OK/m);
  c.close();
});

test('LOGIN is refused before TLS unless allowed; LOGINDISABLED advertised', async () => {
  const c = await RawClient.connect(strict.port);
  assert.match(await c.command('c1', 'CAPABILITY'), /LOGINDISABLED/);
  assert.match(await c.command('c2', `LOGIN ${USER} "${PASSWORD}"`), /^c2 NO \[PRIVACYREQUIRED\]/m);
  assert.match(await c.command('c3', 'AUTHENTICATE PLAIN AGFsaWNlAHg='), /^c3 NO \[PRIVACYREQUIRED\]/m);
  c.close();
  const t = await RawClient.connect(strict.tlsPort, true);
  assert.match(await t.command('c4', `LOGIN ${USER} "${PASSWORD}"`), /^c4 OK/m);
  // a second session for the same account is over maxConnectionsPerAccount = 1
  const t2 = await RawClient.connect(strict.tlsPort, true);
  assert.match(
    await t2.command('c5', `AUTHENTICATE PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`),
    /^c5 NO \[LIMIT\]/m,
  );
  t.close();
  t2.close();
});

test('bad credentials: AUTHENTICATIONFAILED, then UNAVAILABLE when throttled', async () => {
  const c = await RawClient.connect(f.port);
  assert.match(await c.command('d1', `LOGIN ${USER} wrong`), /^d1 NO \[AUTHENTICATIONFAILED\]/m);
  for (let i = 0; i < 10; i++) f.login.byPair.fail(pairKey('nobody@wren.test', '127.0.0.1'));
  assert.match(await c.command('d2', 'LOGIN nobody@wren.test wrong'), /^d2 NO \[UNAVAILABLE\]/m);
  f.login.byPair.reset(pairKey('nobody@wren.test', '127.0.0.1'));
  f.login.byIp.reset('127.0.0.1');
  f.login.byPair.reset(pairKey(USER, '127.0.0.1'));
  c.close();
});

test('a literal above the limit: sync refused with BAD, non-sync gets BYE', async () => {
  const c = await loggedIn();
  assert.match(await c.command('e1', 'APPEND INBOX {200000}'), /^e1 BAD \[TOOBIG\]/m);
  assert.match(await c.command('e2', 'LOGIN {9000}'), /^e2 BAD/m);
  assert.match(await c.command('e3', 'NOOP'), /^e3 OK/m);
  c.write('e4 APPEND INBOX {200000+}\r\n');
  await c.until(/^\* BYE/m);
  await c.waitClosed();
});

test('a 1 MB command line gets BYE and a closed socket', async () => {
  const c = await loggedIn();
  c.write(`f1 NOOP ${'x'.repeat(1024 * 1024)}\r\n`);
  await c.until(/^\* BYE/m);
  await c.waitClosed();
});

test('a client that opens a literal and goes silent is timed out; others are unaffected', async () => {
  const c = await loggedIn();
  c.write('g1 APPEND INBOX {50}\r\n');
  await c.until(/^\+/m);
  c.write('only part of it');
  // meanwhile another session is served at once (logged in only now: the idle timeout is short)
  const other = await loggedIn();
  assert.match(await other.command('g2', 'SELECT INBOX'), /^g2 OK/m);
  await c.until(/^\* BYE/m, 8000);
  await c.waitClosed();
  other.close();
});

test('too many connections from one address', async () => {
  const clients: RawClient[] = [];
  for (let i = 0; i < 8; i++) clients.push(await RawClient.connect(f.port));
  const extra = await RawClient.connect(f.port).catch((err: Error) => err);
  assert.ok(
    extra instanceof Error
      ? /BYE/.test(extra.message) || /closed/.test(extra.message)
      : /BYE Too many/.test(extra.buffer),
  );
  for (const c of clients) c.close();
  if (!(extra instanceof Error)) extra.close();
  await new Promise((r) => setTimeout(r, 100));
});

test('IDLE then DONE; a slow reader does not stall other sessions and is timed out', async () => {
  // More than loopback socket buffers hold, so the server really waits on the reader.
  const big = makeMessage({ bytes: 3 * 1024 * 1024 });
  for (let i = 0; i < 6; i++) await f.deliver(big);
  assert.ok(await connectionsReach(0), 'earlier clients are gone');
  const slow = await loggedIn();
  await slow.command('h1', 'SELECT INBOX');
  slow.socket.pause(); // stops reading: the server's writes back up
  slow.write('h2 FETCH 1:* BODY[]\r\n');
  const fast = await loggedIn();
  const started = Date.now();
  assert.match(await fast.command('h3', 'SELECT INBOX'), /^h3 OK/m);
  assert.match(await fast.command('h4', 'FETCH 1 (FLAGS)'), /^h4 OK/m);
  assert.ok(Date.now() - started < 1000);
  fast.write('h5 IDLE\r\n');
  await fast.until(/^\+ /m);
  fast.write('DONE\r\n');
  await fast.until(/^h5 OK/m);
  fast.close();
  // A command in progress holds off the idle timeout, but not one stuck on a client that stopped
  // reading (the paused socket cannot see the close, so count on the server side).
  assert.ok(await connectionsReach(0), 'the slow reader was disconnected');
  slow.close();
});

test.run();
