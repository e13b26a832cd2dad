// MTA-STS on the sending side, on loopback with real sockets: a test DNS server gives each destination
// an MX on its own 127.0.1.x address, where a sink listens with a certificate from a private test CA
// (trusted by the runner through tlsCa), a self-signed one, or no STARTTLS at all. The runner's policy
// lookup answers per domain, as a fetched policy would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import selfsigned from 'selfsigned';
import { createResolver } from '../../src/dns/resolver.ts';
import type { MtaStsPolicy } from '../../src/outbound/mta-sts.ts';
import { createQueueRunner, type QueueRunner } from '../../src/outbound/queue-runner.ts';
import { Store } from '../../src/store/index.ts';
import type { QueueJob, QueueRecipient } from '../../src/store/queue.ts';
import { makeSelfSigned, type KeyPair } from '../../src/tls/certificates.ts';
import { startDnsServer, type TestDnsServer, type Zone } from '../helpers/dns-server.ts';
import { inboxDelivery, sendingAccount, startSink, waitFor, type Sink, type SinkOptions } from '../helpers/outbound.ts';
import { tempDir } from '../helpers/tmp.ts';

const DAY = 86_400_000;

async function makeCa(): Promise<KeyPair> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'Wren Test CA' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + DAY),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

async function issue(ca: KeyPair, hostname: string): Promise<KeyPair> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + DAY),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

let dns: TestDnsServer;
let dir: ReturnType<typeof tempDir>;
let store: Store;
let runner: QueueRunner;
let port = 0;
const sinks: Sink[] = [];
const policies = new Map<string, MtaStsPolicy>();
const zone: Zone = {};

/** A destination domain whose MX hosts resolve to loopback addresses. */
function destination(domain: string, mx: [host: string, ip: string][], policy: MtaStsPolicy | null): void {
  zone[domain] = { MX: mx.map(([exchange], i) => ({ exchange, priority: 10 * (i + 1) })) };
  for (const [host, ip] of mx) zone[host] = { A: [ip] };
  if (policy) policies.set(domain, policy);
}

/** Every sink listens on the one port the runner sends to, each on its own address. */
async function sink(host: string, options: SinkOptions): Promise<Sink> {
  const s = await startSink({ ...options, host, port });
  port = s.port;
  sinks.push(s);
  return s;
}

async function send(to: string): Promise<QueueJob> {
  const alice = (await store.accounts.byAddress('alice@a.test'))!;
  const raw = Buffer.from(`From: alice@a.test\r\nTo: ${to}\r\nSubject: MTA-STS\r\n\r\nHello.\r\n`);
  const { jobs } = await store.queue.enqueue({
    teamId: alice.teamId,
    accountId: alice.id,
    from: 'alice@a.test',
    to: [to],
    raw,
  });
  return jobs[0]!;
}

/** The recipient once the first attempt is recorded. */
async function firstAttempt(job: QueueJob): Promise<QueueRecipient> {
  const done = await waitFor(
    async () => {
      const j = await store.queue.get(job.id);
      return j && j.attempts > 0 ? j : null;
    },
    10_000,
    `an attempt for ${job.domain}`,
  );
  return done.recipients[0]!;
}

let ca: KeyPair;
let sinkEnforce: Sink;
let sinkPlain: Sink;
let sinkSelfSigned: Sink;
let sinkWrongName: Sink;
let sinkUnlisted: Sink;
let sinkListed: Sink;
let sinkOnlyUnlisted: Sink;
let sinkTesting: Sink;

test.before(async () => {
  ca = await makeCa();
  const enforce = (...mx: string[]): MtaStsPolicy => ({ mode: 'enforce', mx });
  destination('enforce.test', [['mx.enforce.test', '127.0.1.1']], enforce('mx.enforce.test'));
  destination('plain.test', [['mx.plain.test', '127.0.1.2']], enforce('mx.plain.test'));
  destination('selfsigned.test', [['mx.selfsigned.test', '127.0.1.3']], enforce('*.selfsigned.test'));
  destination('wrongname.test', [['mx.wrongname.test', '127.0.1.4']], enforce('mx.wrongname.test'));
  // The preferred MX is not in the policy; the listed one behind it must take the mail.
  destination(
    'listed.test',
    [
      ['mx1.listed.test', '127.0.1.5'],
      ['mx2.listed.test', '127.0.1.6'],
    ],
    enforce('mx2.listed.test'),
  );
  destination('unlisted.test', [['mx.unlisted.test', '127.0.1.7']], enforce('mx.elsewhere.test', '*.mx.unlisted.test'));
  destination('testing.test', [['mx.testing.test', '127.0.1.8']], { mode: 'testing', mx: ['mx.elsewhere.test'] });

  sinkEnforce = await sink('127.0.1.1', { tls: await issue(ca, 'mx.enforce.test') });
  sinkPlain = await sink('127.0.1.2', { tls: false });
  sinkSelfSigned = await sink('127.0.1.3', { tls: await makeSelfSigned('mx.selfsigned.test') });
  sinkWrongName = await sink('127.0.1.4', { tls: await issue(ca, 'mx.other.test') });
  sinkUnlisted = await sink('127.0.1.5', { tls: await issue(ca, 'mx1.listed.test') });
  sinkListed = await sink('127.0.1.6', { tls: await issue(ca, 'mx2.listed.test') });
  sinkOnlyUnlisted = await sink('127.0.1.7', { tls: await issue(ca, 'mx.unlisted.test') });
  sinkTesting = await sink('127.0.1.8', { tls: false });

  dns = await startDnsServer(zone);
  const resolver = createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 });
  dir = tempDir('wren-out-sts-');
  store = await Store.open(dir.path);
  await sendingAccount(store, 'alice@a.test', 'x');
  runner = createQueueRunner({
    store,
    resolver,
    hostname: 'mx.a.test',
    deliverLocal: inboxDelivery(store),
    smtpPort: port,
    retryScheduleMs: [60_000], // one attempt per test
    delayNoticeAfterMs: 0,
    connectTimeoutMs: 2000,
    socketTimeoutMs: 5000,
    mtaSts: async (domain) => policies.get(domain) ?? null,
    tlsCa: [ca.cert],
  });
  runner.start();
});

