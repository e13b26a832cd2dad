// Message flags as the store keeps them. Flag names are case-insensitive (RFC 3501 2.3.2 and 9,
// "alphabetic characters are case-insensitive"): a system flag is always stored in its RFC spelling,
// so `\deleted` from a client is the same \Deleted that EXPUNGE, STATUS UNSEEN and SEARCH look for;
// a keyword keeps the first spelling given and is matched without regard to case.

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

const BY_LOWER = new Map<string, string>([...SYSTEM_FLAGS, '\\Recent'].map((f) => [f.toLowerCase(), f]));

/** The stored spelling of a flag: system flags (and \Recent) in their RFC case, keywords as given. */
export const canonicalFlag = (flag: string): string => BY_LOWER.get(flag.toLowerCase()) ?? flag;

/** Canonical flags without duplicates (compared case-insensitively); the first spelling of a keyword is kept. */
export function uniqueFlags(flags: Iterable<string>): string[] {
  const seen = new Map<string, string>();
  for (const flag of flags) {
    const canonical = canonicalFlag(flag);
    if (!seen.has(canonical.toLowerCase())) seen.set(canonical.toLowerCase(), canonical);
  }
  return [...seen.values()];
}

/** Whether `flags` holds `flag`, compared case-insensitively. */
export const hasFlag = (flags: readonly string[], flag: string): boolean =>
  flags.some((f) => f.toLowerCase() === flag.toLowerCase());
