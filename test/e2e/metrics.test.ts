// /metrics (Prometheus text format, behind a key), the store gauges read at scrape time, counters fed
// by a real POP3 session, and the /healthz and /readyz probes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { metrics } from '../../src/metrics/registry.ts';
import { storeGauges } from '../../src/metrics/store-gauges.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import { startApi } from '../helpers/api.ts';
import { PASSWORD, RawPop3, startPop3, USER } from '../helpers/pop3.ts';
import { makeMessage } from '../helpers/tmp.ts';

/** One sample's value from the text format: `name{labels} value`, labels matched exactly. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

test('/metrics needs a root key with server.metrics.read; other keys are refused', async () => {
  const f = await startApi();
  const origin = f.base.replace(/\/api\/v1$/, '');
  try {
    const get = (key?: string) =>
      fetch(`${origin}/metrics`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    assert.is((await get()).status, 401);
    assert.is((await get('wm_root_notavalidkey')).status, 401);
    assert.is((await get(await f.makeKey(['domain.read']))).status, 403);
    assert.is((await get(await f.makeKey(['server.metrics.read'], f.teamId, 'sending'))).status, 403);
    for (const key of [
      f.rootKey,
      await f.makeKey(['server.metrics.read']),
      await f.makeKey(PRESETS['root:readonly']!),
      await f.makeKey(PRESETS['root:server_admin']!),
    ]) {
      assert.is((await get(key)).status, 200);
    }
    const reply = await get(await f.makeKey(['server.metrics.read']));
    assert.match(reply.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const text = await reply.text();
    // Process metrics, event-loop lag included, and the store gauges.
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(sample(text, name) !== undefined, name);
    }
    assert.is(sample(text, 'wrenmail_queue_jobs'), 0);
    assert.ok(sample(text, 'wrenmail_leveldb_size_bytes')! > 0);
    assert.is(
      (await fetch(`${origin}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${f.rootKey}` } })).status,
      405,
    );
  } finally {
    await f.close();
  }
});

test('store gauges: queue depth and due jobs counted at scrape, size on disk', async () => {
  const f = await startApi();
  try {
    const scrape = async (registry = storeGauges(f.store, { diskCacheMs: 0 })) => registry.metrics();
    const raw = makeMessage({ bytes: 200_000 });
    const before = sample(await scrape(), 'wrenmail_leveldb_size_bytes')!;
    // Two destination domains: two jobs, due now; a third due in an hour.
    await f.store.queue.enqueue({ teamId: f.teamId, from: 'a@wren.test', to: ['x@one.test', 'y@two.test'], raw });
    await f.store.queue.enqueue({
      teamId: f.teamId,
      from: 'a@wren.test',
      to: ['z@three.test'],
      raw: makeMessage(),
      dueAt: Date.now() + 3_600_000,
    });
    const text = await scrape();
    assert.is(sample(text, 'wrenmail_queue_jobs'), 3);
    assert.is(sample(text, 'wrenmail_queue_due_jobs'), 2);
    assert.ok(
      sample(text, 'wrenmail_leveldb_size_bytes')! >= before + raw.length,
      `${before} → ${sample(text, 'wrenmail_leveldb_size_bytes')}`,
    );
    // The walk of the directory is cached: a scrape within the TTL reuses the first measure.
    const cached = storeGauges(f.store, { diskCacheMs: 60_000 });
    const first = sample(await scrape(cached), 'wrenmail_leveldb_size_bytes');
    await f.store.queue.enqueue({
      teamId: f.teamId,
      from: 'a@wren.test',
      to: ['w@four.test'],
      raw: makeMessage({ bytes: 300_000 }),
    });
    assert.is(sample(await scrape(cached), 'wrenmail_leveldb_size_bytes'), first);
    assert.is(sample(await scrape(cached), 'wrenmail_queue_jobs'), 4);
  } finally {
    await f.close();
  }
});

test('counters: a POP3 session shows in connections, commands and logins; others record through metrics.*', async () => {
  const api = await startApi();
  const pop = await startPop3({ allowPlainAuthWithoutTls: true });
  const scrape = async () =>
    (
      await fetch(`${api.base.replace(/\/api\/v1$/, '')}/metrics`, {
        headers: { authorization: `Bearer ${api.rootKey}` },
      })
    ).text();
  try {
    const before = await scrape();
    const count = (text: string, name: string, labels: Record<string, string>) => sample(text, name, labels) ?? 0;
    const c = await RawPop3.connect(pop.port);
    await c.line();
    await c.command(`USER ${USER}`);
    await c.command('PASS wrong');
    await c.command(`USER ${USER}`);
    await c.command(`PASS ${PASSWORD}`);
    await c.command('STAT');
    await c.command('FROB');
    const during = await scrape();
    assert.is(
      count(during, 'wrenmail_connections_total', { protocol: 'pop3' }) -
        count(before, 'wrenmail_connections_total', { protocol: 'pop3' }),
      1,
    );
    assert.is(count(during, 'wrenmail_connections_open', { protocol: 'pop3' }), 1);
    assert.is(
      count(during, 'wrenmail_commands_total', { protocol: 'pop3', command: 'USER' }) -
        count(before, 'wrenmail_commands_total', { protocol: 'pop3', command: 'USER' }),
      2,
    );
    assert.is(
      count(during, 'wrenmail_commands_total', { protocol: 'pop3', command: 'unknown' }) -
        count(before, 'wrenmail_commands_total', { protocol: 'pop3', command: 'unknown' }),
      1,
    );
    assert.is(
      count(during, 'wrenmail_logins_total', { protocol: 'pop3', outcome: 'invalid' }) -
        count(before, 'wrenmail_logins_total', { protocol: 'pop3', outcome: 'invalid' }),
      1,
    );
    assert.is(
      count(during, 'wrenmail_logins_total', { protocol: 'pop3', outcome: 'ok' }) -
        count(before, 'wrenmail_logins_total', { protocol: 'pop3', outcome: 'ok' }),
      1,
    );
    await c.command('QUIT');
    await c.waitClosed();
    await new Promise((r) => setTimeout(r, 50));

    metrics.delivery('inbound', 'delivered', 3);
    metrics.delivery('outbound', 'deferred');
    metrics.webhook('gave_up');
    const after = await scrape();
    assert.is(count(after, 'wrenmail_connections_open', { protocol: 'pop3' }), 0);
    assert.is(
      count(after, 'wrenmail_deliveries_total', { direction: 'inbound', outcome: 'delivered' }) -
        count(before, 'wrenmail_deliveries_total', { direction: 'inbound', outcome: 'delivered' }),
      3,
    );
    assert.is(
      count(after, 'wrenmail_deliveries_total', { direction: 'outbound', outcome: 'deferred' }) -
        count(before, 'wrenmail_deliveries_total', { direction: 'outbound', outcome: 'deferred' }),
      1,
    );
    assert.is(
      count(after, 'wrenmail_webhook_deliveries_total', { outcome: 'gave_up' }) -
        count(before, 'wrenmail_webhook_deliveries_total', { outcome: 'gave_up' }),
      1,
    );
    // A connection's close is counted once, however often its closer runs.
    const close = metrics.connectionOpened('imap');
    close();
    close();
    assert.is(count(await scrape(), 'wrenmail_connections_open', { protocol: 'imap' }), 0);
  } finally {
    await pop.close();
    await api.close();
  }
});

test('/healthz answers while alive; /readyz follows readiness', async () => {
  let ready = false;
  const f = await startApi({ ready: () => ready });
  const origin = f.base.replace(/\/api\/v1$/, '');
  try {
    const health = await fetch(`${origin}/healthz`);
    assert.is(health.status, 200);
    assert.equal(await health.json(), { ok: true, status: 'alive' });
    const starting = await fetch(`${origin}/readyz`);
    assert.is(starting.status, 503);
    assert.equal(await starting.json(), { ok: false, status: 'starting' });
    ready = true;
    const up = await fetch(`${origin}/readyz`);
    assert.is(up.status, 200);
    assert.equal(await up.json(), { ok: true, status: 'ready' });
  } finally {
    await f.close();
  }
});

test.run();
