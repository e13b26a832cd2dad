// DMARC aggregate and TLS-RPT reports received by mail (src/reports/collector.ts), per team: the
// summaries, newest first, optionally for one domain.
import { z } from 'zod';
import type { DmarcReport, TlsReport } from '../../store/reports.ts';
import { Reports, type StoredReport } from '../../store/reports.ts';
import type { ApiDeps } from '../deps.ts';
import { publicId } from '../../store/public-ids.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { domainName, iso, timestamp } from '../schemas.ts';

const tag = 'Reports';
const query = z
  .object({ ...pageQuery, domain: domainName.optional().describe('only reports about this domain') })
  .strict();

const common = {
  id: z.string(),
  domain: z.string(),
  reporter: z.string(),
  report_id: z.string(),
  mailbox_id: z.string(),
  period: z.object({ begin: timestamp, end: timestamp }),
  received_at: timestamp,
};

const dmarcSchema = z.object({
  ...common,
  reporter_email: z.string(),
  policy: z.object({ p: z.string(), sp: z.string(), pct: z.number(), adkim: z.string(), aspf: z.string() }),
  counts: z.object({
    messages: z.number().int(),
    passed: z.number().int(),
    failed: z.number().int(),
    dkim_pass: z.number().int(),
    spf_pass: z.number().int(),
  }),
  sources: z.array(
    z.object({
      source_ip: z.string(),
      count: z.number().int(),
      disposition: z.string(),
      dkim: z.string(),
      spf: z.string(),
      header_from: z.string(),
    }),
  ),
});

const tlsSchema = z.object({
  ...common,
  reporter_contact: z.string(),
  counts: z.object({ success: z.number().int(), failure: z.number().int() }),
  policies: z.array(
    z.object({
      policy_type: z.string(),
      policy_domain: z.string(),
      policy_string: z.array(z.string()),
      mx_hosts: z.array(z.string()),
      success: z.number().int(),
      failure: z.number().int(),
      failures: z.record(z.string(), z.number().int()),
    }),
  ),
});

function commonView(s: StoredReport) {
  const r = s.report;
  return {
    id: publicId('rpt', s.id),
    domain: r.domain,
    reporter: r.reporter,
    report_id: r.reportId,
    mailbox_id: publicId('mbx', s.accountId),
    period: { begin: iso(r.period.begin), end: iso(r.period.end) },
    received_at: iso(s.receivedAt),
  };
}

const dmarcView = (s: StoredReport<DmarcReport>) => ({
  ...commonView(s),
  reporter_email: s.report.reporterEmail,
  policy: s.report.policy,
  counts: {
    messages: s.report.counts.messages,
    passed: s.report.counts.passed,
    failed: s.report.counts.failed,
    dkim_pass: s.report.counts.dkimPass,
    spf_pass: s.report.counts.spfPass,
  },
  sources: s.report.records.map((r) => ({
    source_ip: r.sourceIp,
    count: r.count,
    disposition: r.disposition,
    dkim: r.dkim,
    spf: r.spf,
    header_from: r.headerFrom,
  })),
});

const tlsView = (s: StoredReport<TlsReport>) => ({
  ...commonView(s),
  reporter_contact: s.report.reporterContact,
  counts: s.report.counts,
  policies: s.report.policies.map((p) => ({
    policy_type: p.policyType,
    policy_domain: p.policyDomain,
    policy_string: p.policyString,
    mx_hosts: p.mxHosts,
    success: p.success,
    failure: p.failure,
    failures: p.failures,
  })),
});

export function reportRoutes(deps: ApiDeps): Route[] {
  const reports = new Reports(deps.store.kv);
  const page = <R extends StoredReport>(items: R[], q: z.output<typeof query>) =>
    paginate(
      items.filter((s) => !q.domain || s.report.domain === q.domain),
      (s) => ({ t: s.receivedAt, id: s.id }),
      q,
    );
  return [
    defineRoute({
      method: 'GET',
      path: '/reports/dmarc',
      summary: 'DMARC aggregate reports received about the team’s domains, newest first',
      tag,
      permission: 'reports.read',
      query,
      response: dmarcSchema,
      list: true,
      handler: async ({ key, query: q }) => {
        const p = page(await reports.list('dmarc', key.teamId), q);
        return { data: p.items.map(dmarcView), pagination: p.pagination };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/reports/tls',
      summary: 'SMTP TLS reports (TLS-RPT) received about the team’s domains, newest first',
      tag,
      permission: 'reports.read',
      query,
      response: tlsSchema,
      list: true,
      handler: async ({ key, query: q }) => {
        const p = page(await reports.list('tls', key.teamId), q);
        return { data: p.items.map(tlsView), pagination: p.pagination };
      },
    }),
  ];
}
