// The ids the outside world sees (docs/API.md §2): the store id with a type prefix, and a domain's id
// derived from its name. They live below the API because events and webhooks name records by them too.
import { createHash } from 'node:crypto';

/** Public ids are the store id with a type prefix (docs/API.md §2): `mbx_01h…`. */
export const publicId = (prefix: string, id: string): string => `${prefix}_${id}`;

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';
const domainIds = new Map<string, string>();

/**
 * Domains are stored by name; their public id is derived from it (130 bits of SHA-256 in the same
 * 26-character alphabet as other ids), so it is stable and needs no index.
 */
export function domainPublicId(name: string): string {
  let id = domainIds.get(name);
  if (!id) {
    const digest = createHash('sha256').update(`domain:${name}`).digest();
    id = '';
    for (let bit = 0; bit < 130; bit += 5) {
      const byte = bit >> 3;
      const word = (digest[byte]! << 8) | digest[byte + 1]!;
      id += CROCKFORD[(word >> (11 - (bit & 7))) & 31];
    }
    id = `dom_${id}`;
    if (domainIds.size > 100_000) domainIds.clear();
    domainIds.set(name, id);
  }
  return id;
}
