// The queue runner's stages on their own, with a real store and a real SMTP sink: recording an
// attempt's outcome (retry schedule, expiry bounce with its DSN, one delay notice), one attempt's
// per-recipient results and session reuse, and the scheduler's per-domain limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { createResolver } from '../../src/dns/resolver.ts';
import { attemptDelivery, type AttemptContext } from '../../src/outbound/attempt.ts';
import { recordOutcomes, type Outcome, type RecordPolicy } from '../../src/outbound/outcome.ts';
import { MxCache } from '../../src/outbound/route.ts';
import { createScheduler } from '../../src/outbound/scheduler.ts';
import { SessionPool } from '../../src/outbound/session-pool.ts';
import { Tx, type Store } from '../../src/store/index.ts';
import type { QueueJob } from '../../src/store/queue.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { startSink, waitFor } from '../helpers/outbound.ts';
import { withTempStore } from '../helpers/store.ts';
import { makeMessage } from '../helpers/tmp.ts';

const logger = pino({ level: 'silent' });
const MINUTE = 60_000;
const policy = (over: Partial<RecordPolicy> = {}): RecordPolicy => ({
  hostname: 'mx.a.test',
  retryScheduleMs: [MINUTE, 5 * MINUTE],
  expiryMs: 24 * 60 * MINUTE,
  delayNoticeAfterMs: 0,
  logger,
  ...over,
});
const deferred = (response = '451 4.4.1 try later'): Outcome => ({
  status: 'deferred',
  response,
  mx: 'mx.b.test',
  tls: true,
});

const enqueue = async (store: Store, from: string, to: string[]): Promise<QueueJob> =>
  (await store.queue.enqueue({ teamId: 't', from, to, raw: makeMessage({ subject: 'stages' }), subject: 'stages' }))
    .jobs[0]!;
const dsnsTo = async (store: Store, sender: string) =>
  (await store.queue.list({ domain: sender.slice(sender.indexOf('@') + 1) })).jobs.filter(
    (j) => j.from === '' && j.recipients[0]!.address === sender,
  );

test('outcome: deferred recipients retry on the schedule (the last wait repeats); the job is done once none is open', async () => {
  await withTempStore(async (store) => {
    const job = await enqueue(store, 'a@a.test', ['x@b.test', 'y@b.test']);
    const p = policy();
    let before = Date.now();
    await recordOutcomes(
      store,
      p,
      job.id,
      new Map([
        ['x@b.test', deferred()],
        ['y@b.test', { status: 'delivered', response: '250 ok', mx: 'mx.b.test', tls: true }],
      ]),
      undefined,
    );
    let now = (await store.queue.get(job.id))!;
    assert.is(now.state, 'queued');
    assert.is(now.attempts, 1);
    assert.equal(
      now.recipients.map((r) => r.status),
      ['deferred', 'delivered'],
    );
    assert.ok(now.dueAt >= before + MINUTE && now.dueAt <= Date.now() + MINUTE, 'first wait: schedule[0]');

    for (const wait of [5 * MINUTE, 5 * MINUTE]) {
      before = Date.now();
      await recordOutcomes(
        store,
        p,
        job.id,
        new Map([
          ['x@b.test', deferred()],
          ['y@b.test', deferred('451 must not count')],
        ]),
        undefined,
      );
      now = (await store.queue.get(job.id))!;
      assert.ok(now.dueAt >= before + wait && now.dueAt <= Date.now() + wait, `wait ${wait}`);
    }
    assert.is(now.recipients[1]!.status, 'delivered', 'a delivered recipient is never tried again');
    assert.is(now.recipients[1]!.attempts, 1);
    assert.is(now.recipients[0]!.attempts, 3);

    await recordOutcomes(
      store,
      p,
      job.id,
      new Map([['x@b.test', { status: 'bounced', response: '550 5.1.1 no such user', mx: 'mx.b.test', tls: true }]]),
      undefined,
    );
    now = (await store.queue.get(job.id))!;
    assert.is(now.state, 'done');
    const types = (await store.events.list({ afterSeq: 0, limit: 100 }))
      .filter((e) => e.data.job_id === job.id)
      .map((e) => `${e.type}:${e.data.recipient}`);
    assert.equal(types, [
      'message.deferred:x@b.test',
      'message.delivered:y@b.test',
      'message.deferred:x@b.test',
      'message.deferred:x@b.test',
      'message.bounced:x@b.test',
    ]);
    assert.is((await dsnsTo(store, 'a@a.test')).length, 1, 'the bounce reports to the sender');
  });
});

