// Sending end to end on loopback: instance A (submission on 127.0.0.2, queue runner sending from
// 127.0.0.2) and instance B (the MX server on 127.0.0.3), a test DNS server with MX, A, SPF and DKIM
// records, scripted sinks for 4xx/5xx/unreachable destinations, and an AUTH-requiring relay.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { createResolver } from '../../src/dns/resolver.ts';
import { createQueueRunner, type QueueRunner } from '../../src/outbound/queue-runner.ts';
import { LoginService } from '../../src/security/login.ts';
import { createMxServer, type MxServer } from '../../src/smtp/mx.ts';
import { createSubmissionServer, type SubmissionServer } from '../../src/smtp/submission.ts';
import { Store } from '../../src/store/index.ts';
import type { QueueJob } from '../../src/store/queue.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import {
  dkimZone,
  inboxDelivery,
  makeDkimKeys,
  sendingAccount,
  startSink,
  waitFor,
  type Sink,
} from '../helpers/outbound.ts';
import { messagesIn, testCertificate } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/tmp.ts';

const A_IP = '127.0.0.2';
const B_IP = '127.0.0.3';
const PASSWORD = 'correct horse battery staple';

let dns: TestDnsServer;
let dirA: ReturnType<typeof tempDir>;
let dirB: ReturnType<typeof tempDir>;
let storeA: Store;
let storeB: Store;
let submission: SubmissionServer;
let submissionPort: number;
let runner: QueueRunner;
let mxB: MxServer;
let mxPort: number;
const sinks: Sink[] = [];

const transport = (user = 'alice@a.test', pass = PASSWORD) =>
  nodemailer.createTransport({
    host: A_IP,
    port: submissionPort,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });

async function jobsFor(domain: string): Promise<QueueJob[]> {
  return (await storeA.queue.list({ domain, limit: 1000 })).jobs;
}

test.before(async () => {
  const dkim = makeDkimKeys();
  dns = await startDnsServer({
    'a.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }], TXT: [`v=spf1 ip4:${A_IP} -all`] },
    'mx.a.test': { A: [A_IP] },
    ...dkimZone('a.test', dkim),
    'r.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
    // B: its MX first in a list whose better-preference host is down (tries the next one).
    'b.test': {
      MX: [
        { exchange: 'down.b.test', priority: 5 },
        { exchange: 'mx.b.test', priority: 10 },
      ],
    },
    'down.b.test': { A: ['127.0.0.9'] },
    'mx.b.test': { A: [B_IP] },
    'flaky.test': { MX: [{ exchange: 'mx.flaky.test', priority: 10 }] },
    'mx.flaky.test': { A: ['127.0.0.4'] },
    'strict.test': { MX: [{ exchange: 'mx.strict.test', priority: 10 }] },
    'mx.strict.test': { A: ['127.0.0.5'] },
    'gone.test': { MX: [{ exchange: 'mx.gone.test', priority: 10 }] },
    'mx.gone.test': { A: ['127.0.0.6'] },
    'nullmx.test': { MX: [{ exchange: '.', priority: 0 }] },
    'implicit.test': { A: ['127.0.0.7'] },
  });
  const resolver = createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 });
  const tls = await testCertificate();

  dirB = tempDir('wren-out-b-');
  storeB = await Store.open(dirB.path);
  await sendingAccount(storeB, 'bob@b.test', 'x');
  mxB = createMxServer({ store: storeB, resolver, tls, hostname: 'mx.b.test', reverseLookup: false });
  mxPort = (await mxB.listen(0, B_IP)).port;

  dirA = tempDir('wren-out-a-');
  storeA = await Store.open(dirA.path);
  const alice = await sendingAccount(storeA, 'alice@a.test', PASSWORD, dkim);
  const tx = new (await import('../../src/store/index.ts')).Tx();
  storeA.addresses.put(tx, 'sales@a.test', {
    kind: 'alias',
    targets: ['alice@a.test', 'else@b.test'],
    teamId: alice.teamId,
  });
  await storeA.kv.commit(tx);
  await sendingAccount(storeA, 'carol@r.test', PASSWORD);

  submission = createSubmissionServer({
    store: storeA,
    login: new LoginService(storeA),
    queue: storeA.queue,
    tls,
    hostname: 'mx.a.test',
  });
  submissionPort = (await submission.listen(0, A_IP)).port;
  runner = createQueueRunner({
    store: storeA,
    resolver,
    hostname: 'mx.a.test',
    deliverLocal: inboxDelivery(storeA),
    smtpPort: mxPort, // every destination listens on the same port, as on 25
    localAddress: A_IP,
    retryScheduleMs: [150],
    delayNoticeAfterMs: 700,
    expiryMs: 1500,
    connectTimeoutMs: 2000,
  });
  runner.start();
});

