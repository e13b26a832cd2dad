import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Day number modulo 1024 in two base32 characters, as the SRS timestamp. */
const timestamp = (now: number): string => {
  const day = Math.floor(now / 86_400_000) % 1024;
  return BASE32[day >> 5]! + BASE32[day & 31]!;
};

/**
 * Sender Rewriting Scheme (SRS0) for forwarded mail: the envelope sender becomes an address of the
 * forwarding domain, so the destination's SPF check passes for us instead of failing for the
 * original sender. The hash stops others from using the rewritten form to relay through us.
 */
export function srsRewrite(sender: string, forwardingDomain: string, secret: string, now = Date.now()): string {
  if (!sender) return sender; // the null sender stays null: bounces never get bounces
  const at = sender.lastIndexOf('@');
  if (at < 0) return sender;
  const local = sender.slice(0, at);
  const domain = sender.slice(at + 1);
  const tt = timestamp(now);
  return `SRS0=${srsHash(secret, tt, domain, local)}=${tt}=${domain}=${local}@${forwardingDomain}`;
}

const srsHash = (secret: string, tt: string, domain: string, local: string): string =>
  createHmac('sha256', secret).update(`${tt}${domain}${local}`.toLowerCase()).digest('base64').replace(/[+/=]/g, '').slice(0, 4);

/** SRS addresses stay valid this many days (enough for the slowest bounce). */
const SRS_MAX_AGE_DAYS = 21;

/**
 * The original sender behind an SRS0 local part we made, so a bounce to a forwarded message reaches
 * them; null when the hash is wrong or the address is too old (then it is refused: no backscatter).
 */
export function srsReverse(localPart: string, secret: string, now = Date.now()): string | null {
  const match = /^SRS0=([^=]{4})=([A-Z2-7]{2})=([^=]+)=(.+)$/i.exec(localPart);
  if (!match) return null;
  const [, hash, tt, domain, local] = match as unknown as [string, string, string, string, string];
  // Mail systems may case-fold local parts, so the hash is compared without case (as other SRS implementations do).
  if (hash.toLowerCase() !== srsHash(secret, tt.toUpperCase(), domain, local).toLowerCase()) return null;
  const day = BASE32.indexOf(tt[0]!.toUpperCase()) * 32 + BASE32.indexOf(tt[1]!.toUpperCase());
  const today = Math.floor(now / 86_400_000) % 1024;
  if ((today - day + 1024) % 1024 > SRS_MAX_AGE_DAYS) return null;
  return `${local}@${domain}`;
}
