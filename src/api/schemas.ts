// Building blocks shared by the resources' schemas: request fields validate strictly (unknown fields
// are rejected by .strict() objects), reply fields document what the API returns.
import { domainToASCII } from 'node:url';
import { z } from 'zod';

export const timestamp = z.iso.datetime().describe('RFC 3339, UTC');
/** Milliseconds of 10000-01-01T00:00:00Z: past it toISOString writes six-digit years. */
const YEAR_10000 = 253_402_300_800_000;
const DAY_MS = 86_400_000;
const pad2 = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()`, computed without a Date: each reply has a timestamp or more, and
 * V8's toISOString costs about four times this arithmetic. Years 1970–9999 only (whole ms), the rest
 * goes to toISOString. The date is H. Hinnant's civil_from_days (days since 1970-01-01 to y-m-d, in
 * 400-year eras of 146,097 days, the year taken to start on March 1 so the leap day is its last).
 */
export function iso(ms: number): string {
  if (!(ms >= 0 && ms < YEAR_10000) || ms % 1 !== 0) return new Date(ms).toISOString();
  const days = Math.floor(ms / DAY_MS);
  let t = ms - days * DAY_MS;
  const z = days + 719_468; // days since 0000-03-01
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const milli = t % 1000;
  t = (t - milli) / 1000;
  const sec = t % 60;
  t = (t - sec) / 60;
  const min = t % 60;
  const hour = (t - min) / 60;
  const fraction = milli < 10 ? `00${milli}` : milli < 100 ? `0${milli}` : `${milli}`;
  return `${year}-${pad2(month)}-${pad2(day)}T${pad2(hour)}:${pad2(min)}:${pad2(sec)}.${fraction}Z`;
}
export const isoOrNull = (ms: number | null): string | null => (ms === null ? null : iso(ms));

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A host name in A-label form (IDNs are converted), at least two labels, no trailing dot. */
export function isDomainName(value: string): boolean {
  return (
    value.length <= 253 &&
    value.split('.').length >= 2 &&
    value.split('.').every((label) => LABEL.test(label)) &&
    !/^[0-9.]+$/.test(value)
  );
}

export const domainName = z
  .string()
  .trim()
  .max(253)
  .transform((value) => domainToASCII(value.replace(/\.$/, '').toLowerCase()))
  .refine(isDomainName, 'expected a domain name such as example.com')
  .describe('domain name (IDNs are stored in A-label form)');

// dot-atom local parts without "/" or "\" (they never reach a file system, but paths carry them).
const LOCAL = /^[a-z0-9!#$%&'*+=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+=?^_`{|}~-]+)*$/;

export function isEmailAddress(value: string): boolean {
  const at = value.lastIndexOf('@');
  if (at < 1 || value.length > 254) return false;
  const local = value.slice(0, at);
  return local.length <= 64 && LOCAL.test(local) && isDomainName(value.slice(at + 1));
}

export const emailAddress = z
  .string()
  .trim()
  .max(254)
  .transform((value) => {
    const at = value.lastIndexOf('@');
    return at < 0 ? value : `${value.slice(0, at).toLowerCase()}@${domainToASCII(value.slice(at + 1).toLowerCase())}`;
  })
  .refine(isEmailAddress, 'expected an email address such as alice@example.com')
  .describe('email address');

export const password = z
  .string()
  .min(8)
  .max(1024)
  .refine((p) => !/[\r\n\0]/.test(p), 'must not contain CR, LF or NUL')
  .describe('8–1,024 characters');

export const deleted = z.object({ id: z.string(), deleted: z.literal(true) });
