// Report parsing: DMARC aggregate XML (plain, gzip, zip with and without a data descriptor, the
// DMARCbis namespace), TLS-RPT JSON (RFC 8460's own example), and what is refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gzipSync } from 'node:zlib';
import { parseDmarcReport } from '../../src/reports/dmarc.ts';
import { extractReports } from '../../src/reports/extract.ts';
import { parseTlsReport } from '../../src/reports/tls-rpt.ts';
import { unpack, unzipFirst } from '../../src/reports/unpack.ts';
import { parseXml, textAt } from '../../src/reports/xml.ts';
import {
  dmarcGzipMail,
  dmarcXml,
  dmarcZipMail,
  reportMail,
  tlsRptJson,
  tlsRptMail,
  zipOf,
} from '../helpers/reports.ts';

test('DMARC: reporter, domain, period, policy and pass/fail counts', () => {
  const r = parseDmarcReport(dmarcXml());
  assert.is(r.reporter, 'google.com');
  assert.is(r.reporterEmail, 'noreply-dmarc-support@google.com');
  assert.is(r.reportId, '5717107811868587391');
  assert.is(r.domain, 'example.test');
  assert.equal(r.period, { begin: 1706659200_000, end: 1706745599_000 });
  assert.equal(r.policy, { p: 'quarantine', sp: 'quarantine', pct: 100, adkim: 'r', aspf: 'r' });
  assert.equal(r.counts, { messages: 17, passed: 14, failed: 3, dkimPass: 12, spfPass: 14 });
  assert.equal(
    r.records.map((x) => [x.sourceIp, x.count, x.disposition]),
    [
      ['203.0.113.5', 12, 'none'],
      ['198.51.100.7', 3, 'quarantine'],
      ['192.0.2.44', 2, 'none'],
    ],
  );
});

test('DMARC: the DMARCbis namespace, comments, CDATA and entities', () => {
  assert.is(parseDmarcReport(dmarcXml({ namespace: true })).counts.messages, 17);
  const xml = dmarcXml({ org: 'A &amp; B <![CDATA[Mail]]>' }).replace(
    '<report_metadata>',
    '<!-- generated --><report_metadata>',
  );
  assert.is(parseDmarcReport(xml).reporter, 'A & B Mail');
});

test('DMARC: not a report, or malformed, throws', () => {
  assert.throws(() => parseDmarcReport('<html><body/></html>'), /not a DMARC/);
  assert.throws(() => parseDmarcReport(dmarcXml().replace('</feedback>', '')), /unclosed/);
  assert.throws(
    () => parseDmarcReport(dmarcXml().replace('<report_id>5717107811868587391</report_id>', '')),
    /report_id/,
  );
  assert.throws(() => parseXml('<a><b></a></b>'), /unexpected/);
  assert.throws(() => parseXml('<a/><b/>'), /one document element/);
  assert.is(textAt(parseXml('<a><b> x &#x41;&#66; </b></a>'), 'b'), 'x AB');
});

test('TLS-RPT: the RFC 8460 example', () => {
  const r = parseTlsReport(tlsRptJson());
  assert.is(r.reporter, 'Company-X');
  assert.is(r.reporterContact, 'sts-reporting@company-x.example');
  assert.is(r.reportId, '5065427c-23d3-47ca-b6e0-946ea0e8c4be');
  assert.is(r.domain, 'company-y.example');
  assert.equal(r.period, { begin: Date.parse('2016-04-01T00:00:00Z'), end: Date.parse('2016-04-01T23:59:59Z') });
  assert.equal(r.counts, { success: 5326, failure: 303 });
  assert.is(r.policies[0]!.policyType, 'sts');
  assert.equal(r.policies[0]!.mxHosts, ['*.mail.company-y.example']);
  assert.equal(r.policies[0]!.failures, {
    'certificate-expired': 100,
    'starttls-not-supported': 200,
    'validation-failure': 3,
  });
});

test('TLS-RPT: missing fields and bad dates throw', () => {
  const report = JSON.parse(tlsRptJson());
  assert.throws(() => parseTlsReport(JSON.stringify({ ...report, 'report-id': undefined })), /report-id/);
  assert.throws(
    () =>
      parseTlsReport(
        JSON.stringify({ ...report, 'date-range': { 'start-datetime': 'yesterday', 'end-datetime': 'today' } }),
      ),
    /RFC 3339/,
  );
  assert.throws(() => parseTlsReport('{'));
});

test('unpack: gzip, zip (Python zipfile, seekable and streamed), stored zip, plain; bombs refused', () => {
  const xml = dmarcXml();
  assert.is(unpack(gzipSync(xml)).toString(), xml);
  for (const streamed of [false, true]) {
    const { name, data } = unzipFirst(zipOf('r.xml', xml, streamed));
    assert.is(name, 'r.xml');
    assert.is(data.toString(), xml);
  }
  assert.is(unpack(Buffer.from(xml)).toString(), xml);
  const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024));
  assert.throws(() => unpack(bomb, 1024 * 1024));
  assert.throws(() => unpack(zipOf('big.xml', 'x'.repeat(2 * 1024 * 1024)), 1024 * 1024), /too large/);
  assert.throws(() => unzipFirst(Buffer.from('PK\x03\x04 not really a zip')), /zip/);
});

test('extractReports: zip and gzip DMARC mails, a TLS-RPT mail, and a broken attachment', async () => {
  const zip = await extractReports(dmarcZipMail('postmaster@example.test', dmarcXml()));
  assert.equal(zip.errors, []);
  assert.is(zip.reports.length, 1);
  assert.is(zip.reports[0]!.kind, 'dmarc');
  const gz = await extractReports(dmarcGzipMail('postmaster@example.test', dmarcXml()));
  assert.is(gz.reports[0]!.kind, 'dmarc');
  const tls = await extractReports(tlsRptMail('postmaster@example.test', tlsRptJson(), 'company-y.example'));
  assert.is(tls.reports[0]!.kind, 'tls');
  assert.is(tls.reports[0]!.domain, 'company-y.example');
  const broken = await extractReports(
    reportMail({
      from: 'a@b.example',
      to: 'c@d.example',
      subject: 'x',
      type: 'application/gzip',
      filename: 'r.xml.gz',
      content: Buffer.from([0x1f, 0x8b, 1, 2, 3]),
    }),
  );
  assert.equal(broken.reports, []);
  assert.is(broken.errors.length, 1);
  const image = await extractReports(
    reportMail({
      from: 'a@b.example',
      to: 'c@d.example',
      subject: 'x',
      type: 'image/png',
      filename: 'a.png',
      content: Buffer.from('png'),
    }),
  );
  assert.equal(image, { reports: [], errors: [] });
});

test.run();
