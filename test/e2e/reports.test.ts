// DMARC aggregate and TLS-RPT reports sent by SMTP to the MX, picked up after delivery, and listed by
// the API for the team hosting the reported domain only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { createResolver } from '../../src/dns/resolver.ts';
import { createReportCollector, type ReportCollector } from '../../src/reports/collector.ts';
import { createMxServer, type MxServer } from '../../src/smtp/mx.ts';
import { startApi, type ApiFixture } from '../helpers/api.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { dmarcGzipMail, dmarcXml, dmarcZipMail, reportMail, tlsRptJson, tlsRptMail } from '../helpers/reports.ts';
import { messagesIn, testCertificate } from '../helpers/smtp.ts';

let f: ApiFixture;
let dns: TestDnsServer;
let mx: MxServer;
let mxPort = 0;
let collector: ReportCollector;
let other: { teamId: string; key: string };

async function send(to: string, raw: Buffer, from = 'reporter@reporter.example'): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: mxPort,
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  await transport.sendMail({ envelope: { from, to }, raw }).finally(() => transport.close());
  await collector.idle();
}

test.before(async () => {
  f = await startApi();
  await f.store.domains.create(f.teamId, 'example.test');
  await f.store.accounts.create({ teamId: f.teamId, address: 'postmaster@example.test' });
  await f.store.accounts.create({ teamId: f.teamId, address: 'ann@example.test' });
  other = await f.newTeam('team-b');
  await f.store.domains.create(other.teamId, 'other.test');
  await f.store.accounts.create({ teamId: other.teamId, address: 'postmaster@other.test' });
  dns = await startDnsServer({});
  mx = createMxServer({
    store: f.store,
    resolver: createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }),
    tls: await testCertificate(),
    hostname: 'mx.wren.test',
  });
  mxPort = (await mx.listen(0, '127.0.0.1')).port;
  collector = createReportCollector({ store: f.store });
});

test.after(async () => {
  await collector.stop();
  await mx.close();
  await dns.close();
  await f.close();
});

test('a zipped DMARC report to postmaster is listed with its summary; the mail itself is delivered', async () => {
  await send('postmaster@example.test', dmarcZipMail('postmaster@example.test', dmarcXml()));
  assert.is((await messagesIn(f.store, 'postmaster@example.test')).length, 1);
  const r = await f.call('GET', '/reports/dmarc');
  assert.is(r.status, 200, r.text);
  assert.is(r.body.data.length, 1);
  const report = r.body.data[0];
  assert.match(report.id, /^rpt_/);
  assert.is(report.domain, 'example.test');
  assert.is(report.reporter, 'google.com');
  assert.is(report.report_id, '5717107811868587391');
  assert.equal(report.period, { begin: '2024-01-31T00:00:00.000Z', end: '2024-01-31T23:59:59.000Z' });
  assert.equal(report.policy, { p: 'quarantine', sp: 'quarantine', pct: 100, adkim: 'r', aspf: 'r' });
  assert.equal(report.counts, { messages: 17, passed: 14, failed: 3, dkim_pass: 12, spf_pass: 14 });
  assert.is(report.sources[1].source_ip, '198.51.100.7');
  assert.is(report.sources[1].disposition, 'quarantine');
});

test('the same report again (another address, gzip this time) is kept once; a new report id is a new entry', async () => {
  await send('ann@example.test', dmarcGzipMail('ann@example.test', dmarcXml()));
  assert.is((await f.call('GET', '/reports/dmarc')).body.data.length, 1);
  await send(
    'postmaster@example.test',
    dmarcZipMail('postmaster@example.test', dmarcXml({ reportId: 'r-2', org: 'Yahoo' }), true),
  );
  const list = (await f.call('GET', '/reports/dmarc')).body.data;
  assert.equal(
    list.map((x: { reporter: string }) => x.reporter),
    ['Yahoo', 'google.com'],
    'newest first',
  );
});

test('a TLS-RPT report (multipart/report, application/tlsrpt+gzip) is listed under /reports/tls', async () => {
  await send(
    'postmaster@example.test',
    tlsRptMail('postmaster@example.test', tlsRptJson({ domain: 'example.test' }), 'example.test'),
  );
  const r = await f.call('GET', '/reports/tls');
  assert.is(r.status, 200, r.text);
  assert.is(r.body.data.length, 1);
  const report = r.body.data[0];
  assert.is(report.domain, 'example.test');
  assert.is(report.reporter, 'Company-X');
  assert.equal(report.counts, { success: 5326, failure: 303 });
  assert.equal(report.policies[0].failures, {
    'certificate-expired': 100,
    'starttls-not-supported': 200,
    'validation-failure': 3,
  });
  assert.is((await f.call('GET', '/reports/dmarc')).body.data.length, 2, 'kinds are listed apart');
});

test('team scoping: a report about another team’s domain sent here is ignored; each team sees its own', async () => {
  await send(
    'postmaster@example.test',
    dmarcZipMail('postmaster@example.test', dmarcXml({ domain: 'other.test', reportId: 'cross' })),
  );
  assert.is((await f.call('GET', '/reports/dmarc')).body.data.length, 2);
  assert.equal((await f.call('GET', '/reports/dmarc', { key: other.key })).body.data, []);
  await send(
    'postmaster@other.test',
    dmarcGzipMail('postmaster@other.test', dmarcXml({ domain: 'other.test', reportId: 'b-1' })),
  );
  const b = (await f.call('GET', '/reports/dmarc', { key: other.key })).body.data;
  assert.equal(
    b.map((x: { domain: string }) => x.domain),
    ['other.test'],
  );
  assert.is((await f.call('GET', '/reports/dmarc')).body.data.length, 2);
});

test('domain filter, pagination, permission', async () => {
  assert.is((await f.call('GET', '/reports/dmarc?domain=other.test')).body.data.length, 0);
  assert.is((await f.call('GET', '/reports/dmarc?domain=EXAMPLE.test')).body.data.length, 2);
  const first = await f.call('GET', '/reports/dmarc?limit=1');
  assert.is(first.body.data.length, 1);
  assert.ok(first.body.pagination.has_more);
  const second = await f.call('GET', `/reports/dmarc?limit=1&cursor=${first.body.pagination.next_cursor}`);
  assert.is.not(second.body.data[0].id, first.body.data[0].id);
  assert.is((await f.call('GET', '/reports/tls', { key: await f.makeKey(['domain.read']) })).status, 403);
  assert.is((await f.call('GET', '/reports/tls', { key: await f.makeKey(['reports.read']) })).status, 200);
});

test('ordinary mail and broken report attachments are delivered and stored as mail only', async () => {
  const before = (await messagesIn(f.store, 'ann@example.test')).length;
  await send(
    'ann@example.test',
    reportMail({
      from: 'x@reporter.example',
      to: 'ann@example.test',
      subject: 'not a report',
      type: 'application/gzip',
      filename: 'r.xml.gz',
      content: Buffer.from([0x1f, 0x8b, 8, 0, 1, 2]),
    }),
  );
  await send(
    'ann@example.test',
    reportMail({
      from: 'x@reporter.example',
      to: 'ann@example.test',
      subject: 'photo',
      type: 'image/jpeg',
      filename: 'p.jpg',
      content: Buffer.from('jpeg'),
    }),
  );
  assert.is((await messagesIn(f.store, 'ann@example.test')).length, before + 2);
  assert.is((await f.call('GET', '/reports/dmarc')).body.data.length, 2);
});

test.run();
