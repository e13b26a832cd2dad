import { randomBytes } from 'node:crypto';
import { sieveScripts } from '../../store/sieve.ts';
import { z } from 'zod';
import { hashPassword } from '../../security/passwords.ts';
import { normalizeAddress, splitAddress } from '../../store/addresses.ts';
import { type Account, type ApiKey, StoreError, Tx } from '../../store/index.ts';
import { type ApiDeps, teamOf, underTeamLock } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, emailAddress, iso, isEmailAddress, password, timestamp } from '../schemas.ts';

export const mailboxSchema = z.object({
  id: z.string(),
  email: z.string(),
  display_name: z.string().nullable(),
  quota_bytes: z.number().int().describe('0: unlimited'),
  used_bytes: z.number().int(),
  status: z.enum(['active', 'suspended']),
  aliases: z.array(z.string()),
  login: z.string().describe('IMAP/SMTP user name'),
  created_at: timestamp,
});

const credentialSchema = z.object({
  username: z.string(),
  password: z.string().nullable().describe('the generated password, shown once; null when the request set one'),
  server: z.string(),
  imap_port: z.number().int(),
  smtp_port: z.number().int(),
});

const quotaSchema = z.object({ quota_bytes: z.number().int(), used_bytes: z.number().int(), messages: z.number().int(), usage_ratio: z.number().nullable() });
const availabilitySchema = z.object({
  email: z.string(),
  available: z.boolean(),
  reason: z.enum(['available', 'invalid_email', 'domain_not_available', 'taken']),
});

export async function mailboxView(deps: ApiDeps, account: Account): Promise<z.infer<typeof mailboxSchema>> {
  return {
    id: publicId('mbx', account.id),
    email: account.address,
    display_name: account.name === '' ? null : account.name,
    quota_bytes: account.quotaBytes,
    used_bytes: deps.store.folders.usage(account.id).bytes,
    status: account.state,
    aliases: await deps.store.addresses.accountAliases(account.id),
    login: account.address,
    created_at: iso(account.createdAt),
  };
}

/** A mailbox of the caller's team by public id, else 404. */
export async function loadMailbox(deps: ApiDeps, caller: ApiKey, id: string): Promise<Account> {
  const account = await deps.store.accounts.get(parsePublicId('mbx', id));
  if (!account || account.teamId !== caller.teamId) throw new ApiError('not_found', `no mailbox ${id}`, 'id');
  return account;
}

/** Read-modify-write of one account record, serialised per account. */
export async function updateAccount(deps: ApiDeps, id: string, change: (account: Account) => Promise<void> | void): Promise<Account> {
  return deps.store.directory.run(`account/${id}`, async () => {
    const current = await deps.store.accounts.get(id);
    if (!current) throw new ApiError('not_found', `no mailbox mbx_${id}`, 'id');
    await change(current);
    await deps.store.accounts.update(current);
    return current;
  });
}

/** A new address must be in one of the caller's team's domains (422 otherwise). */
export async function assertTeamDomain(deps: ApiDeps, teamId: string, address: string, param: string): Promise<void> {
  const domain = await deps.store.domains.get(splitAddress(address).domain);
  if (!domain || domain.teamId !== teamId) throw new ApiError('validation_error', `${splitAddress(address).domain} is not a domain of this team`, param);
}

export const createMailboxBody = z.object({
  email: emailAddress,
  display_name: z.string().trim().max(200).refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL').optional(),
  quota_bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('0 or absent: unlimited'),
  password: password.optional(),
}).strict();

export const patchMailboxBody = z.object({
  display_name: z.string().trim().max(200).refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL').nullable().optional(),
  quota_bytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional().describe('0: unlimited; not below what is stored'),
}).strict();

const generatedPassword = (): string => randomBytes(18).toString('base64url');

/**
 * Creates a mailbox in a team's domain (422 otherwise), within the team's limit, at a free address
 * (409 `conflict`); without a password one is generated and returned (shown once).
 */
