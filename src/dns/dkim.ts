// DKIM keys for hosted domains: generated here, the private half kept in the store for signing,
// the public half published as `<selector>._domainkey.<domain>` TXT.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { DkimKey } from '../store/index.ts';

const generate = promisify(generateKeyPair);

export type DkimAlgorithm = DkimKey['algorithm'];

/** ed25519 SPKI DER is a fixed 12-byte header then the 32-byte key; DNS wants the raw key (RFC 8463). */
const ED25519_SPKI_HEADER = 12;

export async function generateDkimKey(algorithm: DkimAlgorithm, selector: string, now = Date.now()): Promise<DkimKey> {
  const pair =
    algorithm === 'rsa-sha256'
      ? await generate('rsa', {
          modulusLength: 2048,
          publicKeyEncoding: { type: 'spki', format: 'der' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        })
      : await generate('ed25519', {
          publicKeyEncoding: { type: 'spki', format: 'der' },
          privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        });
  const der = pair.publicKey as Buffer;
  const publicKey = (algorithm === 'rsa-sha256' ? der : der.subarray(ED25519_SPKI_HEADER)).toString('base64');
  return { selector, algorithm, privateKey: pair.privateKey as string, publicKey, createdAt: now, active: false };
}

/** `wm202608r7k2q`: year and month (to tell generations apart), r/e for the algorithm, 4 random characters. */
export function newSelector(algorithm: DkimAlgorithm, now = Date.now()): string {
  const month = new Date(now).toISOString().slice(0, 7).replace('-', '');
  const random = [...randomBytes(4)].map((b) => '0123456789abcdefghjkmnpqrstvwxyz'[b % 32]).join('');
  return `wm${month}${algorithm === 'rsa-sha256' ? 'r' : 'e'}${random}`;
}

/** The TXT value: `v=DKIM1; k=rsa; p=…`. */
export const dkimRecordValue = (key: Pick<DkimKey, 'algorithm' | 'publicKey'>): string =>
  `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${key.publicKey}`;

export type DkimStatus = 'active' | 'pending' | 'retiring';

/**
 * Active keys sign. An inactive key newer than every active key of its algorithm is a rotation waiting
 * for its DNS record (pending); an older one is being retired.
 */
export function dkimStatus(key: DkimKey, all: DkimKey[]): DkimStatus {
  if (key.active) return 'active';
  const newestActive = Math.max(
    -1,
    ...all.filter((k) => k.active && k.algorithm === key.algorithm).map((k) => k.createdAt),
  );
  return key.createdAt > newestActive ? 'pending' : 'retiring';
}
