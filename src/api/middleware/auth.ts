import type { Context, Next } from 'koa';
import { hashApiKey, looksLikeApiKey } from '../../security/api-keys.ts';
import type { ApiKey, Store } from '../../store/index.ts';
import { ApiError } from '../errors.ts';

declare module 'koa' {
  interface DefaultState {
    apiKey: ApiKey;
  }
}

/**
 * Bearer-key authentication. The presented secret is hashed and looked up by its SHA-256, so no
 * stored secret is ever compared byte by byte (nothing for a timing attack to measure).
 */
export function authenticate(store: Store) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match || !looksLikeApiKey(match[1]!)) throw new ApiError('authentication_required', 'a valid API key is required (Authorization: Bearer wm_…)');
    const key = await store.apiKeys.bySecretHash(hashApiKey(match[1]!));
    if (!key || key.revokedAt || (key.expiresAt && key.expiresAt < Date.now())) {
      throw new ApiError('authentication_required', 'the API key is invalid, revoked or expired');
    }
    ctx.state.apiKey = key;
    await next();
  };
}
