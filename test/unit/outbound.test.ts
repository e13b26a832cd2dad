// Pure parts of sending: DSN text, MX routing rules (against a real DNS server on loopback), relay
// choice, sending limits, line ends, MTA-STS matching, and the queue repository's bookkeeping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
import { buildDsn, enhancedStatus } from '../../src/outbound/dsn.ts';
import { mxAllowed } from '../../src/outbound/mta-sts.ts';
import { chooseRelay, resolveMx } from '../../src/outbound/route.ts';
import { canonicalLineEnds } from '../../src/smtp/submission.ts';
import { Store, Tx } from '../../src/store/index.ts';
import { utcDay } from '../../src/store/relays.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { tempDir } from '../helpers/tmp.ts';

const original = Buffer.from(
  'From: a@a.test\r\nTo: b@b.test\r\nSubject: Hello\r\nMessage-ID: <m1@a.test>\r\n\r\nSecret body\r\n',
);

test('DSN: multipart/report with delivery-status per recipient and only the original header', () => {
  const dsn = buildDsn({
    hostname: 'mx.a.test',
    to: 'a@a.test',
    recipients: [
      {
        address: 'b@b.test',
        action: 'failed',
        status: '5.1.1',
        diagnostic: '550 5.1.1 No such user\r\nInjected: yes',
        remoteMta: 'mx.b.test',
        lastAttemptAt: 1,
      },
    ],
    arrivalDate: 0,
    original,
  }).toString();
  assert.match(dsn, /^From: Mail Delivery System <MAILER-DAEMON@mx\.a\.test>\r\nTo: <a@a\.test>\r\n/);
  assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status; boundary="wren-dsn-[0-9a-f]+"/);
  assert.match(dsn, /Reporting-MTA: dns; mx\.a\.test\r\n/);
  assert.match(
    dsn,
    /Final-Recipient: rfc822; b@b\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.b\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such user Injected: yes\r\n/,
  );
  assert.not.match(dsn, /\r\nInjected: yes/, 'a remote reply cannot add fields');
  assert.match(dsn, /Content-Type: text\/rfc822-headers[\s\S]*Subject: Hello\r\nMessage-ID: <m1@a\.test>\r\n/);
  assert.not.match(dsn, /Secret body/, 'the body is not returned');
  assert.match(dsn, /Auto-Submitted: auto-replied/);
});

test('DSN: delay notice says delayed and until when', () => {
  const dsn = buildDsn({
    hostname: 'h',
    to: 'a@a.test',
    recipients: [
      {
        address: 'b@b.test',
        action: 'delayed',
        status: '4.4.1',
        diagnostic: 'connection refused',
        remoteMta: null,
        lastAttemptAt: 1,
      },
    ],
    arrivalDate: 0,
    willRetryUntil: 86_400_000,
    original,
  }).toString();
  assert.match(dsn, /Subject: Delayed Mail/);
  assert.match(dsn, /Action: delayed\r\nStatus: 4\.4\.1/);
  assert.match(dsn, /Will-Retry-Until: Fri, 02 Jan 1970/);
});

test('enhancedStatus: from the reply, else from its class', () => {
  assert.is(enhancedStatus('550 5.7.1 Relaying denied', 5), '5.7.1');
  assert.is(enhancedStatus('552 Mailbox full', 5), '5.0.0');
  assert.is(enhancedStatus('451 4.4.1 refused', 5), '4.4.1');
  assert.is(enhancedStatus('connection refused', 4), '4.0.0');
});

test('MX routing: preference order, null MX, implicit MX from A, nothing at all', async () => {
  const dns = await startDnsServer({
    'multi.test': {
      MX: [
        { exchange: 'b.multi.test', priority: 20 },
        { exchange: 'a.multi.test', priority: 10 },
      ],
    },
    'null.test': { MX: [{ exchange: '.', priority: 0 }] },
    'bare.test': { A: ['192.0.2.1'] },
    'empty.test': { TXT: ['v=spf1 -all'] },
  });
  try {
    const resolver = createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 });
    assert.equal(await resolveMx(resolver, 'multi.test'), {
      kind: 'mx',
      implicit: false,
      hosts: [
        { host: 'a.multi.test', priority: 10 },
        { host: 'b.multi.test', priority: 20 },
      ],
    });
    const nul = await resolveMx(resolver, 'null.test');
    assert.is(nul.kind, 'none');
    assert.equal(await resolveMx(resolver, 'bare.test'), {
      kind: 'mx',
      implicit: true,
      hosts: [{ host: 'bare.test', priority: 0 }],
    });
    assert.is((await resolveMx(resolver, 'empty.test')).kind, 'none');
    assert.is((await resolveMx(resolver, 'nxdomain.test')).kind, 'none');
  } finally {
    await dns.close();
  }
});

test('MTA-STS host matching: exact and wildcard', () => {
  const policy = { mode: 'enforce' as const, mx: ['mx.a.test', '*.b.test'] };
  assert.ok(mxAllowed(policy, 'mx.a.test'));
  assert.ok(mxAllowed(policy, 'mx1.b.test'));
  assert.not.ok(mxAllowed(policy, 'evil.test'));
});

