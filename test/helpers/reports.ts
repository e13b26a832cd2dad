// DMARC aggregate (RFC 7489 §7.2, Appendix C) and TLS-RPT (RFC 8460 §4.8) report samples, and the
// mails that carry them as reporters send them (Google: zip; Microsoft and others: gzip; RFC 8460 §5.3:
// multipart/report with application/tlsrpt+gzip). Zips are made by Python's zipfile, independently of our reader.
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';

/** A DMARC aggregate report in the shape Google sends: 17 messages, 14 passing (12 DKIM, 14 SPF), 3 failing. */
export function dmarcXml(o: { domain?: string; reportId?: string; org?: string; namespace?: boolean } = {}): string {
  const row = (ip: string, count: number, disposition: string, dkim: string, spf: string) => `
  <record>
    <row>
      <source_ip>${ip}</source_ip>
      <count>${count}</count>
      <policy_evaluated>
        <disposition>${disposition}</disposition>
        <dkim>${dkim}</dkim>
        <spf>${spf}</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <header_from>${o.domain ?? 'example.test'}</header_from>
    </identifiers>
    <auth_results>
      <dkim><domain>${o.domain ?? 'example.test'}</domain><result>${dkim}</result><selector>s1</selector></dkim>
      <spf><domain>${o.domain ?? 'example.test'}</domain><result>${spf}</result></spf>
    </auth_results>
  </record>`;
  return `<?xml version="1.0" encoding="UTF-8" ?>
<feedback${o.namespace ? ' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"' : ''}>
  <report_metadata>
    <org_name>${o.org ?? 'google.com'}</org_name>
    <email>noreply-dmarc-support@google.com</email>
    <extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>
    <report_id>${o.reportId ?? '5717107811868587391'}</report_id>
    <date_range>
      <begin>1706659200</begin>
      <end>1706745599</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>${o.domain ?? 'example.test'}</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>quarantine</p>
    <sp>quarantine</sp>
    <pct>100</pct>
    <np>quarantine</np>
  </policy_published>${row('203.0.113.5', 12, 'none', 'pass', 'pass')}${row('198.51.100.7', 3, 'quarantine', 'fail', 'fail')}${row('192.0.2.44', 2, 'none', 'fail', 'pass')}
</feedback>
`;
}

/** The RFC 8460 §4.8 example report (5326 successful, 303 failed sessions), for `domain`. */
export function tlsRptJson(o: { domain?: string; reportId?: string } = {}): string {
  const domain = o.domain ?? 'company-y.example';
  return JSON.stringify(
    {
      'organization-name': 'Company-X',
      'date-range': { 'start-datetime': '2016-04-01T00:00:00Z', 'end-datetime': '2016-04-01T23:59:59Z' },
      'contact-info': 'sts-reporting@company-x.example',
      'report-id': o.reportId ?? '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
      policies: [
        {
          policy: {
            'policy-type': 'sts',
            'policy-string': ['version: STSv1', 'mode: testing', `mx: *.mail.${domain}`, 'max_age: 86400'],
            'policy-domain': domain,
            'mx-host': [`*.mail.${domain}`],
          },
          summary: { 'total-successful-session-count': 5326, 'total-failure-session-count': 303 },
          'failure-details': [
            {
              'result-type': 'certificate-expired',
              'sending-mta-ip': '2001:db8:abcd:0012::1',
              'receiving-mx-hostname': `mx1.mail.${domain}`,
              'failed-session-count': 100,
            },
            {
              'result-type': 'starttls-not-supported',
              'sending-mta-ip': '2001:db8:abcd:0013::1',
              'receiving-mx-hostname': `mx2.mail.${domain}`,
              'receiving-ip': '203.0.113.56',
              'failed-session-count': 200,
              'additional-information':
                'https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported',
            },
            {
              'result-type': 'validation-failure',
              'sending-mta-ip': '198.51.100.62',
              'receiving-ip': '203.0.113.58',
              'receiving-mx-hostname': `mx-backup.mail.${domain}`,
              'failed-session-count': 3,
              'failure-reason-code': 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
            },
          ],
        },
      ],
    },
    null,
    2,
  );
}

/** A one-file zip made by Python; `streamed` writes to a pipe, so sizes go in a data descriptor. */
export function zipOf(name: string, data: string, streamed = false): Buffer {
  const script = streamed
    ? 'import sys, zipfile\nz = zipfile.ZipFile(sys.stdout.buffer, "w", zipfile.ZIP_DEFLATED)\nwith z.open(sys.argv[1], "w") as f: f.write(sys.stdin.buffer.read())\nz.close()'
    : 'import io, sys, zipfile\nb = io.BytesIO()\nwith zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z: z.writestr(sys.argv[1], sys.stdin.buffer.read())\nsys.stdout.buffer.write(b.getvalue())';
  return execFileSync('python3', ['-c', script, name], { input: data });
}

const wrap = (b: Buffer): string => b.toString('base64').replace(/.{76}/g, '$&\r\n');

/** A report mail: one attachment as the reporter sends it. */
export function reportMail(o: {
  from: string;
  to: string;
  subject: string;
  type: string;
  filename: string;
  content: Buffer;
  tlsrpt?: { domain: string };
}): Buffer {
  const boundary = `----=_report_${Math.random().toString(36).slice(2)}`;
  const head = [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@reporter.example>`,
    'MIME-Version: 1.0',
    ...(o.tlsrpt
      ? [
          `TLS-Report-Domain: ${o.tlsrpt.domain}`,
          'TLS-Report-Submitter: Company-X',
          `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
        ]
      : [`Content-Type: multipart/mixed; boundary="${boundary}"`]),
  ];
  return Buffer.from(
    `${head.join('\r\n')}\r\n\r\n--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis is an aggregate report.\r\n` +
      `--${boundary}\r\nContent-Type: ${o.type}; name="${o.filename}"\r\nContent-Disposition: attachment; filename="${o.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${wrap(o.content)}\r\n--${boundary}--\r\n`,
  );
}

export const dmarcZipMail = (to: string, xml: string, streamed = false) =>
  reportMail({
    from: 'noreply-dmarc-support@google.com',
    to,
    subject: 'Report domain: example.test Submitter: google.com Report-ID: 5717107811868587391',
    type: 'application/zip',
    filename: 'google.com!example.test!1706659200!1706745599.zip',
    content: zipOf('google.com!example.test!1706659200!1706745599.xml', xml, streamed),
  });

export const dmarcGzipMail = (to: string, xml: string) =>
  reportMail({
    from: 'dmarcreport@microsoft.com',
    to,
    subject: '[Preview] Report Domain: example.test Submitter: enterprise.protection.outlook.com',
    type: 'application/gzip',
    filename: 'enterprise.protection.outlook.com!example.test!1706659200!1706745599.xml.gz',
    content: gzipSync(xml),
  });

export const tlsRptMail = (to: string, json: string, domain: string) =>
  reportMail({
    from: 'sts-reporting@company-x.example',
    to,
    subject: `Report Domain: ${domain} Submitter: company-x.example Report-ID: <5065427c-23d3@company-x.example>`,
    type: 'application/tlsrpt+gzip',
    filename: `company-x.example!${domain}!1470013207!1470186007!001.json.gz`,
    content: gzipSync(json),
    tlsrpt: { domain },
  });
