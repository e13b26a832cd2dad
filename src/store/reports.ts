// Parsed DMARC aggregate and TLS-RPT reports, per team (the team hosting the reported domain). A
// report that arrives twice (several reporting addresses, a reporter's resend) is kept once.
import { createHash } from 'node:crypto';
import type { Kv } from './db.ts';
import { hex } from './keys.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';

/** The shapes reports/ parses reports into, kept here as stored. DMARC aggregate (RFC 7489 §7.2): */
export interface DmarcRecordSummary {
  sourceIp: string;
  count: number;
  disposition: string;
  /** DMARC-aligned results as the reporter evaluated them. */
  dkim: string;
  spf: string;
  headerFrom: string;
}

export interface DmarcReport {
  kind: 'dmarc';
  reporter: string;
  reporterEmail: string;
  reportId: string;
  /** The domain the report is about (policy_published). */
  domain: string;
  period: { begin: number; end: number };
  policy: { p: string; sp: string; pct: number; adkim: string; aspf: string };
  /** Messages counted; passed: DKIM or SPF aligned pass, failed: neither. */
  counts: { messages: number; passed: number; failed: number; dkimPass: number; spfPass: number };
  /** Per source row, the largest first (at most MAX_ROWS of reports/dmarc.ts). */
  records: DmarcRecordSummary[];
}

/** SMTP TLS report (RFC 8460 §4): */
export interface TlsPolicySummary {
  policyType: string;
  policyDomain: string;
  /** The policy text lines (MTA-STS policy / TLSA records) as reported. */
  policyString: string[];
  mxHosts: string[];
  success: number;
  failure: number;
  /** Failed sessions by result-type (certificate-expired, starttls-not-supported, …). */
  failures: Record<string, number>;
}

export interface TlsReport {
  kind: 'tls';
  reporter: string;
  reporterContact: string;
  reportId: string;
  domain: string;
  period: { begin: number; end: number };
  counts: { success: number; failure: number };
  policies: TlsPolicySummary[];
}

export type ParsedReport = DmarcReport | TlsReport;

export type ReportKind = ParsedReport['kind'];

export interface StoredReport<R extends ParsedReport = ParsedReport> {
  id: string;
  teamId: string;
  /** The mailbox it was delivered to. */
  accountId: string;
  receivedAt: number;
  report: R;
}

const key = {
  report: (id: string) => `rpt/${id}`,
  team: (kind: ReportKind, teamId: string, receivedAt: number, id: string) =>
    `rptt/${kind}/${teamId}/${hex(receivedAt, 12)}/${id}`,
  teamRange: (kind: ReportKind, teamId: string) => ({
    gt: `rptt/${kind}/${teamId}/`,
    lt: `rptt/${kind}/${teamId}/\xff`,
  }),
  // Reporter and report id name a report (RFC 7489 §7.2.1.1, RFC 8460 §4.3); the domain too, since
  // ids are only unique per reporter.
  identity: (r: ParsedReport) =>
    `rpti/${r.kind}/${createHash('sha256').update(`${r.reporter}\n${r.reportId}\n${r.domain}`).digest('hex')}`,
};

export class Reports {
  private readonly kv: Kv;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(kv: Kv) {
    this.kv = kv;
  }

  /** Stores a report unless the same one is already there; resolves to the stored one either way. */
  add(
    teamId: string,
    accountId: string,
    report: ParsedReport,
    receivedAt = Date.now(),
  ): Promise<{ stored: StoredReport; duplicate: boolean }> {
    // One add at a time, so the duplicate check and the write cannot interleave. On a shared store
    // another node may be adding the same report (mailed to two addresses, taken by two nodes): the
    // identity is expected absent, so the second commit fails and its retry finds the first.
    const result = this.writing.then(() =>
      this.kv.retrying(async () => {
        const existing = await this.kv.get<string>(key.identity(report));
        const found = existing ? await this.get(existing) : undefined;
        if (found) return { stored: found, duplicate: true };
        const stored: StoredReport = { id: newId(receivedAt), teamId, accountId, receivedAt, report };
        const tx = new Tx();
        tx.put(key.report(stored.id), stored);
        tx.put(key.team(report.kind, teamId, receivedAt, stored.id), 1);
        tx.put(key.identity(report), stored.id);
        this.kv.expectAbsent(tx, key.identity(report));
        await this.kv.commit(tx);
        return { stored, duplicate: false };
      }),
    );
    this.writing = result.catch(() => undefined);
    return result;
  }

  get(id: string): Promise<StoredReport | undefined> {
    return this.kv.get<StoredReport>(key.report(id));
  }

  /** A team's reports of one kind, oldest first. */
  async list<K extends ReportKind>(
    kind: K,
    teamId: string,
  ): Promise<StoredReport<Extract<ParsedReport, { kind: K }>>[]> {
    const ids = (await this.kv.keys(key.teamRange(kind, teamId))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    return (await this.kv.getMany<StoredReport<Extract<ParsedReport, { kind: K }>>>(ids.map(key.report))).filter(
      (r) => r !== undefined,
    );
  }
}
