// Building blocks shared by the resources' schemas: request fields validate strictly (unknown fields
// are rejected by .strict() objects), reply fields document what the API returns.
import { domainToASCII } from 'node:url';
import { z } from 'zod';

export const timestamp = z.iso.datetime().describe('RFC 3339, UTC');
export const iso = (ms: number): string => new Date(ms).toISOString();
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
