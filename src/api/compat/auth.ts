// Who calls a compatibility route. Every credential ends up as one of the native ones, checked by the
// native code: a root or mailbox API key (identify/requireKey), or a mailbox password (LoginService).
//   Authorization: Bearer wm_root_…                 the key itself
//   Authorization: Bearer api_<base64(name:secret)>  Stalwart's API-key principal form; name = the key's name
//   Authorization: Basic admin:<root key>            Stalwart's admin login: user "admin", a root key as password
//   Authorization: Basic <address>:<password>        a mailbox's own password
//   Authorization: Basic <address>:<mailbox key>     an app password: that mailbox's key, as that key
// A key is a key however it is presented: every form resolves to the same principal with the same
// permissions (a mailbox key sent as `admin:` or as an address's password must not become a
// password login with full mailbox powers).
import type { Context } from 'koa';
import type { LoginService } from '../../security/login.ts';
import { looksLikeApiKey } from '../../security/api-keys.ts';
import { PRESETS } from '../../security/permissions.ts';
import type { Account, ApiKey, Store } from '../../store/index.ts';
import { ApiError } from '../errors.ts';
import { identify, requireKey } from '../middleware/auth.ts';

export interface Caller {
  /** The key's powers and team; a mailbox login acts with a mailbox key's permissions. */
  key: ApiKey;
  /** Authenticated with the mailbox's own password (Basic), not a key: only then may it change that password. */
  password: boolean;
}

export const ADMIN_USER = 'admin';

function decodeBase64Pair(encoded: string): [string, string] | undefined {
  const text = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : [text.slice(0, colon), text.slice(colon + 1)];
}

/** Checks a key secret the native way (the Authorization header is restated as `Bearer <secret>`). */
async function bearer(ctx: Context, store: Store, secret: string): Promise<ApiKey> {
  ctx.request.header.authorization = `Bearer ${secret}`;
  await identify(ctx, store);
  return requireKey(ctx, store);
}

/** A mailbox password login acts as that mailbox, with what a mailbox key may do. */
const standIn = (account: Account): ApiKey => ({
  id: `login:${account.id}`,
  teamId: account.teamId,
  type: 'mailbox',
  name: account.address,
  prefix: '',
  permissions: PRESETS['mailbox:full']!,
  accountId: account.id,
  domain: null,
  createdAt: account.createdAt,
  lastUsedAt: null,
  revokedAt: null,
  expiresAt: null,
});

const unauthorized = (message: string) => new ApiError('authentication_required', message);
const ADMIN_NEEDS_ROOT = 'Basic admin:<key> takes a root key (wm_root_…)';

/** A key sent as a Basic password: `admin` needs a root key, an address only that mailbox's own key. */
async function basicKey(ctx: Context, store: Store, user: string, secret: string): Promise<ApiKey> {
  const key = await bearer(ctx, store, secret);
  if (user === ADMIN_USER) {
    if (key.type !== 'root') throw unauthorized(ADMIN_NEEDS_ROOT);
    return key;
  }
  const account = key.accountId ? await store.accounts.get(key.accountId) : undefined;
  if (!account || account.address !== user.trim().toLowerCase()) throw unauthorized('invalid user name or password');
  return key;
}

export async function authenticate(ctx: Context, store: Store, login: LoginService): Promise<Caller> {
  const header = ctx.get('authorization');
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (basic) {
    const pair = decodeBase64Pair(basic[1]!);
    if (!pair) throw unauthorized('malformed Basic credentials');
    const [user, password] = pair;
    if (looksLikeApiKey(password)) return { key: await basicKey(ctx, store, user, password), password: false };
    if (user === ADMIN_USER) throw unauthorized(ADMIN_NEEDS_ROOT);
    const result = await login.login(user, password, ctx.ip);
    if (result.ok) return { key: standIn(result.account), password: true };
    if (result.reason === 'throttled') {
      throw new ApiError('rate_limit_exceeded', 'too many failed logins; try later', null, {
        headers: { 'Retry-After': String(result.retryAfterSeconds ?? 60) },
      });
    }
    throw unauthorized(result.reason === 'suspended' ? 'the mailbox is suspended' : 'invalid user name or password');
  }
  const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!token) throw unauthorized('credentials are required (Bearer <API key>, or Basic admin:<API key>)');
  if (token.startsWith('api_')) {
    const pair = decodeBase64Pair(token.slice(4));
    if (!pair) throw unauthorized('malformed API key');
    const key = await bearer(ctx, store, pair[1]);
    if (key.name !== pair[0]) throw unauthorized('the API key is invalid, revoked or expired');
    return { key, password: false };
  }
  return { key: await bearer(ctx, store, token), password: false };
}
