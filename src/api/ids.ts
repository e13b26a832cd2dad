import { ApiError } from './errors.ts';

/** Public ids are the store id with a type prefix (API.md §B1): `mbx_01h…`. */
export const publicId = (prefix: string, id: string): string => `${prefix}_${id}`;

export function parsePublicId(prefix: string, value: string, param = 'id'): string {
  const match = new RegExp(`^${prefix}_([0-9a-hjkmnp-tv-z]{26})$`).exec(value);
  if (!match) throw new ApiError('not_found', `no ${prefix} with id ${JSON.stringify(value.slice(0, 64))}`, param);
  return match[1]!;
}
