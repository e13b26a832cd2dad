import { z } from 'zod';
import { splitAddress } from '../../store/addresses.ts';
import type { Account } from '../../store/index.ts';
import { publicId } from '../../store/public-ids.ts';
import {
  addAlias,
  createMailbox,
  deleteMailbox,
  patchMailbox,
  removeAlias,
  setMailboxPassword,
  setMailboxState,
} from '../../services/mailboxes.ts';
import { type ApiDeps, teamOf } from '../deps.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, emailAddress, isEmailAddress, password } from '../schemas.ts';
import {
  createMailboxBody,
  loadMailbox,
  loadMailboxView,
  mailboxSchema,
  mailboxView,
  patchMailboxBody,
} from '../views/mailboxes.ts';

const credentialSchema = z.object({
  username: z.string(),
  password: z.string().nullable().describe('the generated password, shown once; null when the request set one'),
  server: z.string(),
  imap_port: z.number().int(),
  smtp_port: z.number().int(),
});

const quotaSchema = z.object({
  quota_bytes: z.number().int(),
  used_bytes: z.number().int(),
  messages: z.number().int(),
  usage_ratio: z.number().nullable(),
});
const availabilitySchema = z.object({
  email: z.string(),
  available: z.boolean(),
  reason: z.enum(['available', 'invalid_email', 'domain_not_available', 'taken']),
});

const tag = 'Mailboxes';

