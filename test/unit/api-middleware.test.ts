// Pure pieces of the API middleware: permission grants, pagination, the rate limiter's clock
// arithmetic, weak ETags, DNS record generation, and the idempotency store's expiry; the JSON body
// reader over a real socket.
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import Koa from 'koa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Context } from 'koa';
import type { ApiError } from '../../src/api/errors.ts';
import { readJsonBody } from '../../src/api/middleware/body.ts';
import { etagOf } from '../../src/api/middleware/etag.ts';
import { paginate } from '../../src/api/middleware/pagination.ts';
import { grantsCover } from '../../src/api/middleware/permissions.ts';
import { RateLimiter } from '../../src/api/middleware/rate-limit.ts';
import { domainRecords, zoneFile } from '../../src/dns/records.ts';
import { dkimStatus, generateDkimKey } from '../../src/dns/dkim.ts';
import { Idempotency } from '../../src/store/idempotency.ts';
import { MemoryWindows } from '../../src/store/engines/leveldb.ts';
import { Store } from '../../src/store/index.ts';
import { tempDir } from '../helpers/tmp.ts';

test('grantsCover: a key hands out only what it holds', () => {
  assert.ok(grantsCover(['*'], '*'));
  assert.ok(grantsCover(['domain.*'], 'domain.read'));
  assert.ok(grantsCover(['domain.*'], 'domain.*'));
  assert.ok(grantsCover(['mailbox.*'], 'mailbox.admin.*'));
  assert.ok(grantsCover(['*.read'], '*.read'));
  assert.ok(grantsCover(['*.read'], 'domain.read'));
  assert.not.ok(grantsCover(['domain.read'], 'domain.*'));
  assert.not.ok(grantsCover(['domain.*'], '*'));
  assert.not.ok(grantsCover(['domain.read', 'mailbox.admin.read'], '*.read'));
  assert.not.ok(grantsCover(['*.read'], 'domain.create'));
});

test('paginate: newest first, ties broken by id, cursor continues after the last item', () => {
  const items = [
    { t: 1, id: 'a' },
    { t: 3, id: 'b' },
    { t: 2, id: 'c' },
    { t: 3, id: 'd' },
  ];
  const first = paginate(items, (x) => x, { limit: 2 });
  assert.equal(
    first.items.map((x) => x.id),
    ['d', 'b'],
  );
  assert.is(first.pagination.has_more, true);
  const second = paginate(items, (x) => x, { limit: 2, cursor: first.pagination.next_cursor });
  assert.equal(
    second.items.map((x) => x.id),
    ['c', 'a'],
  );
  assert.equal(second.pagination, { has_more: false });
  assert.throws(
    () => paginate(items, (x) => x, { limit: 2, cursor: 'garbage' }),
    (err: ApiError) => err.code === 'invalid_parameter' && err.param === 'cursor',
  );
});

test('RateLimiter: limit per window, headers, Retry-After from the window start, separate subjects and classes', () => {
  let now = 1_000_000;
  const limiter = new RateLimiter({
    management: { limit: 2, windowMs: 60_000 },
    sending: { limit: 3, windowMs: 60_000 },
    now: () => now,
  });
  const headers: Record<string, string> = {};
  const ctx = { set: (name: string, value: string) => (headers[name] = value) } as unknown as Context;
  limiter.charge(ctx, 'key:a', 'management');
  assert.is(headers['X-RateLimit-Remaining'], '1');
  assert.is(headers['X-RateLimit-Reset'], String(Math.ceil((1_000_000 + 60_000) / 1000)));
  now += 20_000;
  limiter.charge(ctx, 'key:a', 'management');
  now += 15_500;
  try {
    limiter.charge(ctx, 'key:a', 'management');
    assert.unreachable();
  } catch (err) {
    assert.is((err as ApiError).code, 'rate_limit_exceeded');
    assert.is((err as ApiError).headers['Retry-After'], '25', '60 s window, 35.5 s gone');
  }
  limiter.charge(ctx, 'key:b', 'sending');
  assert.is(headers['X-RateLimit-Limit'], '3');
  now += 25_000;
  limiter.charge(ctx, 'key:a', 'management');
  assert.is(headers['X-RateLimit-Remaining'], '1', 'a new window');
});