test('sending limits: per hour and per day, with the wait until a slot frees; kept in the store across a reopen', async () => {
  const dir = tempDir();
  let store = await Store.open(dir.path);
  try {
    const limits = { perHour: 2, perDay: 3 };
    const t0 = 1_000_000_000;
    assert.ok((await store.sends.reserve('u', limits, t0)).ok);
    const second = await store.sends.reserve('u', limits, t0 + 1000);
    assert.ok(second.ok);
    assert.equal(await store.sends.reserve('u', limits, t0 + 2000), {
      ok: false,
      limit: '2 messages per hour',
      retryAfterSeconds: 3598,
    });
    // a released slot (the message was not sent) is free again
    if (second.ok) await second.release();
    const again = await store.sends.reserve('u', limits, t0 + 2000);
    assert.ok(again.ok);
    await store.close();
    store = await Store.open(dir.path);
    assert.equal(await store.sends.check('u', limits, t0 + 3000), {
      ok: false,
      limit: '2 messages per hour',
      retryAfterSeconds: 3597,
    });
    assert.ok((await store.sends.reserve('u', limits, t0 + 3_600_001)).ok);
    const day = await store.sends.check('u', limits, t0 + 7_300_000);
    assert.is(day.ok ? '' : day.limit, '3 messages per day');
    assert.ok((await store.sends.check('other', limits, t0)).ok);
  } finally {
    await store.close();
    dir.remove();
  }
});

test('line ends: bare LF and CR become CRLF, CRLF stays byte-identical', () => {
  assert.is(canonicalLineEnds(Buffer.from('a\nb\rc\r\nd')).toString(), 'a\r\nb\r\nc\r\nd');
  const clean = Buffer.from('a\r\nb\r\n');
  assert.is(canonicalLineEnds(clean), clean);
});

test('queue: enqueue is one batch (jobs per domain, blob refs, event); due order; cancel releases', async () => {
  const dir = tempDir();
  const store = await Store.open(dir.path);
  try {
    const raw = Buffer.from('From: a@a.test\r\nSubject: q\r\n\r\nx\r\n');
    const later = Date.now() + 60_000;
    const { jobs, event, messageId } = await store.queue.enqueue({
      teamId: 't',
      from: 'a@a.test',
      to: ['x@one.test', 'y@two.test', 'z@one.test', 'x@one.test'],
      raw,
      subject: 'q',
      dueAt: later,
    });
    assert.is(jobs.length, 2);
    assert.equal(
      jobs.map((j) => [j.domain, j.recipients.map((r) => r.address)]),
      [
        ['one.test', ['x@one.test', 'z@one.test']],
        ['two.test', ['y@two.test']],
      ],
    );
    assert.is(event.type, 'message.queued');
    assert.equal(
      event.data.jobs,
      jobs.map((j) => j.id),
    );
    assert.ok(jobs.every((j) => j.messageId === messageId));
    assert.is(await store.blobs.load(jobs[0]!.blob), 2, 'one reference per job');
    assert.equal(await store.queue.due(Date.now()), [], 'not due yet');
    assert.equal(
      await store.queue.due(later),
      jobs.map((j) => j.id),
    );
    assert.is(await store.queue.nextDueAt(), later);
    const early = await store.queue.enqueue({ teamId: 't', from: '', to: ['b@three.test'], raw: Buffer.from('x\r\n') });
    assert.is((await store.queue.due(later))[0], early.jobs[0]!.id, 'earliest due first');

    await store.queue.cancel(jobs[0]!.id);
    assert.is(await store.blobs.load(jobs[0]!.blob), 1);
    await store.queue.cancel(jobs[1]!.id);
    assert.is(await store.blobs.load(jobs[0]!.blob), 0, 'the last job gone, the blob is gone');
    assert.equal(await store.queue.due(later), [early.jobs[0]!.id]);
    const page = await store.queue.list({ limit: 2 });
    assert.is(page.jobs.length, 2);
    assert.is((await store.queue.list({ after: page.next!, limit: 2 })).jobs.length, 1);
    assert.equal(
      (await store.queue.list({ state: 'cancelled' })).jobs.map((j) => j.id),
      jobs.map((j) => j.id),
    );

    // stage(): a job added to somebody else's transaction commits with it, or not at all.
    const bounce = Buffer.from('bounce\r\n');
    await store.queue.prepare(bounce);
    const tx = new Tx();
    store.queue.stage(tx, { teamId: 't', from: '', to: ['p@four.test'], raw: bounce });
    assert.equal((await store.queue.list({ domain: 'four.test' })).jobs, [], 'nothing before the commit');
    await store.kv.commit(tx);
    assert.is((await store.queue.list({ domain: 'four.test' })).jobs.length, 1);
  } finally {
    await store.close();
    dir.remove();
  }
});

test('relay choice: by weight, skipping relays at their daily limit', async () => {
  const dir = tempDir();
  const store = await Store.open(dir.path);
  try {
    const relays = store.queue.relays;
    const a = await relays.create({ name: 'a', host: 'a', port: 25, tls: 'starttls', weight: 3 });
    const b = await relays.create({ name: 'b', host: 'b', port: 25, tls: 'starttls', weight: 1, dailyLimit: 1 });
    const group = await relays.createGroup('g', [a.id, b.id]);
    await relays.setRoute({ domain: 'Send.Test' }, group.id);
    assert.is((await relays.routeFor({ domain: 'send.test', apiKeyId: null }))?.id, group.id);
    assert.is(await relays.routeFor({ domain: 'other.test', apiKeyId: null }), undefined);
    assert.is((await chooseRelay(relays, group, Date.now(), () => 0.1))?.name, 'a');
    assert.is((await chooseRelay(relays, group, Date.now(), () => 0.9))?.name, 'b');
    const day = utcDay(Date.now());
    const tx = new Tx();
    relays.countUse(tx, b.id, day);
    await store.kv.commit(tx);
    assert.is((await chooseRelay(relays, group, Date.now(), () => 0.9))?.name, 'a', 'b is used up today');
    await relays.setRoute({ domain: 'send.test' }, null);
    assert.is(await relays.routeFor({ domain: 'send.test', apiKeyId: null }), undefined);
  } finally {
    await store.close();
    dir.remove();
  }
});

test.run();