test('outcome: past the expiry a deferral bounces (giving up), with one failure DSN; never a DSN to the null sender', async () => {
  await withTempStore(async (store) => {
    const job = await enqueue(store, 'a@a.test', ['x@b.test']);
    const bounceJob = await enqueue(store, '', ['z@b.test']);
    await new Promise((r) => setTimeout(r, 5));
    const p = policy({ expiryMs: 1 });
    await recordOutcomes(store, p, job.id, new Map([['x@b.test', deferred()]]), undefined);
    await recordOutcomes(store, p, bounceJob.id, new Map([['z@b.test', deferred()]]), undefined);
    const done = (await store.queue.get(job.id))!;
    assert.is(done.state, 'done');
    assert.is(done.recipients[0]!.status, 'bounced');
    assert.match(done.recipients[0]!.lastResponse!, /^451 4\.4\.1 try later \(giving up: in the queue since /);
    const dsns = await dsnsTo(store, 'a@a.test');
    assert.is(dsns.length, 1);
    const text = (await store.blobs.read(dsns[0]!.blob, dsns[0]!.size)).toString();
    assert.match(text, /Action: failed\r\nStatus: 4\.4\.1/);
    assert.is((await store.queue.get(bounceJob.id))!.state, 'done');
    assert.is(
      (await store.queue.list({})).jobs.filter((j) => j.from === '').length,
      2,
      'the null sender got nothing back',
    );
  });
});

test('outcome: a delay notice goes once, after delayNoticeAfterMs, while the job stays queued', async () => {
  await withTempStore(async (store) => {
    const job = await enqueue(store, 'a@a.test', ['x@b.test']);
    await recordOutcomes(
      store,
      policy({ delayNoticeAfterMs: 60 * MINUTE }),
      job.id,
      new Map([['x@b.test', deferred()]]),
      undefined,
    );
    assert.is((await dsnsTo(store, 'a@a.test')).length, 0, 'not before its time');
    await new Promise((r) => setTimeout(r, 5));
    for (let i = 0; i < 2; i++)
      await recordOutcomes(
        store,
        policy({ delayNoticeAfterMs: 1 }),
        job.id,
        new Map([['x@b.test', deferred()]]),
        undefined,
      );
    const dsns = await dsnsTo(store, 'a@a.test');
    assert.is(dsns.length, 1, 'once');
    assert.match((await store.blobs.read(dsns[0]!.blob, dsns[0]!.size)).toString(), /Action: delayed/);
    const now = (await store.queue.get(job.id))!;
    assert.ok(now.delayNotified);
    assert.is(now.state, 'queued');
  });
});

test('attempt: per-recipient results from the MX; a finished session is reused from the pool, and not after the pool closes', async () => {
  const sink = await startSink({
    tls: false,
    rcpt: (address) =>
      address.startsWith('gone')
        ? [550, '5.1.1 No such user']
        : address.startsWith('full')
          ? [452, '4.2.2 Mailbox full']
          : null,
  });
  const dns = await startDnsServer({
    'b.test': { MX: [{ exchange: 'mx.b.test', priority: 10 }] },
    'mx.b.test': { A: ['127.0.0.1'] },
  });
  try {
    await withTempStore(async (store) => {
      const resolver = createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 });
      const pool = new SessionPool(4);
      const ctx: AttemptContext = {
        store,
        resolver,
        hostname: 'mx.a.test',
        deliverLocal: async () => undefined,
        mxCache: new MxCache(resolver, 0),
        mtaSts: null,
        pool,
        smtpPort: sink.port,
        logger,
      };
      const first = await attemptDelivery(
        ctx,
        await enqueue(store, 'a@a.test', ['ok@b.test', 'gone@b.test', 'full@b.test']),
      );
      assert.equal(
        [...first.outcomes].map(([a, o]) => [a, o.status, o.mx]),
        [
          ['ok@b.test', 'delivered', 'mx.b.test'],
          ['gone@b.test', 'bounced', 'mx.b.test'],
          ['full@b.test', 'deferred', 'mx.b.test'],
        ],
      );
      assert.match(first.outcomes.get('gone@b.test')!.response, /^550 5\.1\.1/);
      assert.is(pool.size, 1, 'the session is parked');
      const second = await attemptDelivery(ctx, await enqueue(store, 'a@a.test', ['ok2@b.test']));
      assert.is(second.outcomes.get('ok2@b.test')!.status, 'delivered');
      assert.is(sink.connections, 1, 'one connection for both messages');
      pool.close();
      assert.is(pool.size, 0);
      await attemptDelivery(ctx, await enqueue(store, 'a@a.test', ['ok3@b.test']));
      assert.is(sink.connections, 2, 'a closed pool keeps nothing');
      assert.is(pool.size, 0);
      assert.is(sink.messages.length, 3);
    });
  } finally {
    await sink.close();
    await dns.close();
  }
});