export async function createMailbox(deps: ApiDeps, teamId: string, body: z.output<typeof createMailboxBody>): Promise<{ account: Account; generated: string | null }> {
  const team = await teamOf(deps, teamId);
  await assertTeamDomain(deps, team.id, body.email, 'email');
  const generated = body.password === undefined ? generatedPassword() : null;
  const passwordHash = await hashPassword(body.password ?? generated!);
  const account = await underTeamLock(deps, team.id, 'mailboxes', async () => {
    const count = (await deps.store.accounts.listForTeam(team.id)).length;
    if (count >= team.limits.maxMailboxes) throw new ApiError('limit_exceeded', `the team has ${count} mailboxes (limit ${team.limits.maxMailboxes})`);
    try {
      return await deps.store.accounts.create({ teamId: team.id, address: body.email, name: body.display_name ?? '', passwordHash, quotaBytes: body.quota_bytes ?? 0 });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'exists') throw new ApiError('conflict', `${body.email} is taken`, 'email');
      throw err;
    }
  });
  return { account, generated };
}

/** Display name and quota (not below what is stored: 422); `check` sees the current record first (If-Match). */
export function patchMailbox(
  deps: ApiDeps, id: string, body: z.output<typeof patchMailboxBody>, check?: (a: Account) => Promise<void>,
): Promise<Account> {
  return updateAccount(deps, id, async (a) => {
    await check?.(a);
    if (body.quota_bytes) {
      const used = deps.store.folders.usage(a.id).bytes;
      if (body.quota_bytes < used) throw new ApiError('validation_error', `quota_bytes is below the ${used} bytes already stored`, 'quota_bytes');
    }
    if (body.quota_bytes !== undefined) a.quotaBytes = body.quota_bytes;
    if (body.display_name !== undefined) a.name = body.display_name ?? '';
  });
}

/** Sets the IMAP/SMTP password (null: password login off; mailbox keys still work). */
export async function setMailboxPassword(deps: ApiDeps, id: string, password: string | null): Promise<void> {
  const passwordHash = password === null ? null : await hashPassword(password);
  await updateAccount(deps, id, (a) => void (a.passwordHash = passwordHash));
}

/** An extra address delivering to the mailbox: in a team domain (422), free (409 `conflict`). */
export async function addAlias(deps: ApiDeps, account: Account, address: string): Promise<void> {
  await assertTeamDomain(deps, account.teamId, address, 'address');
  await deps.store.directory.run('directory', async () => {
    if (await deps.store.addresses.get(address)) throw new ApiError('conflict', `${address} is taken`, 'address');
    const tx = new Tx();
    deps.store.addresses.putAccountAlias(tx, address, account.id, account.teamId);
    await deps.store.kv.commit(tx);
  });
}

/** Removes one of the mailbox's extra addresses (404 if it is not one). */
export async function removeAlias(deps: ApiDeps, account: Account, alias: string): Promise<void> {
  const address = normalizeAddress(alias);
  await deps.store.directory.run('directory', async () => {
    if (!(await deps.store.addresses.accountAliases(account.id)).includes(address)) {
      throw new ApiError('not_found', `${JSON.stringify(address.slice(0, 254))} is not an alias of this mailbox`, 'address');
    }
    const tx = new Tx();
    deps.store.addresses.removeAccountAlias(tx, address, account.id);
    await deps.store.kv.commit(tx);
  });
}