test.after(async () => {
  await runner.stop();
  await submission.close();
  await mxB.close();
  for (const sink of sinks) await sink.close();
  await dns.close();
  await storeA.close();
  await storeB.close();
  dirA.remove();
  dirB.remove();
});

test('a message submitted to A on 587 reaches B with dkim=pass and spf=pass for a.test', async () => {
  const info = await transport().sendMail({
    from: 'Alice <alice@a.test>',
    to: 'bob@b.test',
    subject: 'Across the loopback',
    text: 'Hello Bob.',
  });
  assert.match(info.response, /^250 .*queued as/);
  const [received] = await waitFor(
    async () => {
      const list = await messagesIn(storeB, 'bob@b.test');
      return list.length ? list : null;
    },
    15_000,
    'delivery to B',
  );
  const text = received!.text;
  const results = text.slice(
    text.indexOf('Authentication-Results:'),
    text.indexOf('\r\n', text.indexOf('Authentication-Results:') + 200),
  );
  assert.match(text, /dkim=pass header\.i=@a\.test header\.s=rsa1 header\.a=rsa-sha256/, results);
  assert.match(
    text,
    /dkim=pass header\.i=@a\.test header\.s=ed1 header\.a=ed25519-sha256/,
    'Ed25519 signature verifies too',
  );
  assert.match(text, /spf=pass[^;]*smtp\.mailfrom=alice@a\.test/);
  assert.match(text, /Subject: Across the loopback/);

  // B's 250 reaches the store before A records the outcome: wait for the record, not just the mail.
  const [job] = await waitFor(
    async () => {
      const jobs = await jobsFor('b.test');
      return jobs[0]?.state === 'done' ? jobs : null;
    },
    15_000,
    'the job recorded as done',
  );
  const rcpt = job!.recipients[0]!;
  assert.is(rcpt.status, 'delivered');
  const last = rcpt.log.at(-1)!;
  assert.is(last.mx, 'mx.b.test', 'the preferred MX was down; the next one took it');
  assert.ok(last.tls, 'opportunistic STARTTLS was used');
  assert.match(last.response, /^250/);
  const types = (await storeA.events.list({ limit: 1000 })).map((e) => e.type);
  assert.ok(types.includes('message.queued') && types.includes('message.delivered'), types.join());
  const sent = await messagesIn(storeA, 'alice@a.test', 'Sent');
  assert.is(sent.length, 1, 'a copy in Sent');
  assert.not.match(sent[0]!.text, /DKIM-Signature/, 'the Sent copy is the message as submitted');
  assert.is(await storeA.blobs.load(job!.blob), 0, 'the queue released its blob reference');
});

test('an alias whose targets include the account may be the sender', async () => {
  const info = await transport().sendMail({
    from: 'sales@a.test',
    to: 'bob@b.test',
    subject: 'From the alias',
    text: 'x',
  });
  assert.match(info.response, /^250/);
  await waitFor(
    async () => (await messagesIn(storeB, 'bob@b.test')).some((m) => m.text.includes('Subject: From the alias')),
    10_000,
    'alias mail',
  );
});

test('a destination answering 4xx then 250 gets the message on the retry', async () => {
  const sink = await startSink({
    host: '127.0.0.4',
    port: mxPort,
    data: (n) => (n === 1 ? [451, '4.3.0 Try again later'] : null),
  });
  sinks.push(sink);
  await transport().sendMail({ from: 'alice@a.test', to: 'x@flaky.test', subject: 'Flaky', text: 'x' });
  await waitFor(() => sink.messages.length === 1, 10_000, 'delivery on retry');
  const [job] = await waitFor(async () => {
    const jobs = await jobsFor('flaky.test');
    return jobs[0]?.state === 'done' ? jobs : null;
  });
  const log = job!.recipients[0]!.log;
  assert.equal(
    log.map((l) => l.status),
    ['deferred', 'delivered'],
  );
  assert.match(log[0]!.response, /^451 4\.3\.0/);
  assert.is(sink.attempts, 2);
  const deferred = (await storeA.events.list({ limit: 1000 })).filter(
    (e) => e.type === 'message.deferred' && e.data.recipient === 'x@flaky.test',
  );
  assert.is(deferred.length, 1);
});

