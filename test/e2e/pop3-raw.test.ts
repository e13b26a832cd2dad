// POP3 at the byte level: bad input, commands in the wrong state, STLS injection, the maildrop lock,
// pipelining, SASL continuation and the connection limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLOSED, PASSWORD, RawPop3, startPop3, USER, type Pop3Fixture } from '../helpers/pop3.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/outbound.ts';
import { pairKey } from '../../src/security/login.ts';

const plainAuth = Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64');

async function loggedIn(f: Pop3Fixture): Promise<RawPop3> {
  const c = await RawPop3.connect(f.port);
  assert.match(await c.line(), /^\+OK/);
  assert.match(await c.command(`USER ${USER}`), /^\+OK/);
  assert.match(await c.command(`PASS ${PASSWORD}`), /^\+OK Maildrop/);
  return c;
}

test('unknown commands, wrong states and bad arguments get -ERR; the session goes on', async () => {
  const f = await startPop3({ allowPlainAuthWithoutTls: true });
  const c = await RawPop3.connect(f.port);
  try {
    await f.deliver(makeMessage());
    assert.match(await c.line(), /^\+OK pop\.wren\.test Wren Mail POP3 ready$/);
    assert.is(await c.command('XYZZY'), '-ERR Unknown command');
    assert.is(await c.command(''), '-ERR Unknown command');
    assert.is(await c.command('STAT'), '-ERR STAT not valid in this state');
    assert.is(await c.command('RETR 1'), '-ERR RETR not valid in this state');
    assert.is(await c.command(`PASS ${PASSWORD}`), '-ERR Send USER first');
    assert.is(await c.command('USER nobody@wren.test'), '+OK Send PASS');
    assert.is(await c.command('PASS wrong'), '-ERR [AUTH] Invalid credentials');
    // A failed PASS forgets the USER (RFC 1939 7).
    assert.is(await c.command(`PASS ${PASSWORD}`), '-ERR Send USER first');
    assert.is(await c.command('AUTH CRAM-MD5'), '-ERR Unsupported mechanism');
    assert.is(await c.command('AUTH PLAIN !!!notbase64'), '-ERR Invalid base64 in SASL response');
    assert.match(await c.command(`usEr ${USER}`), /^\+OK/); // keywords are case-insensitive
    assert.match(await c.command(`PASS ${PASSWORD}`), /^\+OK Maildrop has 1 messages/);
    assert.is(await c.command(`USER ${USER}`), '-ERR USER not valid in this state');
    assert.is(await c.command('STLS'), '-ERR STLS not valid in this state');
    assert.is(await c.command('RETR'), '-ERR Invalid message number');
    assert.is(await c.command('RETR 0'), '-ERR Invalid message number');
    assert.is(await c.command('RETR -1'), '-ERR Invalid message number');
    assert.is(await c.command('RETR 1x'), '-ERR Invalid message number');
    assert.is(await c.command('RETR 99999999999'), '-ERR Invalid message number');
    assert.is(await c.command('RETR 2'), '-ERR No such message');
    assert.is(await c.command('LIST 1 2'), '-ERR Expected at most one message number');
    assert.is(await c.command('TOP 1'), '-ERR Usage: TOP msg lines');
    assert.is(await c.command('TOP 1 -3'), '-ERR Usage: TOP msg lines');
    assert.is(await c.command('STAT 1'), '-ERR STAT takes no arguments');
    assert.match(await c.command('STAT'), /^\+OK 1 \d+$/);
    assert.match(await c.command('QUIT'), /^\+OK/);
    assert.ok(await c.waitClosed());
  } finally {
    c.close();
    await f.close();
  }
});

test('USER, PASS and AUTH are refused before TLS; input pipelined after STLS is dropped', async () => {
  const f = await startPop3();
  const c = await RawPop3.connect(f.port);
  try {
    await c.line();
    assert.match(await c.command(`USER ${USER}`), /^-ERR \[AUTH\] Plaintext authentication disallowed/);
    assert.match(await c.command(`AUTH PLAIN ${plainAuth}`), /^-ERR \[AUTH\]/);
    c.send('AUTH');
    assert.equal(await c.multiline(), { status: '+OK Supported mechanisms follow', body: Buffer.alloc(0) });
    // An attacker's injected command rides in the same packet as STLS: it must not run.
    c.send(`STLS\r\nUSER ${USER}\r\n`);
    assert.is(await c.line(), '+OK Begin TLS negotiation');
    await c.startTls();
    assert.is(await c.command(`PASS ${PASSWORD}`), '-ERR Send USER first');
    c.send('CAPA');
    const capa = (await c.multiline()).body.toString().split('\r\n');
    assert.ok(capa.includes('USER') && capa.includes('SASL PLAIN') && !capa.includes('STLS'), capa.join(','));
    assert.is(await c.command('STLS'), '-ERR TLS is already active');
    // AUTH PLAIN with the response on its own line (RFC 5034 continuation).
    assert.is(await c.command('AUTH PLAIN'), '+ ');
    assert.is(await c.command('*'), '-ERR Authentication cancelled');
    assert.is(await c.command('AUTH PLAIN'), '+ ');
    assert.match(await c.command(plainAuth), /^\+OK Maildrop has 0 messages/);
  } finally {
    c.close();
    await f.close();
  }
});

