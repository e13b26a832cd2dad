import { z } from 'zod';
import { ApiError } from '../errors.ts';

/** `?limit=1..100&cursor=…` on every list. */
export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(100).default(25).describe('page size (1–100)'),
  cursor: z.string().max(200).optional().describe('next_cursor of the previous page'),
};

export interface Page<T> {
  items: T[];
  pagination: { has_more: boolean; next_cursor?: string };
}

interface Position {
  t: number;
  id: string;
}

const encode = (position: Position): string => Buffer.from(JSON.stringify(position)).toString('base64url');

function decode(cursor: string): Position {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Position;
    if (typeof value.t === 'number' && typeof value.id === 'string') return value;
  } catch {
    // falls through to the error below
  }
  throw new ApiError('invalid_parameter', 'cursor is not one this API returned', 'cursor');
}

/**
 * Newest first (created_at, then id, both descending); the opaque cursor is the last item's position,
 * so a page stays correct when items before it are added or removed.
 */
export function paginate<T>(
  items: T[],
  position: (item: T) => Position,
  query: { limit: number; cursor?: string | undefined },
): Page<T> {
  const after = query.cursor === undefined ? undefined : decode(query.cursor);
  const before = (a: Position, b: Position) => a.t > b.t || (a.t === b.t && a.id > b.id);
  const sorted = items
    .map((item) => ({ item, at: position(item) }))
    .filter(({ at }) => !after || before(after, at))
    .sort((x, y) => (before(x.at, y.at) ? -1 : before(y.at, x.at) ? 1 : 0));
  const page = sorted.slice(0, query.limit);
  const hasMore = sorted.length > query.limit;
  return {
    items: page.map((p) => p.item),
    pagination: hasMore ? { has_more: true, next_cursor: encode(page[page.length - 1]!.at) } : { has_more: false },
  };
}
