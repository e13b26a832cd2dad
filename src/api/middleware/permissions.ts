import { hasPermission } from '../../security/permissions.ts';
import type { ApiKey } from '../../store/index.ts';
import { ApiError } from '../errors.ts';

export function assertPermission(key: ApiKey, permission: string): void {
  if (!hasPermission(key.permissions, permission)) {
    throw new ApiError('insufficient_permissions', `this key lacks the ${permission} permission`);
  }
}

/**
 * May a key holding `granted` hand out `pattern` to a new key? Only what it holds itself: a wildcard
 * needs the same or a wider wildcard, so no key can mint one more powerful than itself.
 */
export function grantsCover(granted: string[], pattern: string): boolean {
  if (granted.includes('*') || granted.includes(pattern)) return true;
  if (pattern === '*') return false;
  if (pattern.startsWith('*.')) return false;
  if (pattern.endsWith('.*')) return granted.some((g) => g.endsWith('.*') && pattern.startsWith(g.slice(0, -1)));
  return hasPermission(granted, pattern);
}

/** 403 unless `caller` may hand out every one of `permissions` to a new key: no key mints one more powerful than itself. */
export function assertGrantable(caller: ApiKey, permissions: string[]): void {
  const beyond = permissions.find((p) => !grantsCover(caller.permissions, p));
  if (beyond)
    throw new ApiError(
      'insufficient_permissions',
      `a key cannot grant ${beyond}, which it does not hold itself`,
      'permissions',
    );
}
