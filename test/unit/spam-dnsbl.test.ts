// DNS blocklists (RFC 5782) asked of a real DNS server on loopback: the client against IP lists, the links'
// registered domains against domain lists, and the lists' refusal codes read as the refusals they are.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
import { metrics } from '../../src/metrics/registry.ts';
import { dnsblScorer, readAnswer } from '../../src/spam/dnsbl.ts';
import { unauthenticatedInput } from '../../bench/spam-corpus.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';

let dns: TestDnsServer;
test.before(async () => {
  dns = await startDnsServer({
    // 11.22.33.44 is listed twice (SBL and XBL); 55.66.77.88's query is refused as if through a public resolver.
    '44.33.22.11.zen.test': { A: ['127.0.0.2', '127.0.0.4'] },
    '88.77.66.55.zen.test': { A: ['127.255.255.254'] },
    'bad-shop.example.dbl.test': { A: ['127.0.1.2'] },
    'refused.example.dbl.test': { A: ['127.0.1.255'] },
  });
});
test.after(() => dns.close());

const scorer = () =>
  dnsblScorer(createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }), {
    ipZones: ['zen.test'],
    domainZones: ['dbl.test'],
  });

/** A message whose HTML is base64-encoded (links a scan of the raw bytes cannot see), received from `clientIp`. */
function input(clientIp: string | undefined, links: string[]) {
  const html = Buffer.from(`<p>Deals: ${links.map((l) => `<a href="${l}">here</a>`).join(' ')}</p>`).toString('base64');
  const raw = Buffer.from(
    'From: a@shop.example\r\nTo: b@example.test\r\nSubject: deals\r\nMIME-Version: 1.0\r\n' +
      `Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n${html}\r\n`,
  );
  return { ...unauthenticatedInput(raw), clientIp };
}

const rules = async (clientIp: string | undefined, links: string[]) =>
  (await scorer().score(input(clientIp, links))).map((h) => `${h.rule}: ${h.description}`);

const counted = async (list: string, outcome: string) =>
  (await metrics.registry.getSingleMetric('wrenmail_dnsbl_queries_total')!.get()).values.find(
    (v) => v.labels.list === list && v.labels.outcome === outcome,
  )?.value ?? 0;

test('a listed client and a listed link domain (found under its host, in base64 HTML) each score once', async () => {
  assert.equal(await rules('11.22.33.44', ['http://www.bad-shop.example/buy?id=1', 'https://ok.example/']), [
    'RCVD_IN_ZEN_TEST: client 11.22.33.44 listed in zen.test (127.0.0.2, 127.0.0.4)',
    'URIBL_DBL_TEST: bad-shop.example listed in dbl.test (127.0.1.2)',
  ]);
  assert.ok(dns.queries.includes('bad-shop.example.dbl.test A'), dns.queries.join(' '));
  assert.not.ok(dns.queries.some((q) => q.startsWith('www.bad-shop.example.')));
});

test("a list's refusal codes are no listing, and are counted as refusals", async () => {
  const refusedBefore = await counted('zen.test', 'refused');
  assert.equal(await rules('55.66.77.88', ['http://refused.example/']), []);
  assert.is(await counted('zen.test', 'refused'), refusedBefore + 1);
  assert.equal(readAnswer(['127.255.255.252']).outcome, 'refused');
  assert.equal(readAnswer(['127.0.0.1']).outcome, 'refused');
  assert.equal(readAnswer(['127.0.0.10', '127.255.255.254']), { outcome: 'listed', codes: ['127.0.0.10'] });
  assert.equal(readAnswer([]).outcome, 'clean');
});

test('a private or loopback client is not sent to the lists; IP links are not asked of domain lists', async () => {
  const before = dns.queries.length;
  assert.equal(await rules('10.1.2.3', ['http://203.0.113.5/x']), []);
  assert.equal(await rules('::ffff:127.0.0.1', []), []);
  assert.is(dns.queries.length, before, dns.queries.slice(before).join(' '));
});

test.run();
