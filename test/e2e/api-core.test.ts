// Management API conventions over real HTTP: envelope and headers, authentication, rate limits,
// idempotency, conditional requests, pagination, hostile input, and the OpenAPI document.
import { Agent, request as httpRequest } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pathParams } from '../../src/api/registry.ts';
import { type ApiFixture, routeTable, startApi } from '../helpers/api.ts';

let api: ApiFixture;
test.before(async () => {
  api = await startApi();
  await api.call('POST', '/domains', { body: { domain: 'core.test' } });
});
test.after(async () => api.close());

const mailbox = async (email: string) =>
  (await api.call('POST', '/mailboxes', { body: { email, password: 'correct horse battery' } })).body.data.mailbox;

test('envelope, request id, no-store, rate-limit headers on success and on errors', async () => {
  const ok = await api.call('GET', '/me');
  assert.is(ok.status, 200);
  assert.is(ok.body.ok, true);
  assert.is(ok.headers.get('x-request-id'), ok.body.meta.request_id);
  assert.match(ok.body.meta.request_id, /^req_[0-9a-f]{24}$/);
  assert.is(ok.headers.get('cache-control'), 'no-store');
  assert.is(ok.headers.get('x-ratelimit-limit'), '600');
  assert.ok(Number(ok.headers.get('x-ratelimit-remaining')) < 600);
  assert.ok(Number(ok.headers.get('x-ratelimit-reset')) > Date.now() / 1000);

  for (const reply of [
    await api.call('GET', '/me', { key: null }),
    await api.call('GET', '/nowhere'),
    await api.call('PUT', '/domains'),
  ]) {
    assert.is(reply.body.ok, false);
    assert.is(reply.headers.get('x-request-id'), reply.body.meta.request_id);
    assert.ok(reply.headers.get('x-ratelimit-limit'));
    assert.type(reply.body.error.message, 'string');
    assert.type(reply.body.error.retryable, 'boolean');
  }
  const none = await api.call('GET', '/me', { key: null });
  assert.is(none.status, 401);
  assert.is(none.body.error.code, 'authentication_required');
  assert.is((await api.call('GET', '/nowhere')).body.error.code, 'not_found');
  const wrongMethod = await api.call('PUT', '/domains');
  assert.is(wrongMethod.status, 405);
  assert.is(wrongMethod.headers.get('allow'), 'GET, POST');
});

test('the header block, name by name in the order sent, of a GET, its 304 and an error', async () => {
  const box = await mailbox('headers@core.test');
  /** The reply's header names as sent (raw order), and the values of the fixed ones. */
  const raw = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; names: string[]; values: Record<string, string> }>((resolve, reject) => {
      const req = httpRequest(`${api.base}${path}`, { headers }, (res) => {
        res.resume();
        res.on('end', () => {
          const names = res.rawHeaders.filter((_, i) => i % 2 === 0);
          const values = Object.fromEntries(names.map((n, i) => [n, res.rawHeaders[2 * i + 1]!]));
          resolve({ status: res.statusCode!, names, values });
        });
      });
      req.on('error', reject);
      req.end();
    });
  const authorization = `Bearer ${api.rootKey}`;
  const ok = await raw(`/mailboxes/${box.id}`, { authorization });
  assert.is(ok.status, 200);
  const limits = ['X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'];
  const tail = ['Date', 'Connection', 'Keep-Alive'];
  assert.equal(ok.names, [
    'X-Request-Id',
    'Cache-Control',
    ...limits,
    'ETag',
    'Content-Type',
    'Content-Length',
    ...tail,
  ]);
  assert.is(ok.values['Content-Type'], 'application/json; charset=utf-8');
  const same = await raw(`/mailboxes/${box.id}`, { authorization, 'if-none-match': ok.values.ETag! });
  assert.is(same.status, 304);
  assert.equal(same.names, ['X-Request-Id', 'Cache-Control', ...limits, 'ETag', ...tail]);
  const missing = await raw('/mailboxes/mbx_nothing', { authorization });
  assert.is(missing.status, 404);
  assert.equal(missing.names, ['X-Request-Id', 'Cache-Control', ...limits, 'Content-Type', 'Content-Length', ...tail]);
});

