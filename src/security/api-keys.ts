import { createHash, hash, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyKind = 'root' | 'send' | 'mbx';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Uniform base62 characters (rejection sampling keeps every character equally likely). */
function base62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) if (byte < 248 && out.length < length) out += BASE62[byte % 62];
  }
  return out;
}

/** A new key: the secret is shown once; only its SHA-256 is stored, with its first 12 and last 4 characters for display. */
export interface MintedKey {
  secret: string;
  hash: string;
  prefix: string;
  suffix: string;
}

/** The stored forms of a secret. */
export const mintedFrom = (secret: string): MintedKey => ({
  secret,
  hash: hashApiKey(secret),
  prefix: secret.slice(0, 12),
  suffix: secret.slice(-4),
});

/** `wm_<kind>_<32 base62>` (190 bits): the kind is visible to people and to secret scanners alike. */
export function mintApiKey(kind: KeyKind): MintedKey {
  return mintedFrom(`wm_${kind}_${base62(32)}`);
}

/** One-shot hash (no Hash object): every API request with a key computes it. */
export const hashApiKey = (secret: string): string => hash('sha256', secret, 'hex');

export const looksLikeApiKey = (value: string): boolean => /^wm_(root|send|mbx)_[A-Za-z0-9]{32}$/.test(value);

/** Constant-time comparison of two strings (of possibly different lengths). */
export function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
