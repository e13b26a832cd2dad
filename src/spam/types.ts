// The classifier's plug-in interface: each scorer looks at a message and names the rules it hit.
// The header/auth rules are one scorer; the Bayesian classifier, DNSBLs and rspamd are others.
import type { AuthVerdict } from '../dns/auth-verdict.ts';
import type { ParsedHeaders } from '../mime/parsed-headers.ts';

export interface SpamInput {
  raw: Buffer;
  headers: ParsedHeaders;
  auth: AuthVerdict;
  mailFrom: string;
  /** The From domain is one we host (so mail claiming it should authenticate). */
  fromHosted: boolean;
  /** Account ids the message is for (per-user models can use them). */
  accountIds: string[];
  /** The connecting client's address (DNSBL lookups); absent for mail we did not receive over SMTP. */
  clientIp?: string;
  /** The SMTP envelope beyond MAIL FROM, for scanners that take it (rspamd); absent for API dry runs. */
  envelope?: { rcptTo: string[]; helo?: string; hostname?: string | null; user?: string; queueId?: string };
}

export interface SpamHit {
  rule: string; // upper-case, SpamAssassin style: SPF_FAIL
  score: number;
  /** Points instead of `score` when the other hits add none: a verdict that is not sure on its own says less (Bayes). */
  scoreAlone?: number;
  /** Rules whose points are this hit's own evidence again, so do not count as corroborating it (for `scoreAlone`). */
  notCorroboratedBy?: string[];
  description: string;
}

export interface SpamScorer {
  readonly name: string;
  score(input: SpamInput): SpamHit[] | Promise<SpamHit[]>;
}