test('5xx: the refused recipient bounces with a DSN in the sender INBOX carrying the original headers; the other is delivered', async () => {
  const sink = await startSink({
    host: '127.0.0.5',
    port: mxPort,
    rcpt: (a) => (a.startsWith('nobody@') ? [550, '5.1.1 No such user'] : null),
  });
  sinks.push(sink);
  await transport().sendMail({
    from: 'alice@a.test',
    to: ['nobody@strict.test', 'someone@strict.test'],
    subject: 'Will bounce',
    text: 'x',
    messageId: '<bounce-me@a.test>',
  });
  const dsn = await waitFor(
    async () => (await messagesIn(storeA, 'alice@a.test')).find((m) => m.text.includes('Undelivered Mail Returned')),
    10_000,
    'the DSN',
  );
  const text = dsn.text;
  assert.match(text, /Content-Type: multipart\/report; report-type=delivery-status/);
  assert.match(text, /Final-Recipient: rfc822; nobody@strict\.test\r\nAction: failed\r\nStatus: 5\.1\.1/);
  assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 No such user/);
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.match(text, /Message-ID: <bounce-me@a\.test>/);
  assert.match(text, /Subject: Will bounce/);
  assert.not.match(text, /Final-Recipient: rfc822; someone@strict\.test/, 'the delivered recipient is not reported');
  assert.is(sink.messages.length, 1);
  assert.equal(sink.messages[0]!.to, ['someone@strict.test']);
  const [job] = await jobsFor('strict.test');
  assert.equal(
    job!.recipients.map((r) => r.status),
    ['bounced', 'delivered'],
  );
});

test('a bounce is never bounced: the null sender gets no DSN', async () => {
  const before = (await messagesIn(storeA, 'alice@a.test')).length;
  const alice = (await storeA.accounts.byAddress('alice@a.test'))!;
  await storeA.queue.enqueue({
    teamId: alice.teamId,
    from: '',
    to: ['nobody@strict.test'],
    raw: Buffer.from('From: MAILER-DAEMON@a.test\r\nSubject: a bounce\r\n\r\nx\r\n'),
  });
  const job = await waitFor(
    async () => (await jobsFor('strict.test')).find((j) => j.from === '' && j.state === 'done'),
    10_000,
    'the null-sender job',
  );
  assert.is(job.recipients[0]!.status, 'bounced');
  await new Promise((r) => setTimeout(r, 300));
  assert.is((await messagesIn(storeA, 'alice@a.test')).length, before);
});

test('null MX bounces at once; no MX falls back to the A record', async () => {
  await transport().sendMail({ from: 'alice@a.test', to: 'x@nullmx.test', subject: 'null mx', text: 'x' });
  const [job] = await waitFor(async () => {
    const jobs = await jobsFor('nullmx.test');
    return jobs[0]?.state === 'done' ? jobs : null;
  });
  assert.is(job!.attempts, 1);
  assert.match(job!.recipients[0]!.lastResponse!, /^550 5\.1\.10 .*null MX/);
  const sink = await startSink({ host: '127.0.0.7', port: mxPort });
  sinks.push(sink);
  await transport().sendMail({ from: 'alice@a.test', to: 'x@implicit.test', subject: 'implicit mx', text: 'x' });
  await waitFor(() => sink.messages.length === 1, 10_000, 'implicit MX delivery');
});

test('an unreachable MX: deferred, a delay notice, then bounced at the configured expiry', async () => {
  const started = Date.now();
  await transport().sendMail({ from: 'alice@a.test', to: 'x@gone.test', subject: 'Into the void', text: 'x' });
  const [job] = await waitFor(
    async () => {
      const jobs = await jobsFor('gone.test');
      return jobs[0]?.state === 'done' ? jobs : null;
    },
    10_000,
    'expiry',
  );
  assert.ok(Date.now() - started >= 1400, 'not before the expiry');
  const r = job!.recipients[0]!;
  assert.is(r.status, 'bounced');
  assert.ok(r.attempts >= 3, `attempts: ${r.attempts}`);
  assert.ok(r.log.slice(0, -1).every((l) => l.status === 'deferred'));
  assert.match(r.lastResponse!, /ECONNREFUSED|refused/i);
  // The notices are jobs of their own (null sender), delivered locally by the runner a moment later.
  const notices = async () => {
    const inbox = await messagesIn(storeA, 'alice@a.test');
    const delay = inbox.find((m) => m.text.includes('Delayed Mail') && m.text.includes('x@gone.test'));
    const bounce = inbox.find((m) => m.text.includes('Undelivered Mail') && m.text.includes('x@gone.test'));
    return delay && bounce ? { delay, bounce } : null;
  };
  const { delay, bounce } = await waitFor(notices, 10_000, 'the delay notice and the bounce');
  assert.ok(delay, 'a delay notice');
  assert.match(delay!.text, /Action: delayed/);
  assert.match(delay!.text, /Will-Retry-Until: /);
  assert.ok(bounce, 'a final bounce');
  assert.match(bounce!.text, /Status: 4\.4\.1/);
});

