import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { createResolver } from '../../src/dns/resolver.ts';
import { queryTxt, TXT_CACHE_MAX_NEGATIVE_TTL, TXT_CACHE_MAX_TTL, TxtCache } from '../../src/dns/txt-cache.ts';
import { reverseName, startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';

const longKey = `v=DKIM1; k=rsa; p=${'A'.repeat(1400)}`;
let dns: TestDnsServer;

test.before(async () => {
  dns = await startDnsServer({
    'example.test': {
      A: ['192.0.2.1'],
      AAAA: ['2001:db8::1'],
      MX: [
        { exchange: 'mx2.example.test', priority: 20 },
        { exchange: 'mx1.example.test', priority: 10 },
      ],
      TXT: ['v=spf1 ip4:127.0.0.1 -all', ['two ', 'strings']],
    },
    'sel._domainkey.example.test': { TXT: [longKey] },
    [reverseName('127.0.0.1')]: { PTR: ['localhost.example.test'] },
    [reverseName('2001:db8::1')]: { PTR: ['v6.example.test'] },
  });
});
test.after(() => dns.close());

test('helpers resolve A, AAAA, MX (by priority), TXT (joined), PTR', async () => {
  const r = createResolver({ servers: dns.servers });
  assert.equal(await r.a('example.test'), ['192.0.2.1']);
  assert.equal(await r.aaaa('EXAMPLE.test'), ['2001:db8::1']);
  assert.equal(
    (await r.mx('example.test')).map((m) => m.exchange),
    ['mx1.example.test', 'mx2.example.test'],
  );
  assert.equal(await r.txt('example.test'), ['v=spf1 ip4:127.0.0.1 -all', 'two strings']);
  assert.equal(await r.ptr('127.0.0.1'), ['localhost.example.test']);
  assert.equal(await r.ptr('2001:db8::1'), ['v6.example.test']);
});

test('a long DKIM TXT record comes back whole (split strings, TCP fallback when truncated)', async () => {
  const r = createResolver({ servers: dns.servers });
  assert.equal(await r.txt('sel._domainkey.example.test'), [longKey]);
  const raw = (await r.resolve('sel._domainkey.example.test', 'TXT')) as string[][];
  assert.ok(raw[0]!.length >= 3, 'split into 255-byte strings');
});

test('missing names and types: helpers give [], resolve() rejects with ENOTFOUND / ENODATA like dns.promises', async () => {
  const r = createResolver({ servers: dns.servers });
  assert.equal(await r.txt('nothing.example.test'), []);
  assert.equal(await r.mx('sel._domainkey.example.test'), []);
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: NodeJS.ErrnoException) => e.code,
    );
  assert.is(await codeOf(r.resolve('nothing.example.test', 'TXT')), 'ENOTFOUND');
  assert.is(await codeOf(r.resolve('sel._domainkey.example.test', 'MX')), 'ENODATA');
});

test('zone changes apply at once; queries are recorded', async () => {
  const r = createResolver({ servers: dns.servers });
  dns.zone['new.example.test'] = { A: ['192.0.2.9'] };
  assert.equal(await r.a('new.example.test'), ['192.0.2.9']);
  assert.ok(dns.queries.includes('new.example.test A'));
});

const asked = (name: string) => dns.queries.filter((q) => q === `${name} TXT`).length;
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: NodeJS.ErrnoException) => e.code,
  );

test('TXT answers (SPF, DKIM, DMARC through resolve()) are kept for their TTL, then asked again', async () => {
  const r = createResolver({ servers: dns.servers });
  dns.ttl = 1;
  try {
    dns.zone['ttl.example.test'] = { TXT: ['v=spf1 -all'] };
    assert.equal(await r.resolve('ttl.example.test', 'TXT'), [['v=spf1 -all']]);
    dns.zone['ttl.example.test'] = { TXT: ['v=spf1 +all'] };
    assert.equal(await r.resolve('TTL.example.test.', 'TXT'), [['v=spf1 -all']], 'within the TTL: the kept answer');
    assert.is(asked('ttl.example.test'), 1);
    assert.equal(await r.txt('ttl.example.test'), ['v=spf1 +all'], 'txt() (domain checks) asks afresh');
    await sleep(1100);
    assert.equal(await r.resolve('ttl.example.test', 'TXT'), [['v=spf1 +all']], 'after the TTL: asked again');
    // Answers with TTL 0 are not kept; several questions at once for one name make one query.
    dns.ttl = 0;
    await r.resolve('zero.example.test', 'TXT').catch(() => undefined);
    dns.zone['zero.example.test'] = { TXT: ['a'] };
    const before = asked('zero.example.test');
    await Promise.all([1, 2, 3].map(() => r.resolve('zero.example.test', 'TXT')));
    assert.is(asked('zero.example.test'), before + 1);
    await r.resolve('zero.example.test', 'TXT');
    assert.is(asked('zero.example.test'), before + 2);
  } finally {
    dns.ttl = 60;
  }
});

