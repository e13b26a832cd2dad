import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import { StoreError } from '../../store/index.ts';
import type { MailList } from '../../store/lists.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, emailAddress, iso, timestamp } from '../schemas.ts';
import { assertTeamDomain, listTargets } from './mailboxes.ts';

const MAX_MEMBERS = 1000;

const listSchema = z.object({
  id: z.string(),
  name: z.string(),
  email: z.string(),
  description: z.string().nullable(),
  members: z.array(z.string()).describe('mailbox ids'),
  external_members: z.array(z.string()).describe('addresses elsewhere (forwarding)'),
  created_at: timestamp,
});

const listView = (list: MailList): z.infer<typeof listSchema> => ({
  id: publicId('lst', list.id),
  name: list.name,
  email: list.address,
  description: list.description,
  members: list.members.map((id) => publicId('mbx', id)),
  external_members: list.externalMembers,
  created_at: iso(list.createdAt),
});

const text = (max: number) => z.string().trim().max(max).refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL');
const fields = {
  name: text(200).pipe(z.string().min(1)),
  email: emailAddress,
  description: text(1000).nullable(),
  members: z.array(z.string().max(64)).max(MAX_MEMBERS),
  external_members: z.array(emailAddress).max(MAX_MEMBERS),
};

export const createListBody = z.object({ ...fields, description: fields.description.optional(), members: fields.members.default([]), external_members: fields.external_members.default([]) }).strict();
export const patchListBody = z.object(fields).partial().strict();

async function loadList(deps: ApiDeps, caller: ApiKey, id: string): Promise<MailList> {
  const list = await deps.lists.get(parsePublicId('lst', id));
  if (!list || list.teamId !== caller.teamId) throw new ApiError('not_found', `no list ${id}`, 'id');
  return list;
}

/** Member mailbox ids must be the caller's team's (422 otherwise); returns store ids. */
async function memberIds(deps: ApiDeps, teamId: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, id] of ids.entries()) {
    const account = /^mbx_[0-9a-hjkmnp-tv-z]{26}$/.test(id) ? await deps.store.accounts.get(id.slice(4)) : undefined;
    if (!account || account.teamId !== teamId) throw new ApiError('validation_error', `no mailbox ${JSON.stringify(id)} in this team`, `members.${i}`);
    if (!out.includes(account.id)) out.push(account.id);
  }
  return out;
}

const taken = (err: unknown, address: string): unknown =>
  err instanceof StoreError && err.code === 'exists' ? new ApiError('conflict', `${address} is taken`, 'email') : err;

/** Creates a list at a free address (409 `conflict`) of a team domain (422), with at least one member (422). */
export async function createList(deps: ApiDeps, teamId: string, body: z.output<typeof createListBody>): Promise<MailList> {
  await assertTeamDomain(deps, teamId, body.email, 'email');
  if (body.members.length + body.external_members.length === 0) throw new ApiError('validation_error', 'a list needs at least one member', 'members');
  const input = {
    teamId, name: body.name, address: body.email, description: body.description ?? null,
    members: await memberIds(deps, teamId, body.members), externalMembers: [...new Set(body.external_members)],
  };
  return deps.lists.create(input, await listTargets(deps, input)).catch((err) => Promise.reject(taken(err, body.email)));
}

/** Applies the given fields (members replace the current ones) under the same rules as creation; returns the saved list. */
export async function updateList(deps: ApiDeps, list: MailList, body: z.output<typeof patchListBody>): Promise<MailList> {
  if (body.email !== undefined) await assertTeamDomain(deps, list.teamId, body.email, 'email');
  const next: MailList = {
    ...list,
    name: body.name ?? list.name,
    address: body.email ?? list.address,
    description: body.description === undefined ? list.description : body.description,
    members: body.members === undefined ? list.members : await memberIds(deps, list.teamId, body.members),
    externalMembers: body.external_members === undefined ? list.externalMembers : [...new Set(body.external_members)],
  };
  if (next.members.length + next.externalMembers.length === 0) throw new ApiError('validation_error', 'a list needs at least one member', 'members');
  await deps.lists.update(list, next, await listTargets(deps, next)).catch((err) => Promise.reject(taken(err, next.address)));
  return next;
}

const tag = 'Lists';

/** Distribution lists and forwarders: one address delivering to local mailboxes and/or external addresses. */
export const listRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET', path: '/lists', summary: 'List distribution lists and forwarders', tag, permission: 'list.read',
    query: z.object(pageQuery).strict(), response: listSchema, list: true,
    handler: async ({ key, query }) => {
      const page = paginate(await deps.lists.listForTeam(key.teamId), (l) => ({ t: l.createdAt, id: l.id }), query);
      return { data: page.items.map(listView), pagination: page.pagination };
    },
  }),
  defineRoute({
    method: 'POST', path: '/lists', summary: 'Create a list or forwarder', tag, permission: 'list.create',
    body: createListBody,
    response: listSchema, status: 201, idempotent: true, errors: ['conflict', 'validation_error'],
    handler: async ({ key, body }) => {
      const list = await createList(deps, key.teamId, body);
      return { data: listView(list), location: `/api/v1/lists/${publicId('lst', list.id)}` };
    },
  }),
  defineRoute({
    method: 'GET', path: '/lists/{id}', summary: 'Get a list', tag, permission: 'list.read', response: listSchema, etag: true,
    handler: async ({ key, params }) => ({ data: listView(await loadList(deps, key, params.id!)) }),
  }),
  defineRoute({
    method: 'PATCH', path: '/lists/{id}', summary: 'Update a list (members replace the current ones)', tag, permission: 'list.update',
    body: patchListBody, response: listSchema, ifMatch: true, errors: ['conflict', 'validation_error'],
    handler: async ({ ctx, key, params, body }) => {
      const list = await loadList(deps, key, params.id!);
      checkIfMatch(ctx, listView(list));
      return { data: listView(await updateList(deps, list, body)) };
    },
  }),
  defineRoute({
    method: 'DELETE', path: '/lists/{id}', summary: 'Delete a list', tag, permission: 'list.delete', response: deleted, ifMatch: true,
    handler: async ({ ctx, key, params }) => {
      const list = await loadList(deps, key, params.id!);
      checkIfMatch(ctx, listView(list));
      await deps.lists.remove(list);
      return { data: { id: params.id!, deleted: true as const } };
    },
  }),
];
