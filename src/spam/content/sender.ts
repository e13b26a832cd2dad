// The sender: a brand in the From name, from an address outside it.
import { safeDecodeWords } from '../../mime/search-text.ts';
import { BRANDS } from './brands.ts';
import type { Hits, Message } from './context.ts';

/** A brand in the From name from an address outside it. */
export function senderFeatures({ index, fromDomain }: Message, hits: Hits): void {
  const name = safeDecodeWords(index.envelope.from?.[0]?.name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  const brand = BRANDS.find((b) => name.includes(b) && (b.length >= 5 || name === b));
  if (brand && !fromDomain.replace(/[^a-z0-9]/g, '').includes(brand)) hits.add('FROM_BRAND_MISMATCH');
}
