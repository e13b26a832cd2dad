// API keys: minting and storing them within the team's limit, rotations, and mailbox keys (whose
// secret is also the mailbox's IMAP/SMTP password).
import { mintApiKey, type KeyKind, type MintedKey } from '../security/api-keys.ts';
import { hasPermission, PRESETS } from '../security/permissions.ts';
import { type Account, type ApiKey, type Store, StoreError, type Team } from '../store/index.ts';
import { publicId } from '../store/public-ids.ts';
import { newId } from '../store/teams.ts';
import { type ServiceDeps, ServiceError } from './index.ts';

/** The secret's kind (`wm_<kind>_…`) of each key type. */
export const KIND: Record<ApiKey['type'], KeyKind> = { root: 'root', sending: 'send', mailbox: 'mbx' };
/** What sending and mailbox keys may hold (docs/API.md §5, §6). */
export const MAILBOX_PERMISSIONS = PRESETS['mailbox:full']!;

export const isActive = (key: ApiKey, now: number): boolean =>
  !key.revokedAt && !(key.expiresAt && key.expiresAt < now);

export interface NewKey {
  type: ApiKey['type'];
  name: string;
  permissions: string[];
  accountId: string | null;
  domain: string | null;
  expiresAt: number | null;
}

/**
 * A key minted by a key that may not manage mailbox credentials (a mailbox key adding an app
 * password) is that key's child: revoked with it, so it cannot outlive its maker. Keys
 * made by managers, or by a mailbox password login, stand on their own.
 */
const parentOf = (maker: ApiKey): string | null =>
  maker.id.startsWith('login:') || hasPermission(maker.permissions, 'mailbox.admin.manage') ? null : maker.id;

/** Rotation: the key being replaced, and whether it is revoked at once rather than when callers have moved. */
export interface Rotation {
  from: ApiKey;
  revokeOld: boolean;
}

/**
 * Mints and stores a key for `team`, made by `maker`, never past the team's active-key limit
 * (`limit_exceeded`). Whether the maker may grant the permissions is the edge's check. Returns the
 * record and its one-time secret (`minted`: a secret the client generated in the same format, for
 * compatibility routes). A rotation's successor stands where the old key stood (same parent) and
 * counts as a new active key unless the old one is revoked with it.
 */
export async function createKey(
  deps: Pick<ServiceDeps, 'store'>,
  team: Team,
  maker: ApiKey,
  input: NewKey,
  minted: MintedKey = mintApiKey(KIND[input.type]),
  rotation?: Rotation,
): Promise<{ key: ApiKey; secret: string }> {
  const key = keyRecord(team.id, input, minted, Date.now(), {
    parentKeyId: rotation ? (rotation.from.parentKeyId ?? null) : parentOf(maker),
    rotatedFrom: rotation?.from.id ?? null,
  });
  // The limit is checked in the batch that stores it (store/team-tallies.ts): on a shared store too.
  const max = team.limits.maxApiKeys;
  try {
    if (rotation) await deps.store.apiKeys.rotate(rotation.from, key, minted.hash, rotation.revokeOld, max);
    else await deps.store.apiKeys.create(key, minted.hash, max);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'limit')
      throw new ServiceError('limit_exceeded', `${err.message}; revoke one first`);
    throw err;
  }
  return { key, secret: minted.secret };
}

function keyRecord(
  teamId: string,
  input: NewKey,
  minted: MintedKey,
  now: number,
  lineage: Pick<ApiKey, 'parentKeyId' | 'rotatedFrom'>,
): ApiKey {
  return {
    id: publicId('key', newId(now)),
    teamId,
    ...input,
    prefix: minted.prefix,
    suffix: minted.suffix,
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
    ...lineage,
  };
}

/**
 * Mints and stores a key that no maker grants and no team limit counts: the first root key of a new
 * install (bootstrap.ts), and the keys test and bench fixtures start from.
 */
export async function mintKey(store: Store, teamId: string, input: NewKey): Promise<{ key: ApiKey; secret: string }> {
  const minted = mintApiKey(KIND[input.type]);
  const key = keyRecord(teamId, input, minted, Date.now(), { parentKeyId: null, rotatedFrom: null });
  await store.apiKeys.create(key, minted.hash);
  return { key, secret: minted.secret };
}

/** A key for an active mailbox (`invalid` when suspended), with a mailbox key's permissions; `minted`: see createKey. */
export async function createMailboxKey(
  deps: Pick<ServiceDeps, 'store'>,
  team: Team,
  maker: ApiKey,
  account: Account,
  appName: string,
  minted?: MintedKey,
): Promise<{ key: ApiKey; secret: string }> {
  if (account.state !== 'active') throw new ServiceError('invalid', 'the mailbox is suspended');
  return createKey(
    deps,
    team,
    maker,
    {
      type: 'mailbox',
      name: appName,
      permissions: MAILBOX_PERMISSIONS,
      accountId: account.id,
      domain: null,
      expiresAt: null,
    },
    minted,
  );
}
