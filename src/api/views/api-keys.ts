// What the routes share about API keys: the response schema, the view, and the caller's key by id.
import { z } from 'zod';
import { PRESETS } from '../../security/permissions.ts';
import type { ApiKey } from '../../store/index.ts';
import { publicId } from '../../store/public-ids.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { iso, isoOrNull, timestamp } from '../schemas.ts';

export const API_TYPE = { root: 'root', sending: 'send', mailbox: 'mailbox' } as const;
export const ROLES_BY_TYPE = {
  root: [
    'root:full',
    'root:readonly',
    'root:webhook_admin',
    'root:provider_admin',
    'root:billing_admin',
    'root:server_admin',
  ],
  send: ['send_only'],
  mailbox: ['mailbox:full', 'agent_preclaim', 'send_only'],
} as const;

export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['root', 'send', 'mailbox']),
  role: z.string().nullable().describe('the preset the permissions equal, if any'),
  permissions: z.array(z.string()),
  mailbox_id: z.string().nullable(),
  domain: z.string().nullable(),
  key_prefix: z.string(),
  status: z.enum(['active', 'revoked', 'expired']),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
  expires_at: timestamp.nullable(),
  revoked_at: timestamp.nullable(),
  rotated_from: z.string().nullable().describe('the key this one was rotated from; it works until revoked'),
});

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((p) => b.includes(p));

export function apiKeyView(key: ApiKey): z.infer<typeof apiKeySchema> {
  const role =
    Object.entries(PRESETS).find(
      ([name, perms]) =>
        (ROLES_BY_TYPE[API_TYPE[key.type]] as readonly string[]).includes(name) && sameSet(perms, key.permissions),
    )?.[0] ?? null;
  const status = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt < Date.now() ? 'expired' : 'active';
  return {
    id: key.id,
    name: key.name,
    type: API_TYPE[key.type],
    role,
    permissions: key.permissions,
    mailbox_id: key.accountId ? publicId('mbx', key.accountId) : null,
    domain: key.domain,
    key_prefix: key.prefix,
    status,
    created_at: iso(key.createdAt),
    last_used_at: isoOrNull(key.lastUsedAt),
    expires_at: isoOrNull(key.expiresAt),
    revoked_at: isoOrNull(key.revokedAt),
    rotated_from: key.rotatedFrom ?? null,
  };
}

/** A key of the caller's team, else 404 (another team's key does not exist for this caller). */
export async function loadKey(deps: ApiDeps, caller: ApiKey, id: string, param = 'id'): Promise<ApiKey> {
  const key = await deps.store.apiKeys.get(publicId('key', parsePublicId('key', id, param)));
  if (!key || key.teamId !== caller.teamId) throw new ApiError('not_found', `no API key ${id}`, param);
  return key;
}
