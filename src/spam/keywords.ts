// The keywords junk is delivered with, which mail programs show (RFC 5788's registry of IMAP keywords).
import { FEATURES } from './content/features.ts';
import { RULES } from './rules.ts';
import type { SpamHit } from './types.ts';

/** RFC 5788 §2: junk, set by the user or a filter. */
export const JUNK_KEYWORD = '$Junk';

/**
 * RFC 9051 §2.3.2: set by the delivery agent on mail highly likely to be phishing, which is junk too;
 * mail programs that know it warn before the user follows a link or replies.
 */
export const PHISHING_KEYWORD = '$Phishing';

const PHISHING_RULES = new Set([
  ...Object.entries(FEATURES)
    .filter(([, feature]) => 'phishing' in feature)
    .map(([rule]) => rule),
  ...RULES.filter((r) => r.phishing).map((r) => r.rule),
]);

/** The keywords mail sent to Junk is delivered with: $Junk, and $Phishing when a sign of phishing counted. */
export function junkKeywords(hits: readonly SpamHit[]): string[] {
  return hits.some((h) => h.score > 0 && PHISHING_RULES.has(h.rule))
    ? [JUNK_KEYWORD, PHISHING_KEYWORD]
    : [JUNK_KEYWORD];
}
