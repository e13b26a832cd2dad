import { z } from 'zod';
import { mintApiKey } from '../../security/api-keys.ts';
import { PRESETS } from '../../security/permissions.ts';
import { createKey, isActive, KIND, MAILBOX_PERMISSIONS, type NewKey } from '../../services/api-keys.ts';
import type { ApiKey } from '../../store/index.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { withKeyLock } from '../middleware/auth.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { assertGrantable, grantsCover } from '../middleware/permissions.ts';
import { defineRoute, type Route } from '../registry.ts';
import { domainName, timestamp } from '../schemas.ts';
import { apiKeySchema, apiKeyView, loadKey, ROLES_BY_TYPE } from '../views/api-keys.ts';
import { loadGroup } from '../views/providers.ts';

const STORE_TYPE = { root: 'root', send: 'sending', mailbox: 'mailbox' } as const;

const permission = z
  .string()
  .regex(/^(\*|\*\.[a-z_]+|[a-z_]+(\.[a-z_]+)*(\.\*)?)$/, 'expected a permission such as domain.read or domain.*');

const withSecret = apiKeySchema.extend({ secret: z.string().describe('shown once') });

const createBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    type: z.enum(['root', 'send', 'mailbox']).default('root'),
    role: z.string().max(64).optional().describe('a preset: root:full, root:readonly, …, send_only, mailbox:full'),
    permissions: z.array(permission).min(1).max(100).optional().describe('explicit permissions instead of a role'),
    mailbox_id: z.string().max(64).optional().describe('mailbox keys: the mailbox they reach'),
    domain: domainName.optional().describe('send keys: limit to one sender domain'),
    delivery_group_id: z
      .string()
      .max(64)
      .optional()
      .describe(
        'send keys: send their mail through this delivery group (the providers chosen); default: as the sender domain is routed',
      ),
    expires_at: timestamp.optional(),
  })
  .strict();

type CreateBody = z.output<typeof createBody>;

async function resolveNewKey(deps: ApiDeps, caller: ApiKey, body: CreateBody): Promise<NewKey> {
  if (body.role !== undefined && body.permissions !== undefined)
    throw new ApiError('validation_error', 'give either role or permissions, not both', 'role');
  const roles = ROLES_BY_TYPE[body.type] as readonly string[];
  if (body.role !== undefined && !roles.includes(body.role)) {
    throw new ApiError('validation_error', `role must be one of ${roles.join(', ')} for ${body.type} keys`, 'role');
  }
  if (body.type === 'root' && body.role === undefined && body.permissions === undefined) {
    throw new ApiError('missing_parameter', 'root keys need a role or permissions', 'role');
  }
  const permissions = body.permissions ?? PRESETS[body.role ?? roles[0]!]!;
  if (body.type !== 'root') {
    const foreign = permissions.find((p) => !MAILBOX_PERMISSIONS.includes(p));
    if (foreign)
      throw new ApiError(
        'validation_error',
        `${body.type} keys may only hold ${MAILBOX_PERMISSIONS.join(', ')}`,
        'permissions',
      );
  }
  if ((body.type === 'mailbox') !== (body.mailbox_id !== undefined)) {
    throw new ApiError(
      body.type === 'mailbox' ? 'missing_parameter' : 'validation_error',
      'mailbox_id is required for mailbox keys and only for them',
      'mailbox_id',
    );
  }
  if (body.domain !== undefined && body.type !== 'send')
    throw new ApiError('validation_error', 'domain applies to send keys only', 'domain');
  if (body.delivery_group_id !== undefined && body.type !== 'send')
    throw new ApiError('validation_error', 'delivery_group_id applies to send keys only', 'delivery_group_id');
  let accountId: string | null = null;
  if (body.mailbox_id !== undefined) {
    const account = /^mbx_[0-9a-hjkmnp-tv-z]{26}$/.test(body.mailbox_id)
      ? await deps.store.accounts.get(body.mailbox_id.slice(4))
      : undefined;
    if (!account || account.teamId !== caller.teamId)
      throw new ApiError('validation_error', `no mailbox ${body.mailbox_id} in this team`, 'mailbox_id');
    accountId = account.id;
  }
  const expiresAt = body.expires_at === undefined ? null : Date.parse(body.expires_at);
  if (expiresAt !== null && expiresAt <= Date.now())
    throw new ApiError('validation_error', 'expires_at must be in the future', 'expires_at');
  return {
    type: STORE_TYPE[body.type],
    name: body.name,
    permissions: [...new Set(permissions)],
    accountId,
    domain: body.domain ?? null,
    expiresAt,
  };
}

const tag = 'API keys';

