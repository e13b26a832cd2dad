// SNI on every TLS listener (IMAPS, IMAP STARTTLS, POP3S, SMTP STARTTLS, SMTPS) from the certificate
// store, and reload: new handshakes get replaced files, connections already open keep working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createImapServer, type ImapServer } from '../../src/imap/server.ts';
import { createPop3Server, type Pop3Server } from '../../src/pop3/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { createSubmissionServer, type SubmissionServer } from '../../src/smtp/submission.ts';
import { makeSelfSigned, type KeyPair } from '../../src/tls/certificates.ts';
import { CertificateStore, reloadOnSighup } from '../../src/tls/certificate-store.ts';
import { startMx, type MxFixture } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mail.example.test';
const dir = tempDir('wren-tls-');
let certs: CertificateStore;
let mx: MxFixture;
let imap: ImapServer;
let pop3: Pop3Server;
let submissions: SubmissionServer;
const port = { imaps: 0, imap: 0, pop3s: 0, smtp: 0, smtps: 0 };
const open: Socket[] = [];

function writePair(name: string, pair: KeyPair): void {
  writeFileSync(join(dir.path, 'tls', `${name}.crt`), pair.cert);
  writeFileSync(join(dir.path, 'tls', `${name}.key`), pair.key);
}

/** Reads from a plain socket until a line matches. */
function until(socket: Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (pattern.test(text)) {
        socket.off('data', onData);
        resolve(text);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function handshake(options: { port?: number; socket?: Socket; servername: string }): Promise<TLSSocket> {
  const secure = tlsConnect({ host: '127.0.0.1', ...options, rejectUnauthorized: false });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  open.push(secure);
  return secure;
}

const names = (s: TLSSocket): string => s.getPeerCertificate().subject.CN as string;
const fingerprint = (s: TLSSocket): string => s.getPeerCertificate().fingerprint256;

async function plain(p: number, greeting: RegExp): Promise<Socket> {
  const socket = netConnect(p, '127.0.0.1');
  open.push(socket);
  await until(socket, greeting);
  return socket;
}

const via = {
  imaps: (servername: string) => handshake({ port: port.imaps, servername }),
  pop3s: (servername: string) => handshake({ port: port.pop3s, servername }),
  smtps: (servername: string) => handshake({ port: port.smtps, servername }),
  async imapStarttls(servername: string) {
    const socket = await plain(port.imap, /^\* OK.*\r\n/);
    socket.write('s STARTTLS\r\n');
    await until(socket, /^s OK.*\r\n/m);
    return handshake({ socket, servername });
  },
  async smtpStarttls(servername: string) {
    const socket = await plain(port.smtp, /^220 .*\r\n/);
    socket.write('EHLO client.test\r\n');
    await until(socket, /^250 .*\r\n/m);
    socket.write('STARTTLS\r\n');
    await until(socket, /^220 .*\r\n/m);
    return handshake({ socket, servername });
  },
};

test.before(async () => {
  mkdirSync(join(dir.path, 'tls'), { recursive: true });
  writePair('a.example.test', await makeSelfSigned('a.example.test'));
  writePair('b.example.test', await makeSelfSigned('b.example.test'));
  certs = await CertificateStore.open({ dataDir: dir.path, hostname: HOST });
  mx = await startMx({ mx: { tls: certs, hostname: HOST } });
  port.smtp = mx.port;
  const login = new LoginService(mx.store);
  imap = createImapServer({ store: mx.store, login, tls: certs, hostname: HOST });
  port.imaps = (await imap.listen(0, '127.0.0.1', true)).port;
  port.imap = (await imap.listen(0, '127.0.0.1', false)).port;
  pop3 = createPop3Server({ store: mx.store, login, tls: certs, hostname: HOST });
  port.pop3s = (await pop3.listen(0, '127.0.0.1', true)).port;
  submissions = createSubmissionServer({
    store: mx.store,
    login,
    queue: mx.store.queue,
    tls: certs,
    hostname: HOST,
    implicitTls: true,
  });
  port.smtps = (await submissions.listen(0, '127.0.0.1')).port;
});

test.after(async () => {
  for (const s of open) s.destroy();
  await Promise.all([imap.close(), pop3.close(), submissions.close()]);
  await mx.close();
  dir.remove();
});

test('each listener presents the certificate of the name asked for, the default otherwise', async () => {
  for (const [listener, connect] of Object.entries(via)) {
    for (const [asked, expected] of [
      ['a.example.test', 'a.example.test'],
      ['B.Example.Test', 'b.example.test'],
      ['other.example.test', HOST],
      ['', HOST],
    ] as const) {
      const s = await connect(asked);
      assert.is(names(s), expected, `${listener} asked for "${asked}"`);
      s.destroy();
    }
  }
});

test('the store lists what it loaded and finds names', () => {
  assert.equal(
    certs
      .list()
      .map((c) => c.names[0])
      .sort(),
    ['a.example.test', 'b.example.test'],
  );
  assert.is(certs.find('A.EXAMPLE.TEST.')?.file, 'a.example.test');
  assert.is(certs.find('c.example.test'), undefined);
  assert.is(certs.defaultCertificate.names[0], HOST);
});

test('reload: new handshakes see a replaced certificate, an open connection keeps working', async () => {
  const before = await via.imaps('a.example.test');
  const oldPrint = fingerprint(before);
  const smtpBefore = fingerprint(await via.smtpStarttls('a.example.test'));
  assert.is(smtpBefore, oldPrint);

  writePair('a.example.test', await makeSelfSigned('a.example.test'));
  assert.equal(await certs.reload(), { loaded: 2, skipped: [] });

  for (const [listener, connect] of Object.entries(via)) {
    const s = await connect('a.example.test');
    assert.is(names(s), 'a.example.test');
    assert.is.not(fingerprint(s), oldPrint, `${listener} uses the new certificate`);
    s.destroy();
  }
  // The connection made before the reload still talks, over its old session.
  before.write('n NOOP\r\n');
  const reply = await new Promise<string>((resolve) => {
    let text = '';
    before.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (/^n OK/m.test(text)) resolve(text);
    });
  });
  assert.match(reply, /^n OK/m);
  assert.is(fingerprint(before), oldPrint);
});