test('RateLimiter on shared windows: three nodes together admit exactly the limit; windows follow the clock', async () => {
  // Three limiters on one counted-windows store are three nodes on one database (the store's own count).
  const windows = new MemoryWindows();
  const limit = 160;
  const nodes = [0, 1, 2].map(() => new RateLimiter({ management: { limit, windowMs: 3_600_000 }, shared: windows }));
  const headers: Record<string, string> = {};
  const ctx = { set: (name: string, value: string) => (headers[name] = value) } as unknown as Context;
  let admitted = 0;
  let refused = 0;
  for (let round = 0; round < 20; round++)
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        try {
          await nodes[i % 3]!.charge(ctx, 'key:hot', 'management');
          admitted++;
        } catch (err) {
          assert.is((err as ApiError).code, 'rate_limit_exceeded');
          refused++;
        }
      }),
    );
  // Every node admits from what it reserved, and requests kept reaching all three: none left unused.
  assert.is(admitted, limit, `${admitted} admitted of 600`);
  assert.is(admitted + refused, 600);
  // Another key is its own.
  await nodes[0]!.charge(ctx, 'key:cold', 'management');
  assert.is(headers['X-RateLimit-Remaining'], String(limit - 1));

  // Windows start at multiples of their length, so every node's window of a key is the same one.
  let now = 1_000_000;
  const clocked = new RateLimiter({
    management: { limit: 2, windowMs: 60_000 },
    shared: new MemoryWindows(),
    now: () => now,
  });
  await clocked.charge(ctx, 'key:a', 'management');
  assert.is(headers['X-RateLimit-Reset'], '1020', 'the window of 960 s to 1,020 s');
  await clocked.charge(ctx, 'key:a', 'management');
  now = 1_019_500;
  try {
    await clocked.charge(ctx, 'key:a', 'management');
    assert.unreachable();
  } catch (err) {
    assert.is((err as ApiError).headers['Retry-After'], '1');
  }
  now = 1_020_000;
  await clocked.charge(ctx, 'key:a', 'management');
  assert.is(headers['X-RateLimit-Remaining'], '1', 'a new window');
});

test('RateLimiter on shared windows: with the database unreachable a node counts alone, neither hanging nor refusing below the limit', async () => {
  class UnreachableWindows extends MemoryWindows {
    override reserve(): Promise<never> {
      return Promise.reject(new Error('connection refused'));
    }
  }
  const limiter = new RateLimiter({
    management: { limit: 5, windowMs: 60_000 },
    shared: new UnreachableWindows(),
  });
  const ctx = { set: () => {} } as unknown as Context;
  const outcomes = await Promise.race([
    Promise.all(
      Array.from({ length: 8 }, () =>
        (async () => {
          try {
            await limiter.charge(ctx, 'key:offline', 'management');
            return 'admitted';
          } catch (err) {
            return (err as ApiError).code;
          }
        })(),
      ),
    ),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('charge waited on the database')), 3000)),
  ]);
  assert.equal(outcomes.filter((o) => o === 'admitted').length, 5);
  assert.equal(outcomes.filter((o) => o === 'rate_limit_exceeded').length, 3);
});

test('etagOf: weak, stable for equal data, different for changed data', () => {
  assert.match(etagOf({ a: 1 }), /^W\/"[A-Za-z0-9_-]{27}"$/);
  assert.is(etagOf({ a: 1 }), etagOf({ a: 1 }));
  assert.is.not(etagOf({ a: 1 }), etagOf({ a: 2 }));
});

