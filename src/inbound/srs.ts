import { createHmac, timingSafeEqual } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Day number modulo 1024 in two base32 characters, as the SRS timestamp. */
const timestamp = (now: number): string => {
  const day = Math.floor(now / 86_400_000) % 1024;
  return BASE32[day >> 5]! + BASE32[day & 31]!;
};

/**
 * Length of the SRS hash in base32 characters (5 bits each): 50 bits. A short hash is an oracle that
 * turns the SRS form into an open relay (4 case-insensitive characters fall to ~10^6 guesses), so
 * unlike postsrsd's default of 4 it is long enough that guessing is hopeless even before the MX's
 * failed-recipient throttle (src/smtp/mx.ts) cuts a guesser off.
 */
export const SRS_HASH_LENGTH = 10;

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

/** HMAC-SHA256 over timestamp + original address (as postsrsd), in upper-case base32 (mail systems may case-fold it). */
function srsHash(secret: string, tt: string, domain: string, local: string): string {
  const mac = createHmac('sha256', secret).update(`${tt}${domain}${local}`.toLowerCase()).digest();
  let out = '';
  for (let bit = 0; out.length < SRS_HASH_LENGTH; bit += 5) {
    const byte = bit >> 3;
    const word = (mac[byte]! << 8) | (mac[byte + 1] ?? 0);
    out += BASE32[(word >> (11 - (bit & 7))) & 31];
  }
  return out;
}

/** SRS addresses stay valid this many days (enough for the slowest bounce). */
const SRS_MAX_AGE_DAYS = 21;

const SRS0 = new RegExp(`^SRS0=([A-Z2-7]{${SRS_HASH_LENGTH}})=([A-Z2-7]{2})=([^=]+)=(.+)$`, 'i');

/**
 * The original sender behind an SRS0 local part we made, so a bounce to a forwarded message reaches
 * them; null when the hash is wrong or the address is too old (then it is refused: no backscatter).
 */
export function srsReverse(localPart: string, secret: string, now = Date.now()): string | null {
  const match = SRS0.exec(localPart);
  if (!match) return null;
  const [, hash, tt, domain, local] = match as unknown as [string, string, string, string, string];
  const expected = Buffer.from(srsHash(secret, tt.toUpperCase(), domain, local));
  // Compared without case (mail systems may case-fold local parts) and in constant time.
  if (!timingSafeEqual(Buffer.from(hash.toUpperCase()), expected)) return null;
  const day = BASE32.indexOf(tt[0]!.toUpperCase()) * 32 + BASE32.indexOf(tt[1]!.toUpperCase());
  const today = Math.floor(now / 86_400_000) % 1024;
  if ((today - day + 1024) % 1024 > SRS_MAX_AGE_DAYS) return null;
  return `${local}@${domain}`;
}
