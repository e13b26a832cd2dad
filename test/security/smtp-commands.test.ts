// SMTP command lines ending in a bare LF were once executed (only DATA was strict): now 500
// 5.5.2 and not run (RFC 5321 §2.3.8), on MX and submission, before and after STARTTLS. And
// RCPT TO:<postmaster> without a domain, or postmaster@ a hosted domain with no such mailbox, was refused
// though RFC 5321 §4.5.1 requires it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { LoginService } from '../../src/security/login.ts';
import { createSubmissionServer, type SubmissionServer } from '../../src/smtp/submission.ts';
import {
  messagesIn,
  plainMessage,
  SmtpClient,
  startMx,
  testCertificate,
  transaction,
  type MxFixture,
} from '../helpers/smtp.ts';

let fx: MxFixture;
let submission: SubmissionServer;
let submissionPort: number;

test.before(async () => {
  fx = await startMx();
  const teamId = (await fx.store.teams.create('t')).id;
  await fx.store.domains.create(teamId, 'wren.test'); // the hosted domain of mx.wren.test
  await fx.store.domains.create(teamId, 'other.test');
  for (const address of ['alice@wren.test', 'postmaster@wren.test'])
    await fx.store.accounts.create({ teamId, address });
  submission = createSubmissionServer({
    store: fx.store,
    login: new LoginService(fx.store),
    queue: fx.store.queue,
    tls: await testCertificate(),
    hostname: 'mx.wren.test',
  });
  submissionPort = (await submission.listen(0, '127.0.0.1')).port;
});
test.after(async () => {
  await submission.close();
  await fx.close();
});

/** Sends bytes as they are and reads `count` replies. */
async function exchange(client: SmtpClient, bytes: string, count = 1): Promise<string[]> {
  client.write(bytes);
  const lines = [];
  for (let i = 0; i < count; i++) lines.push((await client.reply()).lines.at(-1)!);
  return lines;
}

test('MX: a command line ending in a bare LF gets 500 5.5.2 and is not run', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  try {
    assert.match((await exchange(client, 'EHLO client.test\n'))[0]!, /^500 5\.5\.2 /);
    assert.is((await client.command('EHLO client.test')).code, 250);
    assert.is((await client.command('MAIL FROM:<ann@sender.test>')).code, 250);
    assert.match((await exchange(client, 'RCPT TO:<alice@wren.test>\n'))[0]!, /^500 5\.5\.2 /);
    assert.is((await client.command('DATA')).code, 503, 'the RCPT did not count: no valid recipients');
  } finally {
    client.close();
  }
});

test('MX: in a pipelined group only the CRLF-terminated commands run', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  try {
    await client.command('EHLO client.test');
    const replies = await exchange(
      client,
      'MAIL FROM:<ann@sender.test>\r\nRSET\nRCPT TO:<alice@wren.test>\r\nNOOP\r\n',
      4,
    );
    assert.match(replies[0]!, /^250 /);
    assert.match(replies[1]!, /^500 5\.5\.2 /, 'the bare-LF RSET is refused');
    assert.match(replies[2]!, /^250 /, 'so the transaction is still open for RCPT');
    assert.match(replies[3]!, /^250 /);
  } finally {
    client.close();
  }
});

/** STARTTLS on a raw session, then the same line reader over TLS. */
async function startTls(client: SmtpClient): Promise<TLSSocket> {
  assert.is((await client.command('STARTTLS')).code, 220);
  const socket = tlsConnect({ socket: client.socket, rejectUnauthorized: false, servername: 'mx.wren.test' });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  return socket;
}

/** One command over TLS, one reply line (single-line replies only). */
function tlsExchange(socket: TLSSocket, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('no reply')), 5000);
    const onData = (d: Buffer) => {
      buffer += d.toString('latin1');
      const last = buffer.split('\r\n').filter(Boolean).at(-1);
      if (buffer.endsWith('\r\n') && last && last[3] === ' ') {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(last);
      }
    };
    socket.on('data', onData);
    socket.write(bytes);
  });
}

test('MX and submission: still strict after STARTTLS (the parser is replaced there)', async () => {
  for (const port of [fx.port, submissionPort]) {
    const { client } = await SmtpClient.connect(port);
    try {
      assert.match((await exchange(client, 'EHLO client.test\n'))[0]!, /^500 5\.5\.2 /, `port ${port} before TLS`);
      await client.command('EHLO client.test');
      const socket = await startTls(client);
      assert.match(await tlsExchange(socket, 'EHLO client.test\n'), /^500 5\.5\.2 /, `port ${port} after TLS`);
      assert.match(await tlsExchange(socket, 'NOOP\r\n'), /^250 /);
      socket.destroy();
    } finally {
      client.close();
    }
  }
});

test('RCPT TO:<postmaster> without a domain is accepted and delivered to the postmaster of the hosted domain', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  try {
    await client.command('EHLO client.test');
    const r = await transaction(
      client,
      'ann@sender.test',
      ['Postmaster'],
      plainMessage({ from: 'ann@sender.test', to: 'postmaster', subject: 'to the postmaster' }),
    );
    assert.is(r.rcpt[0]!.code, 250, r.rcpt[0]!.text);
    assert.is(r.end?.code, 250);
  } finally {
    client.close();
  }
  const got = await messagesIn(fx.store, 'postmaster@wren.test');
  assert.ok(got.some((m) => m.text.includes('Subject: to the postmaster')));
  assert.is((await messagesIn(fx.store, 'alice@wren.test')).length, 0);
});

test('a configured postmaster address takes the bare postmaster', async () => {
  const other = await startMx({ mx: { postmaster: 'alice@wren.test' } });
  try {
    const teamId = (await other.store.teams.create('t')).id;
    await other.store.domains.create(teamId, 'wren.test');
    await other.store.accounts.create({ teamId, address: 'alice@wren.test' });
    const { client } = await SmtpClient.connect(other.port);
    await client.command('EHLO client.test');
    const r = await transaction(
      client,
      'ann@sender.test',
      ['postmaster'],
      plainMessage({ from: 'ann@sender.test', to: 'postmaster', subject: 'configured' }),
    );
    client.close();
    assert.is(r.end?.code, 250);
    assert.is((await messagesIn(other.store, 'alice@wren.test')).length, 1);
  } finally {
    await other.close();
  }
});

test('postmaster@ a hosted domain without a postmaster mailbox reaches the server postmaster; other unknowns stay 550', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  try {
    await client.command('EHLO client.test');
    const r = await transaction(
      client,
      'ann@sender.test',
      ['PostMaster@other.test', 'nobody@other.test'],
      plainMessage({ from: 'ann@sender.test', to: 'postmaster@other.test', subject: 'for other.test' }),
    );
    assert.is(r.rcpt[0]!.code, 250, r.rcpt[0]!.text);
    assert.is(r.rcpt[1]!.code, 550, r.rcpt[1]!.text);
    assert.is(r.end?.code, 250);
  } finally {
    client.close();
  }
  const got = await messagesIn(fx.store, 'postmaster@wren.test');
  assert.ok(got.some((m) => m.text.includes('Subject: for other.test')));
});

test.run();
