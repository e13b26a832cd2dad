// Stalwart app passwords are mailbox keys here: a `wm_mbx_…` secret is both an API key and the
// mailbox's IMAP/SMTP password (src/security/login.ts). Their secrets are high-entropy by design
// (only a SHA-256 is stored), so a client-chosen app password must have the key format; without
// one the server mints it. Stalwart's `$app$<name>$<secret>` secret strings map onto them.
import { z } from 'zod';
import { looksLikeApiKey, mintedFrom, type MintedKey } from '../../security/api-keys.ts';
import type { Account, ApiKey } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { createMailboxKey, MAILBOX_PERMISSIONS } from '../../services/api-keys.ts';
import { teamOf } from '../deps.ts';
import { assertGrantable } from '../middleware/permissions.ts';
import { CompatError, translated } from './errors.ts';

const APP_PREFIX = '$app$';
const appName = z.string().trim().min(1).max(100);

export const isAppSecret = (secret: string): boolean => secret.startsWith(APP_PREFIX);

/** `$app$<name>$<secret>` (the secret may be empty or absent: removal names only). */
export function parseAppSecret(secret: string): { name: string; password: string } {
  const rest = secret.slice(APP_PREFIX.length);
  const dollar = rest.indexOf('$');
  return dollar < 0 ? { name: rest, password: '' } : { name: rest.slice(0, dollar), password: rest.slice(dollar + 1) };
}

const activeKeysOf = async (deps: ApiDeps, account: Account): Promise<ApiKey[]> =>
  (await deps.store.apiKeys.listForTeam(account.teamId)).filter(
    (k) => k.accountId === account.id && !k.revokedAt && !(k.expiresAt && k.expiresAt < Date.now()),
  );

export const appPasswordNames = async (deps: ApiDeps, account: Account): Promise<string[]> =>
  (await activeKeysOf(deps, account)).map((k) => k.name);

/**
 * A client-chosen key secret (`wm_<kind>_<32 base62>`), as createKey takes it; one already in use is
 * refused, so no request can re-point a key another credential holds.
 */
export async function clientKey(
  deps: ApiDeps,
  secret: string,
  kind: 'root' | 'mbx',
  field: string,
): Promise<MintedKey> {
  if (!looksLikeApiKey(secret) || !secret.startsWith(`wm_${kind}_`)) {
    throw new CompatError({
      error: 'other',
      details: `expected a secret of the form wm_${kind}_<32 letters or digits>`,
      reason: field,
    });
  }
  const minted = mintedFrom(secret);
  if (await deps.store.apiKeys.bySecretHash(minted.hash))
    throw new CompatError({ error: 'fieldAlreadyExists', field, value: `${minted.prefix}…` });
  return minted;
}

/** Adds an app password (a mailbox key named `name`); returns its secret. `caller` must hold what a mailbox key holds. */
export async function addAppPassword(
  deps: ApiDeps,
  caller: ApiKey,
  account: Account,
  name: string,
  password: string | undefined,
): Promise<string> {
  const parsed = appName.safeParse(name);
  if (!parsed.success)
    throw new CompatError({
      error: 'other',
      details: 'an app password needs a name of 1–100 characters',
      reason: 'name',
    });
  const minted = password ? await clientKey(deps, password, 'mbx', 'secrets') : undefined;
  const { secret } = await translated({}, async () => {
    assertGrantable(caller, MAILBOX_PERMISSIONS);
    return createMailboxKey(deps, await teamOf(deps, caller.teamId), caller, account, parsed.data, minted);
  });
  return secret;
}

/** Revokes the app passwords called `name` (all of them without a name); returns how many. */
export async function removeAppPasswords(deps: ApiDeps, account: Account, name?: string): Promise<number> {
  const keys = (await activeKeysOf(deps, account)).filter((k) => name === undefined || k.name === name);
  for (const key of keys) await deps.store.apiKeys.revoke(key);
  return keys.length;
}