test('attempt: a hosted domain goes to deliverLocal; its 5xx bounces, other failures defer', async () => {
  await withTempStore(async (store) => {
    const team = await store.teams.create('t');
    await store.domains.create(team.id, 'hosted.test');
    let answer: Error | null = null;
    const seen: string[][] = [];
    const resolver = createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 200, tries: 1 });
    const ctx: AttemptContext = {
      store,
      resolver,
      hostname: 'mx.a.test',
      mxCache: new MxCache(resolver, 0),
      mtaSts: null,
      pool: new SessionPool(1),
      smtpPort: 9,
      logger,
      deliverLocal: async (_raw, envelope) => {
        seen.push(envelope.to);
        if (answer) throw answer;
      },
    };
    const job = await enqueue(store, 'a@a.test', ['u@hosted.test']);
    assert.equal(
      [...(await attemptDelivery(ctx, job)).outcomes.values()].map((o) => [o.status, o.mx]),
      [['delivered', 'local']],
    );
    answer = Object.assign(new Error('550 5.1.1 No such user here'), { responseCode: 550 });
    assert.equal(
      [...(await attemptDelivery(ctx, job)).outcomes.values()].map((o) => [o.status, o.response]),
      [['bounced', '550 5.1.1 No such user here']],
    );
    answer = new Error('store busy');
    assert.equal(
      [...(await attemptDelivery(ctx, job)).outcomes.values()].map((o) => [o.status, o.response]),
      [['deferred', '451 store busy']],
    );
    assert.equal(seen, [['u@hosted.test'], ['u@hosted.test'], ['u@hosted.test']]);
  });
});

test('scheduler: at most perDomainConcurrency attempts to one domain, the rest start as those finish; stop waits for them', async () => {
  await withTempStore(async (store) => {
    for (let i = 0; i < 3; i++) await enqueue(store, 'a@a.test', [`u${i}@b.test`]);
    await enqueue(store, 'a@a.test', ['v@c.test']);
    const releases: (() => void)[] = [];
    const started: string[] = [];
    let finished = 0;
    const scheduler = createScheduler({
      queue: store.queue,
      concurrency: 10,
      perDomainConcurrency: 2,
      pollIntervalMs: 50,
      logger,
      run: async (job) => {
        started.push(job.domain);
        await new Promise<void>((r) => releases.push(r));
        // What the runner's record stage does: the job leaves the due list.
        const tx = new Tx();
        store.queue.update(tx, job, { ...job, state: 'done' });
        await store.kv.commit(tx);
        finished++;
      },
    });
    scheduler.start();
    await waitFor(() => started.length === 3, 5000, 'three attempts');
    await new Promise((r) => setTimeout(r, 150)); // a few polls: nothing more may start
    assert.equal(started.sort(), ['b.test', 'b.test', 'c.test']);
    assert.is(scheduler.inFlight, 3);
    releases.shift()!();
    await waitFor(() => started.length === 4, 5000, 'the third b.test job');
    const stopped = scheduler.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.not.ok(done, 'stop waits for attempts in flight');
    for (const release of releases.splice(0)) release();
    await stopped;
    assert.is(finished, 4);
    assert.is(scheduler.inFlight, 0);
  });
});

test.run();