test("revoked, expired and unknown keys are 401; a suspended mailbox's key is 403 mailbox_suspended", async () => {
  const created = await api.call('POST', '/api-keys', { body: { name: 'short-lived', role: 'root:readonly' } });
  assert.is((await api.call('GET', '/domains', { key: created.body.data.secret })).status, 200);
  await api.call('DELETE', `/api-keys/${created.body.data.id}`);
  assert.is((await api.call('GET', '/domains', { key: created.body.data.secret })).status, 401);
  assert.is((await api.call('GET', '/me', { key: 'wm_root_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' })).status, 401);

  const box = await mailbox('suspendme@core.test');
  const credential = (await api.call('POST', `/mailboxes/${box.id}/keys`, { body: { app_name: 'agent' } })).body.data
    .api_key;
  assert.is((await api.call('GET', '/me', { key: credential.key })).status, 200);
  await api.call('POST', `/mailboxes/${box.id}/suspend`);
  const refused = await api.call('GET', '/me', { key: credential.key });
  assert.is(refused.status, 403);
  assert.is(refused.body.error.code, 'mailbox_suspended');
  await api.call('POST', `/mailboxes/${box.id}/resume`);
  assert.is((await api.call('GET', '/me', { key: credential.key })).status, 200);
});

test('one keep-alive connection: each request is answered as the key it carries, whatever the one before carried', async () => {
  const other = await api.newTeam('keepalive-team');
  const readonly = (await api.call('POST', '/api-keys', { body: { name: 'ka', role: 'root:readonly' } })).body.data;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const sockets = new Set<unknown>();
  const me = (authorization?: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = httpRequest(`${api.base}/me`, { agent, headers: authorization ? { authorization } : {} }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      });
      req.on('socket', (socket) => sockets.add(socket));
      req.on('error', reject);
      req.end();
    });
  try {
    const team = (reply: { body: any }) => reply.body.data.team.id;
    const mine = await me(`Bearer ${api.rootKey}`);
    assert.is(mine.status, 200);
    assert.is(team(await me(`Bearer ${api.rootKey}`)), team(mine));
    const theirs = await me(`Bearer ${other.key}`);
    assert.is(theirs.status, 200);
    assert.is.not(team(theirs), team(mine));
    assert.is((await me(`Bearer ${api.rootKey}x`)).status, 401);
    assert.is((await me()).status, 401);
    assert.is((await me(`Bearer ${readonly.secret}`)).body.data.key.id, readonly.id);
    await api.call('DELETE', `/api-keys/${readonly.id}`);
    assert.is((await me(`Bearer ${readonly.secret}`)).status, 401, 'a revoked key is refused on the same connection');
    assert.is(team(await me(`Bearer ${api.rootKey}`)), team(mine));
    assert.is(sockets.size, 1, 'every request went over the same connection');
  } finally {
    agent.destroy();
  }
});

