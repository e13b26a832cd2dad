import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
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

test('empty servers list means the system resolvers', () => {
  const r = createResolver({ servers: [] });
  assert.ok(r.servers.length >= 0);
  assert.equal(createResolver({ servers: ['127.0.0.1:5353'] }).servers, ['127.0.0.1:5353']);
});

test.run();