test('a relay that requires AUTH: mail of a routed domain goes through it with the right credentials', async () => {
  const relaySink = await startSink({ host: '127.0.0.8', auth: { user: 'relayuser', pass: 'relaypass' } });
  sinks.push(relaySink);
  const relays = storeA.queue.relays;
  const wrong = await relays.create({
    name: 'wrong',
    host: '127.0.0.8',
    port: relaySink.port,
    tls: 'starttls',
    verifyCertificate: false,
    auth: { user: 'relayuser', pass: 'nope' },
  });
  const group = await relays.createGroup('outbound', [wrong.id]);
  await relays.setRoute({ domain: 'r.test' }, group.id);
  await transport('carol@r.test').sendMail({
    from: 'carol@r.test',
    to: 'dave@b.test',
    subject: 'Via relay',
    text: 'x',
  });
  const [job] = await waitFor(
    async () => {
      const jobs = (await jobsFor('b.test')).filter((j) => j.from === 'carol@r.test');
      return jobs[0]?.attempts ? jobs : null;
    },
    5000,
    'first relay attempt',
  );
  assert.is(job!.recipients[0]!.status, 'deferred', 'a refused login is the relay setup, not the message: retried');
  assert.match(job!.recipients[0]!.lastResponse!, /535/);
  assert.is(relaySink.messages.length, 0);

  const right = await relays.create({
    name: 'right',
    host: '127.0.0.8',
    port: relaySink.port,
    tls: 'starttls',
    verifyCertificate: false,
    auth: { user: 'relayuser', pass: 'relaypass' },
    dailyLimit: 10,
  });
  await relays.putGroup({ ...group, relayIds: [right.id] });
  await waitFor(() => relaySink.messages.length === 1, 10_000, 'delivery through the relay');
  const m = relaySink.messages[0]!;
  assert.is(m.user, 'relayuser');
  assert.ok(m.secure, 'STARTTLS before AUTH');
  assert.equal(m.to, ['dave@b.test']);
  await waitFor(async () => (await storeA.queue.get(job!.id))!.state === 'done');
  assert.match((await storeA.queue.get(job!.id))!.recipients[0]!.log.at(-1)!.mx!, /^relay right/);
  const { utcDay } = await import('../../src/store/relays.ts');
  assert.is(await relays.usage(right.id, utcDay(Date.now())), 1, 'daily use counted');
  assert.is(
    (await messagesIn(storeB, 'bob@b.test')).filter((x) => x.text.includes('Via relay')).length,
    0,
    'not sent directly',
  );
});

test('queue operations: list, inspect, retry now, cancel', async () => {
  const alice = (await storeA.accounts.byAddress('alice@a.test'))!;
  const future = Date.now() + 3_600_000;
  const { jobs } = await storeA.queue.enqueue({
    teamId: alice.teamId,
    accountId: alice.id,
    from: 'alice@a.test',
    to: ['x@flaky.test', 'y@implicit.test'],
    raw: Buffer.from('From: alice@a.test\r\nSubject: later\r\n\r\nx\r\n'),
    dueAt: future,
  });
  assert.is(jobs.length, 2, 'one job per destination domain');
  const queued = (await storeA.queue.list({ state: 'queued' })).jobs.map((j) => j.id);
  assert.ok(jobs.every((j) => queued.includes(j.id)));
  const flaky = sinks.find((s) => s.messages.some((m) => m.to.includes('x@flaky.test')))!;
  const before = flaky.messages.length;
  await storeA.queue.retryNow(jobs[0]!.id);
  await waitFor(() => flaky.messages.length === before + 1, 5000, 'retry now');
  const cancelled = await storeA.queue.cancel(jobs[1]!.id);
  assert.is(cancelled!.state, 'cancelled');
  assert.is(cancelled!.recipients[0]!.status, 'cancelled');
  const events = await storeA.events.list({ limit: 1000 });
  assert.ok(events.some((e) => e.type === 'message.failed' && e.data.job_id === jobs[1]!.id));
  assert.is(await storeA.blobs.load(jobs[0]!.blob), 0, 'both jobs released the blob');
});

test.run();
