import { ApiError } from './errors.ts';

const patterns = new Map<string, RegExp>();

/** The store id inside a public id of type `prefix` (src/store/public-ids.ts), else 404 naming `param`. */
export function parsePublicId(prefix: string, value: string, param = 'id'): string {
  let pattern = patterns.get(prefix);
  // Compiled once per prefix: this runs on every request that names a resource.
  if (!pattern) patterns.set(prefix, (pattern = new RegExp(`^${prefix}_([0-9a-hjkmnp-tv-z]{26})$`)));
  const match = pattern.exec(value);
  if (!match) throw new ApiError('not_found', `no ${prefix} with id ${JSON.stringify(value.slice(0, 64))}`, param);
  return match[1]!;
}
