// Search fields: what SEARCH, SORT and THREAD need, decoded once at delivery.
import { parseDateZone } from './date.ts';
import { firstField, type HeaderField } from './headers.ts';
import { addressText, extractText, listAttachments, safeDecodeWords } from './search-text.ts';
import type { Envelope, MimeNode, SearchFields } from './types.ts';

const MAX_REFERENCES = 1000;

/** msg-ids in a header value, with their angle brackets; a bare id@host alone is taken as one. */
export function messageIds(value: string | null): string[] {
  if (!value) return [];
  const ids: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) {
    const id = m[1]!.replace(/\s+/g, '');
    if (id) ids.push(`<${id}>`);
    if (ids.length >= MAX_REFERENCES) break;
  }
  if (ids.length === 0) {
    const bare = value.trim();
    if (/^[^\s<>]+@[^\s<>]+$/.test(bare)) ids.push(`<${bare}>`);
  }
  return ids;
}

export const HEADER_TEXT_MAX = 64 * 1024;

/** Every field as a lower-cased "name: decoded value" line, at most HEADER_TEXT_MAX characters. */
export function headerSearchText(fields: HeaderField[]): string {
  return fields
    .map((f) => `${f.name}: ${safeDecodeWords(f.value)}`)
    .join('\n')
    .toLowerCase()
    .slice(0, HEADER_TEXT_MAX);
}

export function buildSearchFields(buf: Buffer, fields: HeaderField[], root: MimeNode, env: Envelope): SearchFields {
  const date = parseDateZone(env.date);
  return {
    from: addressText(env.from).toLowerCase(),
    to: addressText(env.to).toLowerCase(),
    cc: addressText(env.cc).toLowerCase(),
    bcc: addressText(env.bcc).toLowerCase(),
    subject: safeDecodeWords(env.subject),
    date: date?.time ?? null,
    dateOffset: date?.offset ?? 0,
    messageId: messageIds(env.messageId)[0] ?? null,
    inReplyTo: messageIds(env.inReplyTo)[0] ?? null,
    references: messageIds(firstField(fields, 'references')),
    text: extractText(buf, root),
    headers: headerSearchText(fields),
    attachments: listAttachments(buf, root),
  };
}