/** Deletes a mailbox with its mail, aliases and keys; lists and catch-alls stop pointing at it. */
export async function deleteMailbox(deps: ApiDeps, account: Account): Promise<void> {
  for (const k of await deps.store.apiKeys.listForTeam(account.teamId)) if (k.accountId === account.id && !k.revokedAt) await deps.store.apiKeys.revoke(k);
  for (const list of await deps.lists.listForTeam(account.teamId)) {
    if (!list.members.includes(account.id)) continue;
    const members = list.members.filter((m) => m !== account.id);
    const next = { ...list, members };
    await deps.lists.update(list, next, await listTargets(deps, next));
  }
  for (const domain of await deps.store.domains.listForTeam(account.teamId)) {
    if (domain.catchAll === account.id) await deps.store.directory.run(`domain/${domain.name}`, async () => {
      const current = await deps.store.domains.get(domain.name);
      if (current?.catchAll === account.id) await deps.store.domains.update({ ...current, catchAll: null });
    });
  }
  await deps.store.directory.run('directory', async () => {
    const tx = new Tx();
    for (const alias of await deps.store.addresses.accountAliases(account.id)) deps.store.addresses.removeAccountAlias(tx, alias, account.id);
    await deps.store.kv.commit(tx);
  });
  await deps.store.accounts.remove(account);
  await sieveScripts(deps.store.kv).remove(account.id);
}

const tag = 'Mailboxes';