export const apiKeyRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/api-keys',
    summary: 'List API keys',
    tag,
    permission: 'apikey.read',
    query: z.object(pageQuery).strict(),
    response: apiKeySchema,
    list: true,
    handler: async ({ key, query }) => {
      const page = paginate(
        await deps.store.apiKeys.listForTeam(key.teamId),
        (k) => ({ t: k.createdAt, id: k.id }),
        query,
      );
      return { data: page.items.map(apiKeyView), pagination: page.pagination };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api-keys',
    summary: 'Create an API key (the secret is shown once)',
    tag,
    permission: 'apikey.create',
    body: createBody,
    response: withSecret,
    status: 201,
    idempotent: true,
    errors: ['limit_exceeded', 'validation_error'],
    handler: async ({ key: caller, body }) => {
      const input = await resolveNewKey(deps, caller, body);
      // docs/seeds/sendmux-api-keys.txt: "Sending keys can route through all providers, selected
      // providers, or delivery groups" (selected providers: a delivery group of them).
      const group =
        body.delivery_group_id === undefined
          ? null
          : await loadGroup(deps, caller, body.delivery_group_id, 'delivery_group_id', true);
      assertGrantable(caller, input.permissions);
      const { key, secret } = await createKey(deps, await teamOf(deps, caller.teamId), caller, input);
      if (group) await deps.store.queue.relays.setRoute({ apiKeyId: key.id }, group.id);
      return { data: { ...apiKeyView(key), secret }, location: `/api/v1/api-keys/${key.id}` };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api-keys/{id}',
    summary: 'Get an API key',
    tag,
    permission: 'apikey.read',
    response: apiKeySchema,
    etag: true,
    handler: async ({ key, params }) => ({ data: apiKeyView(await loadKey(deps, key, params.id!)) }),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/api-keys/{id}',
    summary: 'Rename an API key or change its expiry',
    tag,
    permission: 'apikey.update',
    body: z
      .object({ name: z.string().trim().min(1).max(100).optional(), expires_at: timestamp.nullable().optional() })
      .strict(),
    response: apiKeySchema,
    ifMatch: true,
    errors: ['validation_error'],
    handler: async ({ ctx, key: caller, params, body }) => {
      const found = await loadKey(deps, caller, params.id!);
      const updated = await withKeyLock(deps.store, found.id, async () => {
        const current = (await deps.store.apiKeys.get(found.id))!;
        checkIfMatch(ctx, apiKeyView(current));
        if (body.name !== undefined) current.name = body.name;
        if (body.expires_at !== undefined) {
          const expiresAt = body.expires_at === null ? null : Date.parse(body.expires_at);
          if (expiresAt !== null && expiresAt <= Date.now())
            throw new ApiError('validation_error', 'expires_at must be in the future', 'expires_at');
          current.expiresAt = expiresAt;
        }
        await deps.store.apiKeys.update(current);
        return current;
      });
      return { data: apiKeyView(updated) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api-keys/{id}',
    summary: 'Revoke an API key (it stops working at once; the record stays)',
    tag,
    permission: 'apikey.delete',
    response: apiKeySchema,
    ifMatch: true,
    handler: async ({ ctx, key: caller, params }) => {
      const found = await loadKey(deps, caller, params.id!);
      const revoked = await withKeyLock(deps.store, found.id, async () => {
        const current = (await deps.store.apiKeys.get(found.id))!;
        checkIfMatch(ctx, apiKeyView(current));
        if (!current.revokedAt) await deps.store.apiKeys.revoke(current);
        return current;
      });
      return { data: apiKeyView(revoked) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api-keys/{id}/rotate',
    summary: 'Rotate an API key: a new key with the same settings; the old one works until revoked',
    tag,
    permission: 'apikey.update',
    body: z
      .object({
        revoke_old: z
          .boolean()
          .default(false)
          .describe(
            'revoke the old key in the same step (a leaked key); by default it works until DELETE /api-keys/{id}',
          ),
      })
      .strict()
      .optional(),
    response: withSecret,
    status: 201,
    idempotent: true,
    errors: ['conflict', 'limit_exceeded'],
    handler: async ({ key: caller, params, body }) => {
      const found = await loadKey(deps, caller, params.id!);
      // Whoever sees the new secret holds the key's powers: only for keys within the caller's own.
      const beyond = found.permissions.find((p) => !grantsCover(caller.permissions, p));
      if (beyond)
        throw new ApiError(
          'insufficient_permissions',
          `rotating this key would hand out ${beyond}, which the caller does not hold`,
        );
      // docs/seeds/sendmux-api-keys.txt: copy the new secret, deploy it everywhere, then "revoke the
      // old key once all callers have moved" — so the old key keeps working (and its sessions live).
      const { key } = await withKeyLock(deps.store, found.id, async () => {
        const current = (await deps.store.apiKeys.get(found.id))!;
        if (current.revokedAt) throw new ApiError('conflict', 'a revoked key cannot be rotated');
        if (!isActive(current, Date.now()))
          throw new ApiError('conflict', 'an expired key cannot be rotated (its successor would outlive the expiry)');
        const { type, name, permissions, accountId, domain, expiresAt } = current;
        const successor = await createKey(
          deps,
          await teamOf(deps, caller.teamId),
          caller,
          { type, name, permissions, accountId, domain, expiresAt },
          mintApiKey(KIND[type]),
          { from: current, revokeOld: body?.revoke_old ?? false },
        );
        // the successor sends the way the old key did
        const route = (await deps.store.queue.relays.listRoutes()).find(
          ({ scope }) => 'apiKeyId' in scope && scope.apiKeyId === current.id,
        );
        if (route) await deps.store.queue.relays.setRoute({ apiKeyId: successor.key.id }, route.groupId);
        return { key: successor };
      });
      return { data: { ...apiKeyView(key.key), secret: key.secret }, location: `/api/v1/api-keys/${key.key.id}` };
    },
  }),
];
