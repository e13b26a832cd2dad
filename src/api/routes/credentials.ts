// A mailbox's credentials (docs/API.md §5, §6; seed sendmux-mailbox-keys): its keys (`wm_mbx_…`),
// each both an API key and an IMAP/SMTP password, managed by operators (/mailboxes/{id}/keys) and by
// the owner (/mailbox/keys), and the owner's own password change (/mailbox/password).
import { z } from 'zod';
import { verifyPassword } from '../../security/passwords.ts';
import { createMailboxKey, MAILBOX_PERMISSIONS } from '../../services/api-keys.ts';
import { setMailboxPassword } from '../../services/mailboxes.ts';
import type { Account, ApiKey } from '../../store/index.ts';
import { publicId } from '../../store/public-ids.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { assertGrantable } from '../middleware/permissions.ts';
import { defineRoute, type Route } from '../registry.ts';
import { iso, isoOrNull, password, timestamp } from '../schemas.ts';
import { apiKeySchema, apiKeyView, loadKey } from '../views/api-keys.ts';
import { loadMailbox } from '../views/mailboxes.ts';

const mailboxKeySchema = z.object({
  public_id: z.string(),
  app_name: z.string(),
  key_prefix: z.string(),
  key_suffix: z.string().nullable(),
  created_at: timestamp,
  last_used_at: timestamp.nullable(),
});

// The Sendmux shape (seed: sendmux-mailbox-keys): the bearer key, and the same secret as the password
// of an IMAP/SMTP login (IMAPS and submission ports of this server).
const createdKeySchema = z.object({
  api_key: z.object({
    public_id: z.string(),
    key: z.string().describe('shown once: the bearer key'),
    key_prefix: z.string(),
    key_suffix: z.string(),
  }),
  imap_smtp_credentials: z.object({
    server: z.string(),
    imap_port: z.number().int(),
    smtp_port: z.number().int(),
    username: z.string(),
    password: z.string().describe('shown once: the same secret as api_key.key'),
  }),
});

const tag = 'Mailboxes';

/** A mailbox key made by `caller`, who must hold what a mailbox key holds. */
async function mintMailboxKey(
  deps: ApiDeps,
  caller: ApiKey,
  account: Account,
  appName: string,
): Promise<{ key: ApiKey; secret: string }> {
  assertGrantable(caller, MAILBOX_PERMISSIONS);
  return createMailboxKey(deps, await teamOf(deps, caller.teamId), caller, account, appName);
}

/** Revokes one of the mailbox's keys (404 if the id names another's); idempotent. */
async function revokeMailboxKey(deps: ApiDeps, caller: ApiKey, account: Account, keyId: string): Promise<ApiKey> {
  const key = await loadKey(deps, caller, keyId, 'key_id');
  if (key.accountId !== account.id) throw new ApiError('not_found', `no key ${keyId} on this mailbox`, 'key_id');
  if (!key.revokedAt) await deps.store.apiKeys.revoke(key);
  return key;
}

/** The caller's own mailbox: these self-service routes are for a mailbox's own keys (and its owner's console session). */
async function ownMailbox(deps: ApiDeps, key: ApiKey): Promise<Account> {
  if (!key.accountId)
    throw new ApiError('insufficient_permissions', 'this route is for a mailbox key; operators use /mailboxes/{id}/…');
  const account = await deps.store.accounts.get(key.accountId);
  if (!account) throw new ApiError('authentication_required', "the key's mailbox no longer exists");
  return account;
}

/** A key just minted, in the Sendmux shape: the bearer key and the IMAP/SMTP login it also is. */
const mintedView = (deps: ApiDeps, account: Account, key: ApiKey, secret: string) => ({
  api_key: { public_id: key.id, key: secret, key_prefix: key.prefix, key_suffix: key.suffix! },
  imap_smtp_credentials: {
    server: deps.hostname,
    imap_port: deps.ports.imaps,
    smtp_port: deps.ports.submission,
    username: account.address,
    password: secret,
  },
});

const keyView = (k: ApiKey) => ({
  public_id: k.id,
  app_name: k.name,
  key_prefix: k.prefix,
  key_suffix: k.suffix ?? null,
  created_at: iso(k.createdAt),
  last_used_at: isoOrNull(k.lastUsedAt),
});

