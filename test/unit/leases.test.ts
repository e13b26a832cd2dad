// Leases on work (docs/ARCHITECTURE.md §4.8), on the suite's engine (test/run.ts runs this file again on
// PostgreSQL): one owner at a time per name, a lapsed lease taken over; two outbound queue runners and two
// webhook dispatchers with different owners on one store attempt each job and each delivery once, and a
// job whose owner died (its lease not released) is taken over once the lease expires.
import { createServer, type Server } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
import { createWebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';
import { createQueueRunner, type DeliverLocal } from '../../src/outbound/queue-runner.ts';
import { pruneOnce } from '../../src/startup/services.ts';
import { prefixRange } from '../../src/store/keys.ts';
import { Tx, type Store } from '../../src/store/index.ts';
import { Webhooks } from '../../src/store/webhooks.ts';
import { waitFor } from '../helpers/outbound.ts';
import { withTempStore } from '../helpers/store.ts';
import { makeMessage } from '../helpers/tmp.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const JOBS = 12;

test('a lease has one owner at a time; released or expired, another takes it', async () => {
  await withTempStore(async (store) => {
    const leases = store.kv.engine.leases;
    assert.ok(await leases.acquire('job/1', 'node-a', 10_000));
    assert.not.ok(await leases.acquire('job/1', 'node-b', 10_000), 'held by node-a');
    assert.ok(await leases.acquire('job/1', 'node-a', 10_000), 'the owner renews');
    assert.ok(await leases.acquire('job/2', 'node-b', 10_000), 'another name is free');
    await leases.release('job/1', 'node-b');
    assert.not.ok(await leases.acquire('job/1', 'node-b', 10_000), 'a release by another owner does nothing');
    await leases.release('job/1', 'node-a');
    assert.ok(await leases.acquire('job/1', 'node-b', 10_000), 'released: free');

    // node-c dies holding a short lease: nobody may take it until it expires, then node-d does.
    assert.ok(await leases.acquire('job/3', 'node-c', 300));
    assert.not.ok(await leases.acquire('job/3', 'node-d', 10_000));
    await sleep(400);
    assert.ok(await leases.acquire('job/3', 'node-d', 10_000), 'expired: taken over');
    assert.not.ok(await leases.acquire('job/3', 'node-c', 300), 'the old owner lost it');
  });
});

test('claims racing on one name: exactly one wins', async () => {
  await withTempStore(async (store) => {
    const leases = store.kv.engine.leases;
    for (let round = 0; round < 5; round++) {
      const won = await Promise.all(
        Array.from({ length: 16 }, (_, i) => leases.acquire(`race/${round}`, `node-${i}`, 10_000)),
      );
      assert.is(won.filter(Boolean).length, 1, `round ${round}: ${won}`);
    }
  });
});

/** Jobs to a hosted domain: attempts go to `deliverLocal`, which counts them per subject. */
async function queueJobs(store: Store, count: number): Promise<string[]> {
  const team = await store.teams.create('hosted');
  await store.domains.create(team.id, 'hosted.test');
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = makeMessage({ subject: `job ${i}` });
    const { jobs } = await store.queue.enqueue({
      teamId: team.id,
      from: 'a@sender.test',
      to: [`u${i}@hosted.test`],
      raw,
      subject: `job ${i}`,
    });
    ids.push(jobs[0]!.id);
  }
  return ids;
}

/** Counts attempts per recipient; slow enough that two runners would overlap on one job. */
function countingDelivery(counts: Map<string, number>): DeliverLocal {
  return async (_raw, envelope) => {
    for (const to of envelope.to) counts.set(to, (counts.get(to) ?? 0) + 1);
    await sleep(60);
  };
}

const runner = (store: Store, owner: string, deliverLocal: DeliverLocal, ttlMs = 10_000) =>
  createQueueRunner({
    store,
    resolver: createResolver(),
    hostname: 'mx.sender.test',
    deliverLocal,
    pollIntervalMs: 100,
    retryScheduleMs: [60_000],
    mtaSts: false,
    lease: { owner, ttlMs },
  });

test('two queue runners with their own lease owners attempt each job once', async () => {
  await withTempStore(async (store) => {
    const counts = new Map<string, number>();
    const ids = await queueJobs(store, JOBS);
    const runners = [
      runner(store, 'node-a', countingDelivery(counts)),
      runner(store, 'node-b', countingDelivery(counts)),
    ];
    for (const r of runners) r.start();
    try {
      await waitFor(
        async () => (await Promise.all(ids.map((id) => store.queue.get(id)))).every((job) => job?.state === 'done'),
        20_000,
        'every job done',
      );
      await sleep(300); // a second attempt, if any, would land now
    } finally {
      await Promise.all(runners.map((r) => r.stop()));
    }
    assert.is(counts.size, JOBS);
    assert.equal(
      [...counts.entries()].filter(([, n]) => n !== 1),
      [],
      'attempted more than once',
    );
  });
});

test('a job whose runner died holding its lease is taken over once the lease expires, and attempted once', async () => {
  await withTempStore(async (store) => {
    const counts = new Map<string, number>();
    const [id] = await queueJobs(store, 1);
    // The dead node claimed the job and never released it (kill -9 mid-attempt).
    assert.ok(await store.kv.engine.leases.acquire(`queue/${id}`, 'dead-node', 800));
    const alive = runner(store, 'node-b', countingDelivery(counts));
    const claimedAt = Date.now();
    alive.start();
    try {
      await sleep(400);
      assert.is(counts.size, 0, 'not attempted while the lease holds');
      await waitFor(async () => (await store.queue.get(id!))?.state === 'done', 10_000, 'the job taken over');
      assert.ok(Date.now() - claimedAt >= 800, 'only after the lease expired');
    } finally {
      await alive.stop();
    }
    assert.equal([...counts.values()], [1]);
  });
});

