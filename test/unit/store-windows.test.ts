// Counted windows (Engine.windows, docs/ARCHITECTURE.md §4.8), on the suite's engine (test/run.ts runs this
// file again on PostgreSQL, where every node counts in one table): what login throttles and send budgets
// of a shared store rest on, and the API's reserved request counts. Takes and reservations racing for the
// last slots of a window never take more than its limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PostgresEngine } from '../../src/store/engines/postgres.ts';
import { TEST_ENGINE, testDatabase, withTempStore } from '../helpers/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const MINUTE = 60_000;

test('hits are counted per name within the window; a reset and a removal take them back', async () => {
  await withTempStore(async (store) => {
    const windows = store.kv.engine.windows;
    const now = Date.now();
    await windows.hit(['login/ip/1', 'login/pair/a%001'], now - 2 * MINUTE, 10 * MINUTE);
    await windows.hit(['login/ip/1'], now - MINUTE, 10 * MINUTE);
    await windows.hit(['login/ip/1'], now, 10 * MINUTE);
    assert.equal(await windows.times(['login/ip/1', 'login/pair/a%001', 'other'], now - 3 * MINUTE), [
      [now - 2 * MINUTE, now - MINUTE, now],
      [now - 2 * MINUTE],
      [],
    ]);
    assert.equal(await windows.times(['login/ip/1'], now - 90_000), [[now - MINUTE, now]], 'only after `since`');
    await windows.hit(['api/k', 'api/k', 'api/k'], now, MINUTE);
    assert.equal(await windows.times(['api/k'], now - 1), [[now, now, now]], 'a name given n times is n events');
    await windows.remove('login/ip/1', now - MINUTE);
    assert.equal(await windows.times(['login/ip/1'], 0), [[now - 2 * MINUTE, now]], 'one event removed');
    await windows.remove('login/ip/1');
    assert.equal(await windows.times(['login/ip/1', 'login/pair/a%001'], 0), [[], [now - 2 * MINUTE]], 'reset');
  });
});

test('take: refused when a cap is full, counted when there is room; expired events leave', async () => {
  await withTempStore(async (store) => {
    const windows = store.kv.engine.windows;
    const t = Date.now();
    const caps = [
      { limit: 2, windowMs: MINUTE },
      { limit: 3, windowMs: 10 * MINUTE },
    ];
    assert.ok((await windows.take('send/a', t, 10 * MINUTE, caps)).taken);
    assert.ok((await windows.take('send/a', t + 1, 10 * MINUTE, caps)).taken);
    const full = await windows.take('send/a', t + 2, 10 * MINUTE, caps);
    assert.equal(full, { taken: false, times: [t, t + 1] }, 'two a minute');
    assert.ok((await windows.take('send/a', t + MINUTE, 10 * MINUTE, caps)).taken, 'a minute later');
    assert.not.ok((await windows.take('send/a', t + 2 * MINUTE, 10 * MINUTE, caps)).taken, 'three in ten minutes');
    const later = await windows.take('send/a', t + 10 * MINUTE + 1, 10 * MINUTE, caps);
    assert.equal(later, { taken: true, times: [t + MINUTE, t + 10 * MINUTE + 1] }, 'the first two expired');
  });
});

test('40 takes racing for a window of 5: exactly 5 are counted', async () => {
  await withTempStore(async (store) => {
    const windows = store.kv.engine.windows;
    const now = Date.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        windows.take('send/race', now + i, MINUTE, [{ limit: 5, windowMs: MINUTE }]),
      ),
    );
    assert.is(results.filter((r) => r.taken).length, 5);
    assert.is((await windows.times(['send/race'], 0))[0]!.length, 5);
  });
});

test('reserve: grants up to what the limit leaves after `since`; 20 racing asks never pass it', async () => {
  await withTempStore(async (store) => {
    const windows = store.kv.engine.windows;
    const start = Date.now() - (Date.now() % MINUTE);
    assert.equal(await windows.reserve('api/k', start - 1, start, MINUTE, 10, 4), { granted: 4, count: 4 });
    assert.equal(await windows.reserve('api/k', start - 1, start, MINUTE, 10, 4), { granted: 4, count: 8 });
    assert.equal(
      await windows.reserve('api/k', start - 1, start, MINUTE, 10, 4),
      { granted: 2, count: 10 },
      'the rest',
    );
    assert.equal(await windows.reserve('api/k', start - 1, start, MINUTE, 10, 4), { granted: 0, count: 10 }, 'spent');
    assert.is((await windows.times(['api/k'], start - 1))[0]!.length, 10, 'granted events count as any other');
    const next = start + MINUTE;
    assert.equal(
      await windows.reserve('api/k', next - 1, next, MINUTE, 10, 4),
      { granted: 4, count: 4 },
      'next window',
    );

    const grants = await Promise.all(
      Array.from({ length: 20 }, () => windows.reserve('api/race', start - 1, start, MINUTE, 50, 3)),
    );
    assert.is(
      grants.reduce((sum, g) => sum + g.granted, 0),
      50,
    );
    assert.is((await windows.times(['api/race'], start - 1))[0]!.length, 50);
  });
});

test('on PostgreSQL, nodes started, and first using the windows, at the same instant all succeed', async () => {
  if (TEST_ENGINE !== 'postgres') return;
  // Each node creates the table on first use; the losers of two CREATE … IF NOT EXISTS at once got
  // "type windows already exists" (42710), and the API's rate limit of that node counted alone.
  for (let round = 0; round < 4; round++) {
    const dir = tempDir();
    const url = await testDatabase(dir.path);
    // Started at once too: the store's own table is made on open, and a loser used not to start.
    const opened = await Promise.allSettled(
      Array.from({ length: 6 }, () => PostgresEngine.open(url, { shared: true })),
    );
    const nodes = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    try {
      assert.equal(
        opened.map((o) => (o.status === 'rejected' ? String(o.reason) : 'open')),
        Array(6).fill('open'),
      );
      const start = Date.now() - (Date.now() % MINUTE);
      const grants = await Promise.all(
        nodes.map((node) => node.windows.reserve('api/first', start - 1, start, MINUTE, 100, 2)),
      );
      assert.equal(
        grants.map((g) => g.granted),
        [2, 2, 2, 2, 2, 2],
      );
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
      dir.remove();
    }
  }
});

test.run();
