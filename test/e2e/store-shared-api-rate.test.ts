// The API's request rate limit on two Wren nodes sharing one PostgreSQL database (docs/ARCHITECTURE.md
// §4.5, §4.8): a key's requests spread over both nodes count once, so a balancer in front of N nodes
// does not give a key N times its limit (each node counted its own before: 2L admitted). Each node
// admits only what it reserved in the database beforehand, so the pair never admits more than the
// limit (an earlier design, exchanging counts after the fact, let 35 of 32 through in one CI run).
// Always on PostgreSQL.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Instance } from '../helpers/instance.ts';
import { apiCall, type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

const LIMIT = 32;
const WINDOW_S = 3600;

let shared: SharedNodes;
let a: Instance;
let b: Instance;

test.before(async () => {
  shared = await startSharedNodes('shared-api-rate', {
    overrides: { http: { management_rate_limit: LIMIT, rate_limit_window_seconds: WINDOW_S } },
  });
  ({ a, b } = shared);
});
test.after(() => shared?.stop());

const get = (instance: Instance, path: string, key: string | null = shared.rootKey) =>
  apiCall(instance, key, 'GET', path);

test('a key limited to 32 an hour gets exactly 32 across both nodes, not 32 per node', async () => {
  // Shared windows are aligned to the clock: do not straddle the hour's end (at most a 20 s wait).
  const left = WINDOW_S * 1000 - (Date.now() % (WINDOW_S * 1000));
  if (left < 20_000) await new Promise((r) => setTimeout(r, left + 100));
  const replies: Awaited<ReturnType<typeof get>>[] = [];
  // 96 requests, eight at a time, four on each node: a balancer spreading one client's requests.
  for (let round = 0; round < 12; round++)
    replies.push(...(await Promise.all([a, b, a, b, a, b, a, b].map((instance) => get(instance, '/domains')))));
  const admitted = replies.filter((r) => r.status === 200).length;
  // Never past the limit; and the requests kept reaching both nodes, so neither held reservations unused.
  assert.is(admitted, LIMIT, `${admitted} admitted of ${replies.length}`);
  assert.ok(
    replies.every((r) => r.status === 200 || r.status === 429),
    replies.map((r) => r.status).join(' '),
  );

  // Once past it, the key is refused on both nodes, as on one: the error envelope and the headers.
  for (const instance of [a, b]) {
    const limited = await get(instance, '/domains');
    assert.is(limited.status, 429, instance.host);
    assert.is(limited.body.ok, false);
    assert.is(limited.body.error.code, 'rate_limit_exceeded');
    assert.is(limited.body.error.retryable, true);
    assert.is(limited.headers.get('x-ratelimit-limit'), String(LIMIT));
    assert.is(limited.headers.get('x-ratelimit-remaining'), '0');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= WINDOW_S, `Retry-After ${retryAfter}`);
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    assert.ok(Math.abs(reset - (Date.now() / 1000 + retryAfter)) <= 2, 'Reset agrees with Retry-After');
  }
  // Another caller (unauthenticated, counted by address) is not affected: 401, not 429.
  assert.is((await get(b, '/domains', null)).status, 401);
});

test.run();