test('last_used_at: null until a key is used, then set once a burst of requests with it is over; the key goes on working', async () => {
  const created = await api.call('POST', '/api-keys', { body: { name: 'tracked', role: 'root:readonly' } });
  const { id, secret } = created.body.data;
  assert.is((await api.call('GET', `/api-keys/${id}`)).body.data.last_used_at, null);
  const before = Date.now();
  const statuses = await Promise.all(
    Array.from({ length: 20 }, () => api.call('GET', '/domains', { key: secret }).then((r) => r.status)),
  );
  assert.equal([...new Set(statuses)], [200]);
  // Recorded off the request path, so looked for a few times.
  let used: string | null = null;
  for (let i = 0; i < 50 && !used; i++) {
    used = (await api.call('GET', `/api-keys/${id}`)).body.data.last_used_at;
    if (!used) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(used && Date.parse(used) >= before - 1000, `last_used_at ${used}`);
  assert.is((await api.call('GET', '/domains', { key: secret })).status, 200);
});

test('rate limit: the 601st request in a window is 429 with Retry-After; sending keys get 1,800', async () => {
  const key = await api.makeKey(['domain.read']);
  const started = Date.now();
  const statuses: number[] = [];
  for (let batch = 0; batch < 600; batch += 50) {
    const replies = await Promise.all(Array.from({ length: 50 }, () => api.call('GET', '/domains', { key })));
    statuses.push(...replies.map((r) => r.status));
  }
  assert.ok(
    statuses.every((s) => s === 200),
    'the first 600 pass',
  );
  const limited = await api.call('GET', '/domains', { key });
  assert.is(limited.status, 429);
  assert.is(limited.body.error.code, 'rate_limit_exceeded');
  assert.is(limited.body.error.retryable, true);
  assert.is(limited.headers.get('x-ratelimit-remaining'), '0');
  const retryAfter = Number(limited.headers.get('retry-after'));
  const elapsed = Math.ceil((Date.now() - started) / 1000);
  assert.ok(retryAfter >= 60 - elapsed - 1 && retryAfter <= 60, `Retry-After ${retryAfter} within the window`);
  const reset = Number(limited.headers.get('x-ratelimit-reset'));
  assert.ok(Math.abs(reset - (Date.now() / 1000 + retryAfter)) <= 2, 'Reset agrees with Retry-After');
  // other keys are not affected
  assert.is((await api.call('GET', '/domains')).status, 200);

  const box = await mailbox('ratelimited@core.test');
  const credential = (await api.call('POST', `/mailboxes/${box.id}/keys`, { body: { app_name: 'agent' } })).body.data
    .api_key;
  assert.is((await api.call('GET', '/me', { key: credential.key })).headers.get('x-ratelimit-limit'), '1800');
});

test('rate limit windows reset: short injected window, real limiter', async () => {
  const small = await startApi({ rateLimits: { management: { limit: 3, windowMs: 1500 } } });
  try {
    for (let i = 0; i < 3; i++) assert.is((await small.call('GET', '/me')).status, 200);
    const limited = await small.call('GET', '/me');
    assert.is(limited.status, 429);
    assert.is(limited.headers.get('retry-after'), '2');
    // unauthenticated callers are limited by address
    for (let i = 0; i < 3; i++) assert.is((await small.call('GET', '/me', { key: null })).status, 401);
    assert.is((await small.call('GET', '/me', { key: null })).status, 429);
    await new Promise((r) => setTimeout(r, 1600));
    assert.is((await small.call('GET', '/me')).status, 200);
  } finally {
    await small.close();
  }
});

test('one budget per caller across /api/v1 and the compatibility routes (/api/principal)', async () => {
  const small = await startApi({ rateLimits: { management: { limit: 4, windowMs: 60_000 } } });
  try {
    const compat = (path: string) =>
      fetch(`${small.base.replace(/\/v1$/, '')}${path}`, { headers: { authorization: `Bearer ${small.rootKey}` } });
    for (let i = 0; i < 2; i++) assert.is((await small.call('GET', '/me')).status, 200);
    for (let i = 0; i < 2; i++) assert.is((await compat('/principal?types=domain')).status, 200);
    assert.is((await compat('/principal?types=domain')).status, 429, 'the 5th request, made on the compat routes');
    assert.is((await small.call('GET', '/me')).status, 429, 'and on /api/v1');
  } finally {
    await small.close();
  }
});

test('Idempotency-Key: byte-identical replay, conflict on another body, concurrent duplicates create one', async () => {
  const headers = { 'idempotency-key': 'create-bob-1' };
  const first = await api.call('POST', '/mailboxes', { body: { email: 'bob@core.test' }, headers });
  assert.is(first.status, 201);
  const again = await api.call('POST', '/mailboxes', { body: { email: 'bob@core.test' }, headers });
  assert.is(again.status, 201);
  assert.is(again.text, first.text, 'same bytes, including the generated password and request id');
  for (const name of ['content-type', 'location', 'x-request-id'])
    assert.is(again.headers.get(name), first.headers.get(name), name);
  assert.is(again.headers.get('idempotent-replayed'), 'true');
  // field order does not make another request
  const reordered = await api.call('POST', '/mailboxes', {
    raw: '{ "email" : "bob@core.test" }',
    headers: { ...headers, 'content-type': 'application/json' },
  });
  assert.is(reordered.text, first.text);

  const other = await api.call('POST', '/mailboxes', { body: { email: 'carol@core.test' }, headers });
  assert.is(other.status, 409);
  assert.is(other.body.error.code, 'idempotency_conflict');
  assert.is(
    (await api.call('GET', '/mailboxes/availability?email=carol@core.test')).body.data.available,
    true,
    'nothing stored',
  );

  // the same key on another route, or from another team, is another scope
  assert.is(
    (
      await api.call('POST', '/lists', {
        body: { name: 'l', email: 'l@core.test', external_members: ['x@example.org'] },
        headers,
      })
    ).status,
    201,
  );

  const race = { 'idempotency-key': 'race-1' };
  const replies = await Promise.all(
    Array.from({ length: 8 }, () =>
      api.call('POST', '/mailboxes', { body: { email: 'dave@core.test' }, headers: race }),
    ),
  );
  const created = replies.filter((r) => r.status === 201);
  assert.ok(created.length >= 1);
  assert.ok(
    replies.every((r) => r.status === 201 || (r.status === 409 && r.body.error.code === 'idempotency_conflict')),
  );
  assert.ok(
    created.every((r) => r.text === created[0]!.text),
    'every 201 is the same reply',
  );
  const all = (await api.call('GET', '/mailboxes?limit=100')).body.data.filter(
    (m: { email: string }) => m.email === 'dave@core.test',
  );
  assert.is(all.length, 1);

  // without a key, a duplicate is a plain conflict
  const dup = await api.call('POST', '/mailboxes', { body: { email: 'dave@core.test' } });
  assert.is(dup.status, 409);
  assert.is(dup.body.error.code, 'conflict');
});

test('ETag / If-None-Match → 304; If-Match stale → 409 with the current ETag; fresh → applied', async () => {
  const box = await mailbox('etag@core.test');
  const got = await api.call('GET', `/mailboxes/${box.id}`);
  const etag = got.headers.get('etag')!;
  assert.match(etag, /^W\/".+"$/);
  const cached = await api.call('GET', `/mailboxes/${box.id}`, { headers: { 'if-none-match': etag } });
  assert.is(cached.status, 304);
  assert.is(cached.text, '');
  assert.is((await api.call('GET', `/mailboxes/${box.id}`, { headers: { 'if-none-match': 'W/"other"' } })).status, 200);

  const patched = await api.call('PATCH', `/mailboxes/${box.id}`, {
    body: { display_name: 'E. Tag' },
    headers: { 'if-match': etag },
  });
  assert.is(patched.status, 200);
  assert.is(patched.body.data.display_name, 'E. Tag');
  const stale = await api.call('PATCH', `/mailboxes/${box.id}`, {
    body: { display_name: 'Lost update' },
    headers: { 'if-match': etag },
  });
  assert.is(stale.status, 409);
  assert.is(stale.body.error.code, 'conflict');
  const current = (await api.call('GET', `/mailboxes/${box.id}`)).headers.get('etag');
  assert.is(stale.headers.get('etag'), current);
  assert.is.not(current, etag);
  assert.is((await api.call('GET', `/mailboxes/${box.id}`)).body.data.display_name, 'E. Tag');
  assert.is((await api.call('DELETE', `/mailboxes/${box.id}`, { headers: { 'if-match': etag } })).status, 409);
  assert.is((await api.call('DELETE', `/mailboxes/${box.id}`, { headers: { 'if-match': current! } })).status, 200);
});

test('cursor pagination: limit 1–100, opaque cursor, newest first, no duplicates or gaps', async () => {
  const { key } = await api.newTeam('paging');
  const teamApi = (method: string, path: string, body?: unknown) => api.call(method, path, { key, body });
  await teamApi('POST', '/domains', { domain: 'paging.test' });
  for (let i = 0; i < 7; i++)
    await teamApi('POST', '/mailboxes', { email: `user${i}@paging.test`, password: 'correct horse battery' });
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10; pages++) {
    const page = await teamApi('GET', `/mailboxes?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    assert.is(page.status, 200);
    seen.push(...page.body.data.map((m: { email: string }) => m.email));
    if (!page.body.pagination.has_more) {
      assert.is(page.body.pagination.next_cursor, undefined);
      break;
    }
    cursor = page.body.pagination.next_cursor;
  }
  assert.equal(
    seen,
    Array.from({ length: 7 }, (_, i) => `user${6 - i}@paging.test`),
  );
  for (const bad of ['limit=0', 'limit=101', 'limit=abc', 'cursor=not-a-cursor', 'color=red']) {
    const reply = await teamApi('GET', `/mailboxes?${bad}`);
    assert.is(reply.status, 400, bad);
    assert.is(reply.body.error.code, 'invalid_parameter', bad);
  }
});

/** A raw HTTP/1.1 request, for bodies fetch will not send (declared sizes, chunked streams). */
function rawRequest(
  path: string,
  headers: Record<string, string | number>,
  chunks: Buffer[],
): Promise<{ status: number; body: string }> {
  const url = new URL(api.base + path);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${api.rootKey}`, 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    const write = async () => {
      for (const chunk of chunks) if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
      req.end();
    };
    write().catch(() => undefined);
  });
}

test('bad input: malformed JSON, wrong types, unknown fields, non-UTF-8, wrong media type, oversized bodies → clean 4xx, nothing stored', async () => {
  const before = (await api.call('GET', '/mailboxes?limit=100')).body.data.length;
  const expect = async (
    reply: Awaited<ReturnType<ApiFixture['call']>>,
    status: number,
    code: string,
    label: string,
  ) => {
    assert.is(reply.status, status, label);
    assert.is(reply.body.ok, false, label);
    assert.is(reply.body.error.code, code, label);
    assert.is(reply.headers.get('x-request-id'), reply.body.meta.request_id, label);
  };
  const json = { 'content-type': 'application/json' };
  await expect(
    await api.call('POST', '/mailboxes', { raw: '{"email": "x@core.test",', headers: json }),
    400,
    'invalid_parameter',
    'truncated JSON',
  );
  await expect(
    await api.call('POST', '/mailboxes', { raw: 'null', headers: json }),
    400,
    'invalid_parameter',
    'null body',
  );
  await expect(
    await api.call('POST', '/mailboxes', { raw: '[]', headers: json }),
    400,
    'invalid_parameter',
    'array body',
  );
  const types = await api.call('POST', '/mailboxes', { body: { email: 42, quota_bytes: 'lots' } });
  await expect(types, 400, 'invalid_parameter', 'wrong types');
  assert.equal(types.body.error.errors.map((e: { field: string }) => e.field).sort(), ['email', 'quota_bytes']);
  assert.is(types.body.error.param, types.body.error.errors[0].field);
  const unknown = await api.call('POST', '/mailboxes', { body: { email: 'u@core.test', is_admin: true } });
  await expect(unknown, 400, 'invalid_parameter', 'unknown field');
  assert.is(unknown.body.error.param, 'is_admin');
  await expect(await api.call('POST', '/mailboxes', { body: {} }), 400, 'missing_parameter', 'missing email');
  await expect(
    await api.call('POST', '/mailboxes', {
      raw: Buffer.from([0x7b, 0x22, 0x65, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      headers: json,
    }),
    400,
    'invalid_parameter',
    'non-UTF-8',
  );
  await expect(
    await api.call('POST', '/mailboxes', {
      raw: 'email=x@core.test',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }),
    415,
    'unsupported_media_type',
    'form body',
  );
  await expect(
    await api.call('POST', '/mailboxes/mbx_01m87czr3vadhmry2m0h0gjemj/suspend', { raw: '{}', headers: json }),
    400,
    'invalid_parameter',
    'body on a bodiless route',
  );

  const tenMegabytes = Buffer.alloc(10_000_000, 0x20);
  await expect(
    await api.call('POST', '/mailboxes', { raw: tenMegabytes, headers: json }),
    413,
    'payload_too_large',
    '10 MB body',
  );
  // declared too large: refused before reading; chunked with no length: refused once the limit passes
  const declared = await rawRequest('/mailboxes', { 'content-length': 50_000_000 }, []);
  assert.is(declared.status, 413);
  const chunked = await rawRequest(
    '/mailboxes',
    { 'transfer-encoding': 'chunked' },
    Array.from({ length: 20 }, () => Buffer.alloc(100_000, 0x20)),
  );
  assert.is(chunked.status, 413);
  assert.is(JSON.parse(chunked.body).error.code, 'payload_too_large');
  // the server is still fine
  assert.is((await api.call('GET', '/me')).status, 200);
  assert.is((await api.call('GET', '/mailboxes?limit=100')).body.data.length, before, 'nothing stored');
});

test('path traversal and header injection in ids and addresses → clean 4xx, nothing stored', async () => {
  const box = await mailbox('safe@core.test');
  const hostile = [
    '..%2F..%2Fetc%2Fpasswd',
    '%2e%2e',
    'mbx_%0d%0aSet-Cookie:%20x=1',
    '%E0%A4%A',
    `${box.id}%00`,
    `${box.id}%2F..`,
  ];
  for (const id of hostile) {
    for (const path of [
      `/mailboxes/${id}`,
      `/domains/${id}`,
      `/api-keys/${id}`,
      `/lists/${id}`,
      `/mailboxes/${box.id}/aliases/${id}`,
    ]) {
      const reply = await api.call('GET', path);
      assert.ok(reply.status === 404 || reply.status === 400 || reply.status === 405, `${path}: ${reply.status}`);
      assert.is(reply.body.ok, false, path);
      assert.is(reply.headers.get('set-cookie'), null);
    }
  }
  const deleteAlias = await api.call('DELETE', `/mailboxes/${box.id}/aliases/..%2F..%2Fetc`);
  assert.is(deleteAlias.status, 404);
  for (const address of [
    'evil\r\nBcc: x@y.z@core.test',
    '../../x@core.test',
    'a/b@core.test',
    'x\r\n@core.test',
    'x@../core.test',
    'x@core.test\u0000',
  ]) {
    for (const [method, path, body] of [
      ['POST', '/mailboxes', { email: address }],
      ['POST', `/mailboxes/${box.id}/aliases`, { address }],
      ['POST', '/lists', { name: 'x', email: address, external_members: ['a@example.org'] }],
      ['POST', '/lists', { name: 'x', email: 'ok-list@core.test', external_members: [address] }],
    ] as const) {
      const reply = await api.call(method, path, { body });
      assert.is(reply.status, 400, `${path} ${JSON.stringify(address)}`);
      assert.is(reply.body.error.code, 'invalid_parameter');
    }
  }
  const display = await api.call('PATCH', `/mailboxes/${box.id}`, {
    body: { display_name: 'Eve\r\nBcc: all@core.test' },
  });
  assert.is(display.status, 400);
  assert.is((await api.call('GET', `/mailboxes/${box.id}`)).body.data.aliases.length, 0);
  assert.is((await api.call('GET', '/mailboxes/availability?email=ok-list@core.test')).body.data.available, true);
  const bogusDomain = await api.call('POST', '/domains', { body: { domain: '../../etc' } });
  assert.is(bogusDomain.status, 400);
});

test('OpenAPI 3.1 document: every registered route, structurally valid, public with ETag', async () => {
  const reply = await api.call('GET', '/openapi.json', { key: null });
  assert.is(reply.status, 200);
  assert.match(reply.headers.get('cache-control')!, /public/);
  assert.is(
    (await api.call('GET', '/openapi.json', { key: null, headers: { 'if-none-match': reply.headers.get('etag')! } }))
      .status,
    304,
  );
  const doc = reply.body;
  assert.match(doc.openapi, /^3\.1\.\d+$/);
  assert.type(doc.info.title, 'string');
  assert.type(doc.info.version, 'string');
  assert.ok(doc.components.securitySchemes.bearer);

  const routes = routeTable(api);
  for (const route of routes) {
    const operation = doc.paths[route.path]?.[route.method.toLowerCase()];
    assert.ok(operation, `${route.method} ${route.path} is documented`);
  }
  const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method, op })),
  );
  assert.is(operations.length, routes.length, 'nothing documented that is not served');

  // structure: OpenAPI 3.1 rules that tools rely on
  const ids = new Set<string>();
  const resolve = (ref: string) =>
    ref
      .slice(2)
      .split('/')
      .reduce((node: any, part) => node?.[part], doc);
  const refs: string[] = [];
  JSON.stringify(doc, (k, v) => {
    if (k === '$ref') refs.push(v);
    return v;
  });
  for (const ref of refs) assert.ok(ref.startsWith('#/') && resolve(ref) !== undefined, `${ref} resolves`);
  for (const { path, method, op } of operations) {
    assert.ok(path.startsWith('/'), path);
    assert.ok(['get', 'post', 'put', 'patch', 'delete'].includes(method));
    assert.type(op.operationId, 'string');
    assert.not.ok(ids.has(op.operationId), `operationId ${op.operationId} unique`);
    ids.add(op.operationId);
    assert.ok(Object.keys(op.responses).length > 0);
    for (const status of Object.keys(op.responses)) assert.match(status, /^[1-5]\d\d$/);
    for (const response of Object.values(op.responses) as { description?: string }[])
      assert.type(response.description, 'string');
    const declared = (op.parameters as { name?: string; in?: string; required?: boolean; $ref?: string }[]).filter(
      (p) => p.in === 'path',
    );
    assert.equal(declared.map((p) => p.name).sort(), pathParams(path).sort(), `${path} path parameters`);
    assert.ok(declared.every((p) => p.required === true));
    const keys = (op.parameters as { name?: string; in?: string }[])
      .filter((p) => p.name)
      .map((p) => `${p.in}:${p.name}`);
    assert.is(new Set(keys).size, keys.length, 'parameters unique');
    if (op.requestBody) assert.ok(op.requestBody.content['application/json'].schema);
  }
  const create = doc.paths['/mailboxes'].post;
  assert.is(
    create.requestBody.content['application/json'].schema.additionalProperties,
    false,
    'unknown fields are rejected, and documented so',
  );
  assert.ok(create.responses['409'] && create.responses['401'] && create.responses['429']);
});

test.run();