test('negative answers are kept only with an SOA, for min(SOA TTL, MINIMUM) (RFC 2308 §5)', async () => {
  const r = createResolver({ servers: dns.servers });
  assert.is(await codeOf(r.resolve('neg1.example.test', 'TXT')), 'ENOTFOUND');
  assert.is(await codeOf(r.resolve('neg1.example.test', 'TXT')), 'ENOTFOUND');
  assert.is(asked('neg1.example.test'), 2, 'no SOA: not kept');
  dns.soa = { ttl: 60, minimum: 1 };
  try {
    assert.is(await codeOf(r.resolve('neg2.example.test', 'TXT')), 'ENOTFOUND');
    dns.zone['neg2.example.test'] = { TXT: ['v=DMARC1; p=reject'] };
    assert.is(await codeOf(r.resolve('neg2.example.test', 'TXT')), 'ENOTFOUND', 'kept');
    assert.is(await codeOf(r.resolve('sel._domainkey.example.test', 'TXT')), 'ok');
    dns.zone['nodata.example.test'] = { A: ['192.0.2.3'] };
    assert.is(await codeOf(r.resolve('nodata.example.test', 'TXT')), 'ENODATA');
    assert.is(await codeOf(r.resolve('nodata.example.test', 'TXT')), 'ENODATA');
    assert.is(asked('nodata.example.test'), 1, 'NODATA kept too');
    await sleep(1100);
    assert.equal(await r.resolve('neg2.example.test', 'TXT'), [['v=DMARC1; p=reject']]);
    assert.is(asked('neg2.example.test'), 2);
  } finally {
    dns.soa = null;
  }
});

test('the TTLs kept are capped, and failures are never kept', async () => {
  let now = 0;
  const cache = new TxtCache(
    (name) => queryTxt(name, dns.servers, { timeoutMs: 1000, tries: 1 }),
    100,
    () => now,
  );
  dns.ttl = 7 * 86400;
  dns.soa = { ttl: 86400, minimum: 86400 };
  try {
    dns.zone['cap.example.test'] = { TXT: ['x'] };
    await cache.resolve('cap.example.test');
    await codeOf(cache.resolve('capneg.example.test'));
    now = (TXT_CACHE_MAX_NEGATIVE_TTL - 1) * 1000;
    await cache.resolve('cap.example.test');
    await codeOf(cache.resolve('capneg.example.test'));
    assert.equal([asked('cap.example.test'), asked('capneg.example.test')], [1, 1]);
    now = TXT_CACHE_MAX_NEGATIVE_TTL * 1000;
    await codeOf(cache.resolve('capneg.example.test'));
    assert.is(asked('capneg.example.test'), 2, 'negative: at most TXT_CACHE_MAX_NEGATIVE_TTL');
    now = TXT_CACHE_MAX_TTL * 1000;
    await cache.resolve('cap.example.test');
    assert.is(asked('cap.example.test'), 2, 'positive: at most TXT_CACHE_MAX_TTL');
  } finally {
    dns.ttl = 60;
    dns.soa = null;
  }
  // A server that does not answer: ETIMEOUT, asked again next time.
  const silent = new TxtCache((name) => queryTxt(name, ['127.0.0.1:9'], { timeoutMs: 100, tries: 1 }), 100);
  assert.match(String(await codeOf(silent.resolve('x.example.test'))), /^(ETIMEOUT|ECONNREFUSED)$/);
  assert.is(silent.size, 0);
});

test('the cache holds at most txtCacheEntries names, least recently used out first', async () => {
  const r = createResolver({ servers: dns.servers, txtCacheEntries: 2 });
  for (const n of ['b1', 'b2', 'b3']) dns.zone[`${n}.example.test`] = { TXT: [n] };
  const get = (n: string) => r.resolve(`${n}.example.test`, 'TXT');
  await get('b1');
  await get('b2');
  await get('b1'); // kept, and now the most recently used
  await get('b3'); // pushes b2 out
  assert.equal([asked('b1.example.test'), asked('b2.example.test'), asked('b3.example.test')], [1, 1, 1]);
  await get('b1');
  await get('b2');
  assert.equal([asked('b1.example.test'), asked('b2.example.test')], [1, 2]);
  const off = createResolver({ servers: dns.servers, txtCacheEntries: 0 });
  await off.resolve('b3.example.test', 'TXT');
  await off.resolve('b3.example.test', 'TXT');
  assert.is(asked('b3.example.test'), 3, 'txtCacheEntries 0: no cache');
});

test('empty servers list means the system resolvers', () => {
  const r = createResolver({ servers: [] });
  assert.ok(r.servers.length >= 0);
  assert.equal(createResolver({ servers: ['127.0.0.1:5353'] }).servers, ['127.0.0.1:5353']);
});

test.run();