test.after(async () => {
  await runner?.stop();
  for (const s of sinks) await s.close();
  await dns?.close();
  await store?.close();
  dir?.remove();
});

test('enforce, listed MX, certificate from a trusted CA for the MX name: delivered over TLS', async () => {
  const r = await firstAttempt(await send('bob@enforce.test'));
  assert.is(r.status, 'delivered', r.lastResponse ?? '');
  const last = r.log.at(-1)!;
  assert.is(last.mx, 'mx.enforce.test');
  assert.ok(last.tls, 'the delivery log says TLS');
  assert.is(sinkEnforce.messages.length, 1);
  assert.ok(sinkEnforce.messages[0]!.secure, 'the sink received it inside STARTTLS');
});

test('enforce, MX offers no STARTTLS: deferred with a TLS error, nothing sent in clear', async () => {
  const r = await firstAttempt(await send('bob@plain.test'));
  assert.is(r.status, 'deferred', r.lastResponse ?? '');
  assert.match(r.lastResponse!, /^451 .*ETLS .*STARTTLS/, 'a 4xx that names the TLS failure, not the 500 to STARTTLS');
  assert.is(r.log.at(-1)!.tls, false);
  assert.ok(sinkPlain.connections >= 1, 'the MX was tried');
  assert.is(sinkPlain.attempts, 0, 'no MAIL FROM without TLS');
  assert.is(sinkPlain.messages.length, 0);
});

test('enforce, self-signed certificate the runner does not trust: deferred with a certificate error', async () => {
  const r = await firstAttempt(await send('bob@selfsigned.test'));
  assert.is(r.status, 'deferred', r.lastResponse ?? '');
  assert.match(r.lastResponse!, /^4\d\d /);
  assert.match(r.lastResponse!, /self-signed certificate/);
  assert.ok(sinkSelfSigned.connections >= 1, 'the MX was tried');
  assert.is(sinkSelfSigned.attempts, 0);
  assert.is(sinkSelfSigned.messages.length, 0);
});

test('enforce, trusted CA but the certificate names another host: deferred', async () => {
  const r = await firstAttempt(await send('bob@wrongname.test'));
  assert.is(r.status, 'deferred', r.lastResponse ?? '');
  assert.match(r.lastResponse!, /^451 .*does not match certificate's altnames/);
  assert.ok(sinkWrongName.connections >= 1);
  assert.is(sinkWrongName.messages.length, 0);
});

test('enforce, the only MX does not match the policy: deferred without connecting to it', async () => {
  const r = await firstAttempt(await send('bob@unlisted.test'));
  assert.is(r.status, 'deferred', r.lastResponse ?? '');
  assert.match(r.lastResponse!, /^451 4\.7\.5 .*MTA-STS/);
  assert.is(r.log.at(-1)!.mx, null);
  assert.is(sinkOnlyUnlisted.connections, 0, 'the unlisted MX was not contacted');
});

test('enforce, the preferred MX is not listed: skipped, the listed one gets the mail', async () => {
  const r = await firstAttempt(await send('bob@listed.test'));
  assert.is(r.status, 'delivered', r.lastResponse ?? '');
  assert.is(r.log.at(-1)!.mx, 'mx2.listed.test');
  assert.ok(r.log.at(-1)!.tls);
  assert.is(sinkUnlisted.connections, 0, 'the unlisted MX was not contacted');
  assert.is(sinkListed.messages.length, 1);
});

test('testing mode: delivered without TLS, even to an MX the policy does not list', async () => {
  const r = await firstAttempt(await send('bob@testing.test'));
  assert.is(r.status, 'delivered', r.lastResponse ?? '');
  assert.is(r.log.at(-1)!.tls, false);
  assert.is(sinkTesting.messages.length, 1);
  assert.is(sinkTesting.messages[0]!.secure, false);
});

test.run();
