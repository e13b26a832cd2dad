// Header and authentication rules with fixed scores. Thresholds (classify.ts): Junk at 5, reject at 15,
// so one failed check alone never junks a message, two do, and only a pile-up of failures is refused.
import type { SpamHit, SpamInput, SpamScorer } from './types.ts';

interface Rule {
  rule: string;
  score: number;
  description: string;
  test(input: SpamInput): boolean;
}

const dkimSigned = (i: SpamInput) => i.auth.dkim.length > 0;
const dkimPassed = (i: SpamInput) => i.auth.dkim.some((d) => d.result === 'pass');

export const RULES: readonly Rule[] = [
  { rule: 'SPF_FAIL', score: 3.5, description: 'SPF: sender host not permitted (-all)', test: (i) => i.auth.spf.result === 'fail' },
  { rule: 'SPF_SOFTFAIL', score: 1.5, description: 'SPF: sender host discouraged (~all)', test: (i) => i.auth.spf.result === 'softfail' },
  {
    rule: 'DKIM_FAIL',
    score: 3,
    description: 'DKIM: signed, but no signature verifies',
    test: (i) => dkimSigned(i) && !dkimPassed(i) && i.auth.dkim.some((d) => d.result === 'fail' || d.result === 'neutral'),
  },
  { rule: 'DMARC_FAIL', score: 3, description: 'DMARC: From domain not authenticated', test: (i) => i.auth.dmarc.result === 'fail' },
  { rule: 'MISSING_DATE', score: 1, description: 'No Date header', test: (i) => i.headers.get('date') === null },
  { rule: 'MISSING_MESSAGE_ID', score: 1, description: 'No Message-ID header', test: (i) => i.headers.get('message-id') === null },
  {
    // Someone outside claims to be one of our own domains and cannot prove it (SPF or DKIM aligned).
    rule: 'FORGED_HOSTED_FROM',
    score: 6,
    description: 'From a hosted domain without passing authentication',
    test: (i) => i.fromHosted && i.auth.dmarc.result !== 'pass' && !(i.auth.spf.result === 'pass' && spfAligned(i)) && !i.auth.dkim.some((d) => d.result === 'pass' && d.aligned),
  },
];

function spfAligned(i: SpamInput): boolean {
  const from = i.headers.from[0];
  const spfDomain = i.auth.spf.domain?.toLowerCase();
  return !!from && !!spfDomain && from.endsWith(`@${spfDomain}`);
}

export const headerRules: SpamScorer = {
  name: 'rules',
  score: (input): SpamHit[] => RULES.filter((r) => r.test(input)).map(({ rule, score, description }) => ({ rule, score, description })),
};
