import type { Context, Next } from 'koa';
import { hasPermission } from '../../security/permissions.ts';
import { ApiError } from '../errors.ts';

export function requirePermission(permission: string) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!hasPermission(ctx.state.apiKey.permissions, permission)) {
      throw new ApiError('insufficient_permissions', `this key lacks the ${permission} permission`);
    }
    await next();
  };
}
