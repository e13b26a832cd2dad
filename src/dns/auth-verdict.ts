// What sender authentication concluded about a message (SPF, DKIM, DMARC, ARC, BIMI: policies the
// sender publishes in DNS): produced by inbound/authenticate.ts, read by spam scoring and the API.

export type AuthResult =
  | 'pass'
  | 'fail'
  | 'softfail'
  | 'neutral'
  | 'none'
  | 'temperror'
  | 'permerror'
  | 'policy'
  | 'skipped';
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface AuthVerdict {
  spf: { result: AuthResult; domain: string | null };
  /** One entry per DKIM-Signature; empty when the message is unsigned. */
  dkim: { result: AuthResult; domain: string; selector: string | null; aligned: boolean; comment: string | null }[];
  dmarc: { result: AuthResult; domain: string | null; policy: DmarcPolicy | null };
  arc: AuthResult;
  bimi: AuthResult;
  /** What DMARC asks of this message: reject, quarantine (Junk) or nothing. pct is honoured. */
  action: DmarcPolicy;
}

/** The verdict of a message that came without an SMTP session (API dry runs, training): nothing checked. */
export const UNAUTHENTICATED: AuthVerdict = {
  spf: { result: 'none', domain: null },
  dkim: [],
  dmarc: { result: 'none', domain: null, policy: null },
  arc: 'none',
  bimi: 'none',
  action: 'none',
};