export const mailboxRoutes = (deps: ApiDeps): Route[] => {
  const credential = (account: Account, generated: string | null) => ({
    username: account.address, password: generated, server: deps.hostname, imap_port: deps.ports.imaps, smtp_port: deps.ports.submission,
  });
  const manage = (path: string, summary: string, state: Account['state']) =>
    defineRoute({
      method: 'POST', path, summary, tag, permission: 'mailbox.admin.manage', response: mailboxSchema, idempotent: true,
      handler: async ({ key, params }) => {
        const found = await loadMailbox(deps, key, params.id!);
        return { data: await mailboxView(deps, await updateAccount(deps, found.id, (a) => void (a.state = state))) };
      },
    });

  return [
    defineRoute({
      method: 'GET', path: '/mailboxes', summary: 'List mailboxes', tag, permission: 'mailbox.admin.read',
      query: z.object({ ...pageQuery, status: z.enum(['active', 'suspended']).optional() }).strict(), response: mailboxSchema, list: true,
      handler: async ({ key, query }) => {
        const accounts = (await deps.store.accounts.listForTeam(key.teamId)).filter((a) => !query.status || a.state === query.status);
        const page = paginate(accounts, (a) => ({ t: a.createdAt, id: a.id }), query);
        return { data: await Promise.all(page.items.map((a) => mailboxView(deps, a))), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST', path: '/mailboxes', summary: 'Create a mailbox (with the given password, or a generated one shown once)', tag, permission: 'mailbox.admin.create',
      body: createMailboxBody,
      response: z.object({ mailbox: mailboxSchema, credential: credentialSchema }), status: 201, idempotent: true,
      errors: ['conflict', 'limit_exceeded', 'validation_error'],
      handler: async ({ key, body }) => {
        const { account, generated } = await createMailbox(deps, key.teamId, body);
        return {
          data: { mailbox: await mailboxView(deps, account), credential: credential(account, generated) },
          location: `/api/v1/mailboxes/${publicId('mbx', account.id)}`,
        };
      },
    }),
    defineRoute({
      method: 'GET', path: '/mailboxes/availability', summary: 'Can this address be created?', tag, permission: 'mailbox.admin.create',
      query: z.object({ email: z.string().max(320) }).strict(), response: availabilitySchema,
      handler: async ({ key, query }) => {
        const parsed = emailAddress.safeParse(query.email);
        const reply = (reason: z.infer<typeof availabilitySchema>['reason']) => ({ data: { email: parsed.data ?? query.email, available: reason === 'available', reason } });
        if (!parsed.success || !isEmailAddress(parsed.data)) return reply('invalid_email');
        const domain = await deps.store.domains.get(splitAddress(parsed.data).domain);
        if (!domain || domain.teamId !== key.teamId) return reply('domain_not_available');
        return reply((await deps.store.addresses.get(parsed.data)) ? 'taken' : 'available');
      },
    }),
    defineRoute({
      method: 'GET', path: '/mailboxes/{id}', summary: 'Get a mailbox', tag, permission: 'mailbox.admin.read', response: mailboxSchema, etag: true,
      handler: async ({ key, params }) => ({ data: await mailboxView(deps, await loadMailbox(deps, key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH', path: '/mailboxes/{id}', summary: 'Update a mailbox (display name, quota)', tag, permission: 'mailbox.admin.manage',
      body: patchMailboxBody,
      response: mailboxSchema, ifMatch: true, errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const found = await loadMailbox(deps, key, params.id!);
        const saved = await patchMailbox(deps, found.id, body, async (a) => checkIfMatch(ctx, await mailboxView(deps, a)));
        return { data: await mailboxView(deps, saved) };
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/mailboxes/{id}', summary: 'Delete a mailbox with its mail, aliases and keys', tag, permission: 'mailbox.admin.delete',
      response: deleted, ifMatch: true,
      handler: async ({ ctx, key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        checkIfMatch(ctx, await mailboxView(deps, account));
        await deleteMailbox(deps, account);
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    manage('/mailboxes/{id}/suspend', 'Suspend a mailbox: no IMAP/SMTP login, no API access for its keys, inbound mail deferred', 'suspended'),
    manage('/mailboxes/{id}/resume', 'Resume a suspended mailbox', 'active'),
    defineRoute({
      method: 'GET', path: '/mailboxes/{id}/quota', summary: 'Quota and usage', tag, permission: 'mailbox.admin.read', response: quotaSchema, etag: true,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        const usage = deps.store.folders.usage(account.id);
        return { data: { quota_bytes: account.quotaBytes, used_bytes: usage.bytes, messages: usage.messages, usage_ratio: account.quotaBytes ? usage.bytes / account.quotaBytes : null } };
      },
    }),
    defineRoute({
      method: 'PUT', path: '/mailboxes/{id}/password', summary: 'Set the IMAP/SMTP password', tag, permission: 'mailbox.admin.manage',
      body: z.object({ password }).strict(), response: z.object({ id: z.string(), password_set: z.literal(true) }),
      handler: async ({ key, params, body }) => {
        const found = await loadMailbox(deps, key, params.id!);
        await setMailboxPassword(deps, found.id, body.password);
        return { data: { id: params.id!, password_set: true as const } };
      },
    }),
    defineRoute({
      method: 'GET', path: '/mailboxes/{id}/aliases', summary: 'List a mailbox\'s extra addresses', tag, permission: 'mailbox.admin.read',
      response: z.object({ address: z.string() }), list: true,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        return { data: (await deps.store.addresses.accountAliases(account.id)).map((address) => ({ address })), pagination: { has_more: false } };
      },
    }),
    defineRoute({
      method: 'POST', path: '/mailboxes/{id}/aliases', summary: 'Add an address that delivers to this mailbox', tag, permission: 'mailbox.admin.manage',
      body: z.object({ address: emailAddress }).strict(), response: mailboxSchema, status: 201, idempotent: true, errors: ['conflict', 'validation_error'],
      handler: async ({ key, params, body }) => {
        const account = await loadMailbox(deps, key, params.id!);
        await addAlias(deps, account, body.address);
        return { data: await mailboxView(deps, account), location: `/api/v1/mailboxes/${params.id!}/aliases/${encodeURIComponent(body.address)}` };
      },
    }),
    defineRoute({
      method: 'DELETE', path: '/mailboxes/{id}/aliases/{address}', summary: 'Remove an extra address', tag, permission: 'mailbox.admin.manage',
      response: mailboxSchema,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        await removeAlias(deps, account, params.address!);
        return { data: await mailboxView(deps, account) };
      },
    }),
  ];
};

/** The addresses a list's route expands to: its local members' current addresses, then external ones. */
export async function listTargets(deps: ApiDeps, list: { members: string[]; externalMembers: string[] }): Promise<string[]> {
  const accounts = await Promise.all(list.members.map((id) => deps.store.accounts.get(id)));
  return [...accounts.filter((a): a is Account => a !== undefined).map((a) => a.address), ...list.externalMembers];
}