/** One page of a mailbox's live keys, for the operator's route and the owner's alike. */
async function keyPage(deps: ApiDeps, teamId: string, account: Account, query: Parameters<typeof paginate>[2]) {
  const keys = (await deps.store.apiKeys.listForTeam(teamId)).filter((k) => k.accountId === account.id && !k.revokedAt);
  const page = paginate(keys, (k) => ({ t: k.createdAt, id: k.id }), query);
  return { data: page.items.map(keyView), pagination: page.pagination };
}

/** Per-mailbox keys (`wm_mbx_…`): the mailbox's own API access, and its IMAP/SMTP credential for apps. */
export const credentialRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/mailboxes/{id}/keys',
    summary: "List a mailbox's keys",
    tag,
    permission: 'mailbox.admin.read',
    query: z.object(pageQuery).strict(),
    response: mailboxKeySchema,
    list: true,
    handler: async ({ key, params, query }) => {
      const account = await loadMailbox(deps, key, params.id!);
      return keyPage(deps, key.teamId, account, query);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/mailboxes/{id}/keys',
    summary: 'Create a mailbox key; its secret (shown once) is also the IMAP/SMTP password',
    tag,
    permission: 'mailbox.admin.manage',
    body: z.object({ app_name: z.string().trim().min(1).max(100) }).strict(),
    response: createdKeySchema,
    status: 201,
    idempotent: true,
    errors: ['limit_exceeded', 'validation_error'],
    handler: async ({ key: caller, params, body }) => {
      const account = await loadMailbox(deps, caller, params.id!);
      const { key, secret } = await mintMailboxKey(deps, caller, account, body.app_name);
      return {
        data: mintedView(deps, account, key, secret),
        location: `/api/v1/mailboxes/${publicId('mbx', account.id)}/keys/${key.id}`,
      };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/mailboxes/{id}/keys/{key_id}',
    summary: 'Revoke a mailbox key (idempotent)',
    tag,
    permission: 'mailbox.admin.manage',
    response: apiKeySchema,
    handler: async ({ key: caller, params }) => {
      const account = await loadMailbox(deps, caller, params.id!);
      return { data: apiKeyView(await revokeMailboxKey(deps, caller, account, params.key_id!)) };
    },
  }),
  // Self-service: a mailbox's owner (a mailbox key, or the owner's console session) manages its own app passwords.
  defineRoute({
    method: 'GET',
    path: '/mailbox/keys',
    summary: "List the calling mailbox's app keys",
    tag,
    permission: 'mailbox.read',
    query: z.object(pageQuery).strict(),
    response: mailboxKeySchema,
    list: true,
    handler: async ({ key, query }) => {
      const account = await ownMailbox(deps, key);
      return keyPage(deps, key.teamId, account, query);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/mailbox/keys',
    summary: 'Create an app key for the calling mailbox (its secret, shown once, is the IMAP/SMTP password)',
    tag,
    permission: 'mailbox.settings.update',
    body: z.object({ app_name: z.string().trim().min(1).max(100) }).strict(),
    response: createdKeySchema,
    status: 201,
    idempotent: true,
    errors: ['limit_exceeded', 'validation_error'],
    handler: async ({ key: caller, body }) => {
      const account = await ownMailbox(deps, caller);
      const { key, secret } = await mintMailboxKey(deps, caller, account, body.app_name);
      return { data: mintedView(deps, account, key, secret), location: `/api/v1/mailbox/keys/${key.id}` };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/mailbox/keys/{key_id}',
    summary: "Revoke one of the calling mailbox's app keys (idempotent)",
    tag,
    permission: 'mailbox.settings.update',
    response: apiKeySchema,
    handler: async ({ key: caller, params }) => {
      const account = await ownMailbox(deps, caller);
      return { data: apiKeyView(await revokeMailboxKey(deps, caller, account, params.key_id!)) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/mailbox/password',
    summary: "Change the calling mailbox's password (the current one is required); console sessions on the old one end",
    tag,
    permission: 'mailbox.settings.update',
    body: z.object({ current_password: z.string().max(1024), new_password: password }).strict(),
    response: z.object({ changed: z.literal(true) }),
    errors: ['validation_error'],
    handler: async ({ key, body }) => {
      const account = await ownMailbox(deps, key);
      if (!(await verifyPassword(body.current_password, account.passwordHash)))
        throw new ApiError('validation_error', 'the current password is wrong', 'current_password');
      await setMailboxPassword(deps, account.id, body.new_password);
      return { data: { changed: true as const } };
    },
  }),
];
