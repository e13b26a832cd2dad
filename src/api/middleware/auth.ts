import type { Socket } from 'node:net';
import type { Context } from 'koa';
import { hashApiKey, looksLikeApiKey } from '../../security/api-keys.ts';
import type { ApiKey, Store } from '../../store/index.ts';
import { ApiError } from '../errors.ts';

declare module 'koa' {
  interface DefaultState {
    apiKey: ApiKey;
    /** Why no key was identified (for the 401 message), when there is none. */
    authProblem?: string;
  }
}

const LAST_USED_PRECISION_MS = 60_000;

/**
 * Resolves the bearer key without failing (rate limits need to know who asks, even for a 401). The
 * presented secret is hashed and looked up by its SHA-256, so no stored secret is ever compared byte
 * by byte (nothing for a timing attack to measure).
 */
export async function identify(ctx: Context, store: Store): Promise<ApiKey | undefined> {
  const header = ctx.get('authorization');
  // A web console session (src/console): its principal was resolved, and any write's CSRF token checked, before dispatch.
  if (!header && ctx.state.consoleKey) {
    ctx.state.apiKey = ctx.state.consoleKey;
    return ctx.state.consoleKey;
  }
  const secretHash = presentedHash(ctx.req.socket, header);
  if (secretHash === undefined) {
    ctx.state.authProblem = 'a valid API key is required (Authorization: Bearer wm_…)';
    return undefined;
  }
  const key = await store.apiKeys.bySecretHash(secretHash);
  if (!key || key.revokedAt || (key.expiresAt && key.expiresAt < Date.now())) {
    ctx.state.authProblem = 'the API key is invalid, revoked or expired';
    return undefined;
  }
  ctx.state.apiKey = key;
  return key;
}

/** Each connection's last Authorization header and the SHA-256 of the key in it (undefined: no well-formed key). */
const presented = new WeakMap<Socket, { header: string; hash: string | undefined }>();

/**
 * The digest the key is looked up by. A keep-alive client sends the same header on every request, so
 * it is parsed and hashed once per connection; a different header is parsed afresh. Only the lookup's
 * input is kept: whether the key is valid is asked of the store on every request.
 */
function presentedHash(socket: Socket, header: string): string | undefined {
  const last = presented.get(socket);
  if (last?.header === header) return last.hash;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const hash = match && looksLikeApiKey(match[1]!) ? hashApiKey(match[1]!) : undefined;
  presented.set(socket, { header, hash });
  return hash;
}

/** 401 without a key; a mailbox key stops working while its mailbox is suspended or gone. */
export async function requireKey(ctx: Context, store: Store): Promise<ApiKey> {
  const key = ctx.state.apiKey as ApiKey | undefined;
  if (!key) throw new ApiError('authentication_required', ctx.state.authProblem ?? 'a valid API key is required');
  if (key.accountId) {
    const account = await store.accounts.get(key.accountId);
    if (!account) throw new ApiError('authentication_required', "the key's mailbox no longer exists");
    if (account.state !== 'active') throw new ApiError('mailbox_suspended', "the key's mailbox is suspended");
  }
  touch(store, key);
  return key;
}

/** When each key's last use was last recorded (or is being recorded), per store. */
const touched = new WeakMap<Store, Map<string, number>>();

/**
 * Records last use at minute precision, off the request path: one write per key per minute at most.
 * The record a request holds may predate the write under way (verified keys are kept in memory), so
 * the minute is also tracked here: the requests behind the first one queue nothing.
 */
function touch(store: Store, key: ApiKey): void {
  const now = Date.now();
  if (key.lastUsedAt && now - key.lastUsedAt < LAST_USED_PRECISION_MS) return;
  let recent = touched.get(store);
  if (!recent) touched.set(store, (recent = new Map()));
  const last = recent.get(key.id);
  if (last !== undefined && now - last < LAST_USED_PRECISION_MS) return;
  recent.delete(key.id);
  recent.set(key.id, now);
  // Oldest first: entries past the minute say nothing the stored lastUsedAt does not.
  for (const [id, at] of recent) {
    if (now - at < LAST_USED_PRECISION_MS) break;
    recent.delete(id);
  }
  void withKeyLock(store, key.id, async () => {
    const current = await store.apiKeys.get(key.id);
    if (!current || current.revokedAt || (current.lastUsedAt && now - current.lastUsedAt < LAST_USED_PRECISION_MS))
      return;
    await store.apiKeys.update({ ...current, lastUsedAt: now });
  }).catch(() => undefined);
}

/** Serialises read-modify-write of one key record (use tracking against rotate, revoke, rename). */
export const withKeyLock = <T>(store: Store, keyId: string, fn: () => Promise<T>): Promise<T> =>
  store.directory.run(`apikey/${keyId}`, fn);
