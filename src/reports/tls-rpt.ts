// SMTP TLS reports (RFC 8460 §4): the summary we keep of one JSON report.
import type { TlsPolicySummary, TlsReport } from '../store/reports.ts';

const MAX_POLICIES = 100;

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.trunc(v) : 0);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function time(v: unknown, field: string): number {
  const t = Date.parse(str(v));
  if (Number.isNaN(t)) throw new Error(`TLS report ${field} is not an RFC 3339 date`);
  return t;
}

export function parseTlsReport(json: string): TlsReport {
  const report = obj(JSON.parse(json));
  const range = obj(report['date-range']);
  const reporter = str(report['organization-name']);
  const reportId = str(report['report-id']);
  const policies: TlsPolicySummary[] = list(report.policies).map((entry) => {
    const policy = obj(obj(entry).policy);
    const summary = obj(obj(entry).summary);
    const failures: Record<string, number> = {};
    for (const detail of list(obj(entry)['failure-details'])) {
      const type = str(obj(detail)['result-type']) || 'unknown';
      failures[type] = (failures[type] ?? 0) + num(obj(detail)['failed-session-count']);
    }
    return {
      policyType: str(policy['policy-type']),
      policyDomain: str(policy['policy-domain']).toLowerCase().replace(/\.$/, ''),
      policyString: list(policy['policy-string']).map(str),
      mxHosts: list(policy['mx-host']).map(str),
      success: num(summary['total-successful-session-count']),
      failure: num(summary['total-failure-session-count']),
      failures,
    };
  });
  const domain = policies.find((p) => p.policyDomain)?.policyDomain ?? '';
  if (!reporter || !reportId || !domain)
    throw new Error('TLS report lacks organization-name, report-id or a policy-domain');
  return {
    kind: 'tls',
    reporter,
    reporterContact: str(report['contact-info']),
    reportId,
    domain,
    period: {
      begin: time(range['start-datetime'], 'start-datetime'),
      end: time(range['end-datetime'], 'end-datetime'),
    },
    counts: {
      success: policies.reduce((n, p) => n + p.success, 0),
      failure: policies.reduce((n, p) => n + p.failure, 0),
    },
    policies: policies.slice(0, MAX_POLICIES),
  };
}