test('an overlong line closes the connection; so do too many errors', async () => {
  const f = await startPop3({ allowPlainAuthWithoutTls: true });
  try {
    const a = await RawPop3.connect(f.port);
    await a.line();
    a.send(Buffer.alloc(5000, 'A'));
    assert.is(await a.line(), '-ERR Line too long, closing connection');
    assert.ok(await a.waitClosed());

    const b = await RawPop3.connect(f.port);
    await b.line();
    b.send(Array.from({ length: 30 }, () => 'BOGUS\r\n').join(''));
    const replies: string[] = [];
    for (let line = await b.line(); line !== CLOSED; line = await b.line()) replies.push(line);
    assert.is(replies.length, 21);
    assert.is(replies.at(-1), '-ERR Too many errors, closing connection');
    assert.ok(await b.waitClosed());
  } finally {
    await f.close();
  }
});

test('maildrop lock: a second session of the account gets [IN-USE] until the first ends', async () => {
  const f = await startPop3({ allowPlainAuthWithoutTls: true });
  try {
    await f.deliver(makeMessage({ subject: 'one' }));
    await f.deliver(makeMessage({ subject: 'two' }));
    const a = await loggedIn(f);
    const b = await RawPop3.connect(f.port);
    await b.line();
    await b.command(`USER ${USER}`);
    assert.is(await b.command(`PASS ${PASSWORD}`), '-ERR [IN-USE] Maildrop is in use by another session');
    // A deletes message 1, then the connection drops without QUIT: nothing is applied, the lock is released.
    assert.match(await a.command('DELE 1'), /^\+OK/);
    a.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.is((await f.store.messages.list(f.inbox.id)).length, 2);
    await b.command(`USER ${USER}`);
    assert.match(await b.command(`PASS ${PASSWORD}`), /^\+OK Maildrop has 2 messages/);
    // Pipelined commands are answered in order (RFC 2449 PIPELINING).
    b.send('DELE 1\r\nSTAT\r\nNOOP\r\nQUIT\r\n');
    assert.is(await b.line(), '+OK Message 1 deleted');
    assert.match(await b.line(), /^\+OK 1 \d+$/);
    assert.is(await b.line(), '+OK');
    assert.match(await b.line(), /^\+OK .*1 messages left/);
    assert.ok(await b.waitClosed());
    const left = await f.store.messages.list(f.inbox.id);
    assert.is(left.length, 1);
    assert.ok((await f.store.read(left[0]!)).toString().includes('Subject: two'));
  } finally {
    await f.close();
  }
});

test('a message expunged over IMAP during the session: RETR answers -ERR, QUIT still works', async () => {
  const f = await startPop3({ allowPlainAuthWithoutTls: true });
  try {
    const uid = await f.deliver(makeMessage({ subject: 'vanishing' }));
    const c = await loggedIn(f);
    await f.store.messages.expunge(f.inbox.id, [uid]);
    assert.is(await c.command('RETR 1'), '-ERR [SYS/TEMP] Message was removed by another session');
    assert.match(await c.command('DELE 1'), /^\+OK/);
    assert.match(await c.command('QUIT'), /^\+OK/);
    c.close();
  } finally {
    await f.close();
  }
});

test('failed logins: throttled with [SYS/TEMP], a suspended account with [SYS/PERM]', async () => {
  const f = await startPop3({ allowPlainAuthWithoutTls: true }, { maxFailuresPerAccount: 2 });
  const c = await RawPop3.connect(f.port);
  try {
    await c.line();
    for (let i = 0; i < 2; i++) {
      await c.command(`USER ${USER}`);
      assert.is(await c.command('PASS nope'), '-ERR [AUTH] Invalid credentials');
    }
    await c.command(`USER ${USER}`);
    assert.is(await c.command(`PASS ${PASSWORD}`), '-ERR [SYS/TEMP] Too many failed logins, try again later');
    f.login.byPair.reset(pairKey(USER, '127.0.0.1'));
    await f.store.accounts.update({ ...f.account, state: 'suspended' });
    assert.is(await c.command(`AUTH PLAIN ${plainAuth}`), '-ERR [SYS/PERM] Account suspended');
  } finally {
    c.close();
    await f.close();
  }
});

test('connection limits: per IP, idle timeout, server close', async () => {
  const f = await startPop3({
    allowPlainAuthWithoutTls: true,
    limits: { maxConnectionsPerIp: 2, idleTimeoutMs: 1500 },
  });
  try {
    const a = await RawPop3.connect(f.port);
    const b = await RawPop3.connect(f.tlsPort, true);
    assert.match(await a.line(), /^\+OK/);
    assert.match(await b.line(), /^\+OK/);
    const c = await RawPop3.connect(f.port);
    assert.is(await c.line(), '-ERR [SYS/TEMP] Too many connections from your address');
    assert.ok(await c.waitClosed());
    // Idle for longer than the timeout: autologout.
    assert.is(await a.line(), '-ERR Autologout: idle for too long');
    assert.ok(await a.waitClosed());
    assert.is(await b.line(), '-ERR Autologout: idle for too long');
    await b.waitClosed();
    // The client sees the close before the server's 'close' event has run, so wait for the count.
    await waitFor(() => f.server.connections === 0, 2_000, 'the server to count both connections closed');
    const d = await loggedIn(f);
    const closing = f.server.close();
    assert.is(await d.line(), '-ERR [SYS/TEMP] Server shutting down');
    assert.ok(await d.waitClosed());
    await closing;
  } finally {
    await f.close();
  }
});

test.run();
