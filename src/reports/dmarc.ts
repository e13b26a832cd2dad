// DMARC aggregate reports (RFC 7489 §7.2 and Appendix C): the summary we keep of one <feedback>.
import type { DmarcRecordSummary, DmarcReport } from '../store/reports.ts';
import { child, children, parseXml, textAt } from './xml.ts';

const MAX_ROWS = 200;

const seconds = (s: string): number => {
  const n = Number(s);
  if (!Number.isFinite(n) || n < 0) throw new Error(`bad date_range value "${s}"`);
  return n * 1000;
};

export function parseDmarcReport(xml: string): DmarcReport {
  const feedback = parseXml(xml);
  if (feedback.name !== 'feedback') throw new Error('not a DMARC aggregate report (no <feedback>)');
  const meta = child(feedback, 'report_metadata');
  const published = child(feedback, 'policy_published');
  const domain = textAt(published, 'domain').toLowerCase().replace(/\.$/, '');
  const reporter = textAt(meta, 'org_name');
  const reportId = textAt(meta, 'report_id');
  if (!domain || !reporter || !reportId) throw new Error('DMARC report lacks domain, org_name or report_id');
  const counts = { messages: 0, passed: 0, failed: 0, dkimPass: 0, spfPass: 0 };
  const records: DmarcRecordSummary[] = [];
  for (const record of children(feedback, 'record')) {
    const row = child(record, 'row');
    const evaluated = child(row, 'policy_evaluated');
    const count = Math.max(0, Math.trunc(Number(textAt(row, 'count')) || 0));
    const dkim = textAt(evaluated, 'dkim').toLowerCase();
    const spf = textAt(evaluated, 'spf').toLowerCase();
    counts.messages += count;
    if (dkim === 'pass') counts.dkimPass += count;
    if (spf === 'pass') counts.spfPass += count;
    if (dkim === 'pass' || spf === 'pass') counts.passed += count;
    else counts.failed += count;
    records.push({
      sourceIp: textAt(row, 'source_ip'),
      count,
      disposition: textAt(evaluated, 'disposition').toLowerCase(),
      dkim,
      spf,
      headerFrom: textAt(record, 'identifiers', 'header_from').toLowerCase(),
    });
  }
  records.sort((a, b) => b.count - a.count);
  return {
    kind: 'dmarc',
    reporter,
    reporterEmail: textAt(meta, 'email'),
    reportId,
    domain,
    period: { begin: seconds(textAt(meta, 'date_range', 'begin')), end: seconds(textAt(meta, 'date_range', 'end')) },
    policy: {
      p: textAt(published, 'p').toLowerCase(),
      sp: textAt(published, 'sp').toLowerCase(),
      pct: Number(textAt(published, 'pct') || 100),
      adkim: textAt(published, 'adkim').toLowerCase() || 'r',
      aspf: textAt(published, 'aspf').toLowerCase() || 'r',
    },
    counts,
    records: records.slice(0, MAX_ROWS),
  };
}