test('DNS records and zone file; DKIM keys: RSA-2048 SPKI and raw Ed25519, rotation states', async () => {
  const rsa = await generateDkimKey('rsa-sha256', 'r1', 1000);
  const ed = await generateDkimKey('ed25519-sha256', 'e1', 1000);
  assert.ok(Buffer.from(rsa.publicKey, 'base64').length > 290, 'RSA-2048 SubjectPublicKeyInfo');
  assert.is(Buffer.from(ed.publicKey, 'base64').length, 32, 'raw Ed25519 key (RFC 8463)');
  rsa.active = true;
  const next = { ...(await generateDkimKey('rsa-sha256', 'r2', 2000)) };
  assert.is(dkimStatus(next, [rsa, next]), 'pending');
  next.active = true;
  rsa.active = false;
  assert.is(dkimStatus(rsa, [rsa, next]), 'retiring');

  const records = domainRecords({
    domain: 'ex.test',
    hostname: 'MX.Host.test.',
    dkim: [rsa, next, ed],
    verificationToken: 'tok',
    mtaStsId: 'id1',
    ports: { imaps: 993, submission: 587, submissions: 465 },
  });
  assert.equal(
    records.filter((r) => r.purpose === 'dkim').map((r) => r.selector),
    ['r2', 'e1'],
    'retiring keys are not asked for',
  );
  assert.ok(records.every((r) => !r.name.endsWith('.') && r.name.endsWith('ex.test')));
  assert.is(records.find((r) => r.type === 'MX')!.value, 'mx.host.test');
  const zone = zoneFile('ex.test', records);
  assert.match(zone, /^\$TTL 3600$/m);
  assert.match(zone, /^_submission\._tcp\.ex\.test\.\tIN\tSRV\t0 1 587 mx\.host\.test\.\t; optional$/m);
  assert.match(zone, /^_dmarc\.ex\.test\.\tIN\tTXT\t"v=DMARC1; p=quarantine;[^"]*"$/m);
  for (const line of zone.split('\n'))
    for (const s of line.match(/"[^"]*"/g) ?? []) assert.ok(s.length - 2 <= 255, 'character-strings ≤ 255');
});

test('Idempotency store: records expire and are pruned by their expiry index', async () => {
  const dir = tempDir();
  const store = await Store.open(dir.path);
  try {
    const repo = new Idempotency(store.kv);
    const reply = {
      keyId: 'key_a',
      fingerprint: 'f',
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      createdAt: 1000,
      expiresAt: 5000,
    };
    await repo.put('scope1', reply);
    assert.equal(await repo.get('scope1', 'key_a', 4999), reply);
    assert.is(await repo.get('scope1', 'key_b', 4999), undefined, 'never served to another key');
    assert.is(await repo.get('scope1', 'key_a', 5000), undefined, 'expired');
    await repo.put('scope2', { ...reply, expiresAt: 9000 });
    assert.is(await repo.prune(6000), 1);
    assert.is(await store.kv.get('i/scope1'), undefined);
    assert.ok(await repo.get('scope2', 'key_a', 6000));
  } finally {
    await store.close();
    dir.remove();
  }
});

test('readJsonBody: one chunk or many (a character split between two), JSON media types, a body cut off', async () => {
  const outcomes: string[] = [];
  const app = new Koa();
  app.silent = true; // the cut-off request's reply fails to go out: expected
  app.use(async (ctx) => {
    try {
      ctx.body = { got: await readJsonBody(ctx, 1000) };
    } catch (err) {
      const code = (err as ApiError).code ?? (err as Error).message;
      outcomes.push(code);
      ctx.status = 400;
      ctx.body = { code };
    }
  });
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  /** Sends the head, then each part 20 ms after the last; the reply, or '' when the server closed first. */
  const send = (head: string, parts: Buffer[], close = false) =>
    new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let reply = '';
      socket.on('data', (d) => (reply += d));
      socket.on('close', () => resolve(reply.slice(reply.indexOf('\r\n\r\n') + 4)));
      socket.on('error', () => undefined);
      socket.write(`POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${head}\r\n`);
      void (async () => {
        for (const part of parts) {
          await new Promise((r) => setTimeout(r, 20));
          socket.write(part);
        }
        if (close) socket.destroy();
      })();
    });
  try {
    const body = Buffer.from(JSON.stringify({ message: 'Grüße' }));
    const split = body.indexOf(0xc3) + 1; // between the two bytes of ü
    const length = `Content-Length: ${body.length}\r\n`;
    assert.equal(JSON.parse(await send(`Content-Type: application/json\r\n${length}`, [body])), {
      got: { message: 'Grüße' },
    });
    assert.equal(
      JSON.parse(
        await send(`Content-Type: Application/JSON; Charset="UTF-8"\r\n${length}`, [
          body.subarray(0, split),
          body.subarray(split),
        ]),
      ),
      { got: { message: 'Grüße' } },
    );
    assert.equal(JSON.parse(await send(`Content-Type: text/plain\r\n${length}`, [body])), {
      code: 'unsupported_media_type',
    });
    // Cut off after half its bytes: the reader fails (it must not wait for ever) and the server goes on.
    assert.is(await send(`Content-Type: application/json\r\n${length}`, [body.subarray(0, 5)], true), '');
    for (let i = 0; i < 50 && outcomes.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(outcomes.length, 2, 'the cut-off body was answered with a failure');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test.run();