test('reload: a new certificate for the hostname becomes the default for clients without SNI', async () => {
  const oldDefault = fingerprint(await via.imaps(''));
  await certs.install(HOST, await makeSelfSigned(HOST));
  assert.is(certs.defaultCertificate.file, HOST);
  for (const [listener, connect] of Object.entries(via)) {
    const s = await connect('');
    assert.is(names(s), HOST);
    assert.is.not(fingerprint(s), oldDefault, `${listener} without SNI uses the new default`);
    s.destroy();
  }
});

test('reload skips a broken pair and keeps serving the others', async () => {
  const b = fingerprint(await via.imaps('b.example.test'));
  writeFileSync(join(dir.path, 'tls', 'b.example.test.key'), (await makeSelfSigned('x.example.test')).key);
  const result = await certs.reload();
  assert.equal(result.skipped, ['b.example.test']);
  const s = await via.imaps('b.example.test');
  assert.is(names(s), HOST, 'falls back to the default');
  assert.is.not(fingerprint(s), b);
  assert.is(names(await via.imaps('a.example.test')), 'a.example.test');
});

test('SIGHUP reloads the certificates', async () => {
  const stop = reloadOnSighup(certs);
  try {
    writePair('c.example.test', await makeSelfSigned('c.example.test'));
    const reloaded = new Promise<void>((resolve) => {
      const off = certs.onChange(() => {
        off();
        resolve();
      });
    });
    process.kill(process.pid, 'SIGHUP');
    await reloaded;
    assert.is(names(await via.imaps('c.example.test')), 'c.example.test');
  } finally {
    stop();
  }
});

test.run();