export const mailboxRoutes = (deps: ApiDeps): Route[] => {
  const credential = (account: Account, generated: string | null) => ({
    username: account.address,
    password: generated,
    server: deps.hostname,
    imap_port: deps.ports.imaps,
    smtp_port: deps.ports.submission,
  });
  const manage = (path: string, summary: string, state: Account['state']) =>
    defineRoute({
      method: 'POST',
      path,
      summary,
      tag,
      permission: 'mailbox.admin.manage',
      response: mailboxSchema,
      idempotent: true,
      handler: async ({ key, params }) => {
        const found = await loadMailbox(deps, key, params.id!);
        return { data: await mailboxView(deps, await setMailboxState(deps, found.id, state)) };
      },
    });

  return [
    defineRoute({
      method: 'GET',
      path: '/mailboxes',
      summary: 'List mailboxes',
      tag,
      permission: 'mailbox.admin.read',
      query: z.object({ ...pageQuery, status: z.enum(['active', 'suspended']).optional() }).strict(),
      response: mailboxSchema,
      list: true,
      handler: async ({ key, query }) => {
        const accounts = (await deps.store.accounts.listForTeam(key.teamId)).filter(
          (a) => !query.status || a.state === query.status,
        );
        const page = paginate(accounts, (a) => ({ t: a.createdAt, id: a.id }), query);
        return { data: await Promise.all(page.items.map((a) => mailboxView(deps, a))), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/mailboxes',
      summary: 'Create a mailbox (with the given password, or a generated one shown once)',
      tag,
      permission: 'mailbox.admin.create',
      body: createMailboxBody,
      response: z.object({ mailbox: mailboxSchema, credential: credentialSchema }),
      status: 201,
      idempotent: true,
      errors: ['conflict', 'limit_exceeded', 'validation_error'],
      handler: async ({ key, body }) => {
        const { account, generated } = await createMailbox(deps, await teamOf(deps, key.teamId), body);
        return {
          data: { mailbox: await mailboxView(deps, account), credential: credential(account, generated) },
          location: `/api/v1/mailboxes/${publicId('mbx', account.id)}`,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailboxes/availability',
      summary: 'Can this address be created?',
      tag,
      permission: 'mailbox.admin.create',
      query: z.object({ email: z.string().max(320) }).strict(),
      response: availabilitySchema,
      handler: async ({ key, query }) => {
        const parsed = emailAddress.safeParse(query.email);
        const reply = (reason: z.infer<typeof availabilitySchema>['reason']) => ({
          data: { email: parsed.data ?? query.email, available: reason === 'available', reason },
        });
        if (!parsed.success || !isEmailAddress(parsed.data)) return reply('invalid_email');
        const domain = await deps.store.domains.get(splitAddress(parsed.data).domain);
        if (!domain || domain.teamId !== key.teamId) return reply('domain_not_available');
        return reply((await deps.store.addresses.get(parsed.data)) ? 'taken' : 'available');
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailboxes/{id}',
      summary: 'Get a mailbox',
      tag,
      permission: 'mailbox.admin.read',
      response: mailboxSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: await loadMailboxView(deps, key, params.id!) }),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/mailboxes/{id}',
      summary: 'Update a mailbox (display name, quota)',
      tag,
      permission: 'mailbox.admin.manage',
      body: patchMailboxBody,
      response: mailboxSchema,
      ifMatch: true,
      errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const found = await loadMailbox(deps, key, params.id!);
        const saved = await patchMailbox(deps, found.id, body, async (a) =>
          checkIfMatch(ctx, await mailboxView(deps, a)),
        );
        return { data: await mailboxView(deps, saved) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/mailboxes/{id}',
      summary: 'Delete a mailbox with its mail, aliases and keys',
      tag,
      permission: 'mailbox.admin.delete',
      response: deleted,
      ifMatch: true,
      handler: async ({ ctx, key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        checkIfMatch(ctx, await mailboxView(deps, account));
        await deleteMailbox(deps, account);
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    manage(
      '/mailboxes/{id}/suspend',
      'Suspend a mailbox: no IMAP/SMTP login, no API access for its keys, inbound mail deferred',
      'suspended',
    ),
    manage('/mailboxes/{id}/resume', 'Resume a suspended mailbox', 'active'),
    defineRoute({
      method: 'GET',
      path: '/mailboxes/{id}/quota',
      summary: 'Quota and usage',
      tag,
      permission: 'mailbox.admin.read',
      response: quotaSchema,
      etag: true,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        const usage = deps.store.folders.usage(account.id);
        return {
          data: {
            quota_bytes: account.quotaBytes,
            used_bytes: usage.bytes,
            messages: usage.messages,
            usage_ratio: account.quotaBytes ? usage.bytes / account.quotaBytes : null,
          },
        };
      },
    }),
    defineRoute({
      method: 'PUT',
      path: '/mailboxes/{id}/password',
      summary: 'Set the IMAP/SMTP password',
      tag,
      permission: 'mailbox.admin.manage',
      body: z.object({ password }).strict(),
      response: z.object({ id: z.string(), password_set: z.literal(true) }),
      handler: async ({ key, params, body }) => {
        const found = await loadMailbox(deps, key, params.id!);
        await setMailboxPassword(deps, found.id, body.password);
        return { data: { id: params.id!, password_set: true as const } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailboxes/{id}/aliases',
      summary: "List a mailbox's extra addresses",
      tag,
      permission: 'mailbox.admin.read',
      response: z.object({ address: z.string() }),
      list: true,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        return {
          data: (await deps.store.addresses.accountAliases(account.id)).map((address) => ({ address })),
          pagination: { has_more: false },
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/mailboxes/{id}/aliases',
      summary: 'Add an address that delivers to this mailbox',
      tag,
      permission: 'mailbox.admin.manage',
      body: z.object({ address: emailAddress }).strict(),
      response: mailboxSchema,
      status: 201,
      idempotent: true,
      errors: ['conflict', 'validation_error'],
      handler: async ({ key, params, body }) => {
        const account = await loadMailbox(deps, key, params.id!);
        await addAlias(deps, account, body.address);
        return {
          data: await mailboxView(deps, account),
          location: `/api/v1/mailboxes/${params.id!}/aliases/${encodeURIComponent(body.address)}`,
        };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/mailboxes/{id}/aliases/{address}',
      summary: 'Remove an extra address',
      tag,
      permission: 'mailbox.admin.manage',
      response: mailboxSchema,
      handler: async ({ key, params }) => {
        const account = await loadMailbox(deps, key, params.id!);
        await removeAlias(deps, account, params.address!);
        return { data: await mailboxView(deps, account) };
      },
    }),
  ];
};