test('two webhook dispatchers with their own lease owners POST each delivery once', async () => {
  await withTempStore(async (store) => {
    const posts = new Map<string, number>();
    const receiver: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        posts.set(body, (posts.get(body) ?? 0) + 1);
        setTimeout(() => res.writeHead(200).end('ok'), 60); // slow: two senders would overlap
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as { port: number }).port;
    const webhooks = new Webhooks(store.kv, store.notifier);
    const now = Date.now();
    const webhook = {
      id: 'w1',
      teamId: 't1',
      url: `http://127.0.0.1:${port}/hook`,
      description: '',
      eventTypes: ['*'],
      accountIds: [],
      secret: `whsec_${Buffer.from('secret').toString('base64')}`,
      enabled: true,
      failing: false,
      failingSince: null,
      createdAt: now,
      updatedAt: now,
    };
    await webhooks.save(webhook);
    const dispatchers = ['node-a', 'node-b'].map((owner) =>
      createWebhookDispatcher({
        store,
        allowHttp: true,
        allowPrivateAddresses: true,
        pollIntervalMs: 100,
        retryScheduleMs: [60_000],
        lease: { owner },
      }),
    );
    for (const d of dispatchers) d.start();
    try {
      const tx = new Tx();
      const ids = Array.from({ length: JOBS }, (_, i) =>
        webhooks.addDelivery(tx, {
          webhookId: webhook.id,
          teamId: webhook.teamId,
          eventId: `e${i}`,
          eventType: 'message.received',
          body: JSON.stringify({ n: i }),
          dueAt: Date.now(),
        }),
      ).map((d) => d.id);
      await store.kv.commit(tx);
      await waitFor(
        async () =>
          (await Promise.all(ids.map((id) => webhooks.getDelivery(id)))).every((d) => d?.status === 'succeeded'),
        20_000,
        'every delivery succeeded',
      );
      await sleep(300);
    } finally {
      await Promise.all(dispatchers.map((d) => d.stop()));
      await new Promise((r) => receiver.close(r));
    }
    assert.is(posts.size, JOBS);
    assert.equal(
      [...posts.entries()].filter(([, n]) => n !== 1),
      [],
      'POSTed more than once',
    );
  });
});

test('event pruning runs under a lease: while another node prunes, this one leaves the records alone', async () => {
  await withTempStore(async (store) => {
    await store.emit({ type: 'test.event', teamId: 't1', data: {} });
    const events = async () => (await store.kv.keys(prefixRange('e/'))).length;
    const lease = { owner: 'node-b', ttlMs: 10_000 };
    assert.ok(await store.kv.engine.leases.acquire('prune', 'node-a', 10_000));
    assert.is(await pruneOnce(store, { events: -60_000, junk: 0 }, lease), undefined, 'node-a is pruning');
    assert.is(await events(), 1);
    await store.kv.engine.leases.release('prune', 'node-a');
    assert.equal(await pruneOnce(store, { events: -60_000, junk: 0 }, lease), { events: 1, jobs: 0, junk: 0 });
    assert.is(await events(), 0);
    assert.ok(await store.kv.engine.leases.acquire('prune', 'node-a', 10_000), 'released after the pass');
  });
});

test('Junk saved longer ago than spam.junk_retention_days is expunged by the prune pass; newer Junk, mail just moved there and old mail elsewhere stay', async () => {
  await withTempStore(async (store) => {
    const team = await store.teams.create('t');
    const account = await store.accounts.create({ teamId: team.id, address: 'a@retention.test' });
    const junk = store.folders.bySpecialUse(account.id, '\\Junk')!;
    const inbox = store.folders.byName(account.id, 'INBOX')!;
    const day = 86_400_000;
    const pause = () => new Promise((r) => setTimeout(r, 150));
    const put = async (folder: typeof junk, subject: string, ageDays: number) =>
      (await store.deliver(makeMessage({ subject }), [{ folder }], { internalDate: Date.now() - ageDays * day }))
        .delivered[0]!.message.uid;
    await put(junk, 'kept long', 1);
    await pause();
    const term = Date.now(); // the retention term starts here: what came to Junk before it has served it
    await pause();
    await put(junk, 'new junk', 400);
    // A user moves a message received 400 days ago into Junk (to teach the filter): its term starts now.
    await store.messages.copy(inbox.id, [await put(inbox, 'moved to junk', 400)], junk.id, true);
    await put(inbox, 'old inbox', 400);
    const lease = { owner: 'node-a', ttlMs: 10_000 };
    assert.equal(
      await pruneOnce(store, { events: 7 * day, junk: 0 }, lease),
      { events: 0, jobs: 0, junk: 0 },
      '0 keeps Junk',
    );
    assert.equal(await pruneOnce(store, { events: 7 * day, junk: Date.now() - term }, lease), {
      events: 0,
      jobs: 0,
      junk: 1,
    });
    const subjects = async (folder: typeof junk) =>
      Promise.all(
        (await store.messages.list(folder.id)).map(
          async (m) => /Subject: (.*)/.exec((await store.read(m)).toString())![1],
        ),
      );
    assert.equal(await subjects(junk), ['new junk', 'moved to junk']);
    assert.equal(await subjects(inbox), ['old inbox']);
  });
});

test.run();
