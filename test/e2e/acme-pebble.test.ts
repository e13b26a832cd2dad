// ACME against Debian's pebble on loopback, validating real HTTP-01 challenges on our challenge server
// (pebble resolves the test names through pebble-challtestsrv's DNS, which answers 127.0.0.1).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { get as httpsGet } from 'node:https';
import { freePortOn } from '../helpers/ports.ts';
import { join } from 'node:path';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { createImapServer, type ImapServer } from '../../src/imap/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { Store } from '../../src/store/index.ts';
import {
  AcmeChallenges,
  acmeTargets,
  challengeResponder,
  createAcme,
  type AcmeManager,
  type AcmeResult,
} from '../../src/tls/acme.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { makeSelfSigned } from '../../src/tls/certificates.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mail.example.test';
const dir = tempDir('wren-acme-');
const children: ChildProcess[] = [];
let store: Store;
let certs: CertificateStore;
let challengeServer: Server;
let imap: ImapServer;
let imapsPort = 0;
let acmeManager: AcmeManager;
let pebbleCa = '';
let managementPort = 0;
let directoryUrl = '';

// Pebble and its DNS take their ports from a config file, so the ports are picked before they are
// bound: on an address of their own no other test's listener can take one in between.
const PEBBLE_HOST = '127.0.0.77';

const freePort = (): Promise<number> => freePortOn(PEBBLE_HOST);

function fetchText(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function start(command: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(command, args, {
    cwd: dir.path,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('error', (err) => {
    throw new Error(`${command} did not start (apt-get install pebble): ${err.message}`);
  });
  child.on('exit', (code) => {
    if (code !== null && code !== 0) console.error(`${command} exited ${code}:\n${output}`);
  });
  children.push(child);
  return child;
}

async function peer(
  servername: string,
  ca?: string,
): Promise<{ cert: PeerCertificate; authorized: boolean; error: string | null }> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: imapsPort,
    servername,
    rejectUnauthorized: false,
    ...(ca ? { ca } : {}),
  });
  await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
  const out = {
    cert: socket.getPeerCertificate(),
    authorized: socket.authorized,
    error: socket.authorizationError ? String(socket.authorizationError) : null,
  };
  socket.destroy();
  return out;
}

const byFile = (results: AcmeResult[]) => Object.fromEntries(results.map((r) => [r.file, r.status]));

