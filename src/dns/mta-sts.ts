// The MTA-STS policy text (RFC 8461 §3.2) and its id: what src/http/mta-sts.ts serves at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, and what the `_mta-sts` TXT record (§3.1) names.
import { createHash } from 'node:crypto';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export type MtaStsMode = 'enforce' | 'testing' | 'none';

/** One week: long enough to matter, short enough to change course. */
export const DEFAULT_MAX_AGE = CONFIG_DEFAULTS.mta_sts.max_age_seconds;

export function policyText(mode: MtaStsMode, hostname: string, maxAgeSeconds: number): string {
  return `version: STSv1\r\nmode: ${mode}\r\nmx: ${hostname.toLowerCase()}\r\nmax_age: ${maxAgeSeconds}\r\n`;
}

/** The `id=` of the `_mta-sts` TXT record: changes whenever the policy text does. */
export const policyId = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 20);