test.before(async () => {
  const [acmePort, mgmtPort, dnsPort] = [await freePort(), await freePort(), await freePort()];
  managementPort = mgmtPort;
  const challenges = new AcmeChallenges();
  challengeServer = createHttpServer(challengeResponder(challenges));
  await new Promise<void>((resolve) => challengeServer.listen(0, '127.0.0.1', resolve));
  const httpPort = (challengeServer.address() as { port: number }).port;

  // Pebble serves its directory over HTTPS with a certificate we make and trust.
  const directoryCert = await makeSelfSigned('localhost', [PEBBLE_HOST]);
  pebbleCa = directoryCert.cert;
  writeFileSync(join(dir.path, 'pebble.crt'), directoryCert.cert);
  writeFileSync(join(dir.path, 'pebble.key'), directoryCert.key);
  writeFileSync(
    join(dir.path, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `${PEBBLE_HOST}:${acmePort}`,
        managementListenAddress: `${PEBBLE_HOST}:${mgmtPort}`,
        certificate: join(dir.path, 'pebble.crt'),
        privateKey: join(dir.path, 'pebble.key'),
        httpPort,
        tlsPort: 1, // TLS-ALPN-01 is not used
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  start('pebble-challtestsrv', [
    '-dns01',
    `${PEBBLE_HOST}:${dnsPort}`,
    '-http01',
    '',
    '-https01',
    '',
    '-tlsalpn01',
    '',
    '-management',
    `${PEBBLE_HOST}:${await freePort()}`,
    '-defaultIPv4',
    '127.0.0.1',
    '-defaultIPv6',
    '',
  ]);
  start('pebble', ['-config', join(dir.path, 'pebble.json'), '-dnsserver', `${PEBBLE_HOST}:${dnsPort}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
  });
  directoryUrl = `https://${PEBBLE_HOST}:${acmePort}/dir`;
  for (let i = 0; ; i++) {
    const ok = await fetchText(directoryUrl, pebbleCa).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (i > 100) throw new Error('pebble did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }

  store = await Store.open(join(dir.path, 'store'));
  const team = await store.teams.create('t');
  const domain = await store.domains.create(team.id, 'example.test');
  await store.domains.update({ ...domain, verifiedAt: Date.now() });
  await store.domains.create(team.id, 'unverified.test');
  certs = await CertificateStore.open({ dataDir: dir.path, hostname: HOST });
  imap = createImapServer({ store, login: new LoginService(store), tls: certs, hostname: HOST });
  imapsPort = (await imap.listen(0, '127.0.0.1', true)).port;
  acmeManager = createAcme({
    directoryUrl,
    certificates: certs,
    targets: () => acmeTargets(store, HOST),
    challenges,
    caCert: pebbleCa,
    selfCheck: false,
  });
});

test.after(async () => {
  await acmeManager?.stop();
  await imap?.close();
  await new Promise((r) => challengeServer?.close(r));
  await store?.close();
  for (const child of children) child.kill();
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
  dir.remove();
});

test('targets: the hostname and each verified domain’s client names', async () => {
  assert.equal(await acmeTargets(store, HOST), [
    { file: HOST, names: [HOST] },
    {
      file: 'mta-sts.example.test',
      names: ['mta-sts.example.test', 'autoconfig.example.test', 'autodiscover.example.test'],
    },
  ]);
});

test('first run obtains every certificate over HTTP-01, and listeners serve them by SNI', async () => {
  assert.ok(acmeManager.due({ file: HOST, names: [HOST] }));
  const results = await acmeManager.run();
  assert.equal(byFile(results), { [HOST]: 'issued', 'mta-sts.example.test': 'issued' }, JSON.stringify(results));
  // The chain verifies against pebble's root (fetched from its management interface).
  const root = (await fetchText(`https://${PEBBLE_HOST}:${managementPort}/roots/0`, pebbleCa)).body;
  for (const name of ['autodiscover.example.test', 'mta-sts.example.test', HOST]) {
    const { cert, authorized, error } = await peer(name, root);
    assert.ok(authorized, `${name}: ${error}`);
    assert.match(cert.issuer.CN as string, /Pebble/);
    assert.ok(cert.subjectaltname?.includes(`DNS:${name}`));
  }
  // No SNI: the hostname's ACME certificate is now the default.
  assert.match((await peer('')).cert.issuer.CN as string, /Pebble/);
});

test('a second run orders nothing: every certificate has more than 30 days left', async () => {
  const before = (await peer(HOST)).cert.fingerprint256;
  const results = await acmeManager.run();
  assert.equal(byFile(results), { [HOST]: 'valid', 'mta-sts.example.test': 'valid' });
  assert.is((await peer(HOST)).cert.fingerprint256, before);
});

test('a certificate with under 30 days left is renewed; concurrent runs share one order', async () => {
  await certs.install(HOST, await makeSelfSigned(HOST, [], 20));
  assert.is.not((await peer(HOST)).cert.issuer.CN, (await peer('mta-sts.example.test')).cert.issuer.CN);
  assert.ok(acmeManager.due({ file: HOST, names: [HOST] }));
  const [a, b] = await Promise.all([acmeManager.run(), acmeManager.run()]);
  assert.is(a, b);
  assert.equal(byFile(a), { [HOST]: 'issued', 'mta-sts.example.test': 'valid' });
  const { cert } = await peer(HOST);
  assert.match(cert.issuer.CN as string, /Pebble/);
  assert.ok(new Date(cert.valid_to).getTime() - Date.now() > 30 * 86_400_000);
});

test('a target whose challenge fails is reported and does not stop the others', async () => {
  const results = await createAcme({
    directoryUrl: 'unused',
    certificates: certs,
    challenges: new AcmeChallenges(),
    selfCheck: false,
    targets: async () => [{ file: HOST, names: [HOST] }],
  }).run();
  assert.is(results[0]!.status, 'valid');
  // A manager whose challenge server answers nothing: pebble's validation fails for the new name.
  const failing = createAcme({
    directoryUrl,
    certificates: certs,
    challenges: new AcmeChallenges(),
    selfCheck: false,
    targets: async () => [
      { file: 'new.example.test', names: ['new.example.test'] },
      { file: HOST, names: [HOST] },
    ],
  });
  const out = await failing.run();
  assert.is(out[0]!.status, 'failed');
  assert.ok(out[0]!.error);
  assert.is(out[1]!.status, 'valid');
  assert.is(certs.find('new.example.test'), undefined);
});

test.run();
