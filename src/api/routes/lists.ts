import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import type { MailList } from '../../store/lists.ts';
import { createList, updateList } from '../../services/lists.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, iso, timestamp } from '../schemas.ts';
import { createListBody, patchListBody } from '../views/lists.ts';

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

async function loadList(deps: ApiDeps, caller: ApiKey, id: string): Promise<MailList> {
  const list = await deps.lists.get(parsePublicId('lst', id));
  if (!list || list.teamId !== caller.teamId) throw new ApiError('not_found', `no list ${id}`, 'id');
  return list;
}

const tag = 'Lists';

/** Distribution lists and forwarders: one address delivering to local mailboxes and/or external addresses. */
export const listRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/lists',
    summary: 'List distribution lists and forwarders',
    tag,
    permission: 'list.read',
    query: z.object(pageQuery).strict(),
    response: listSchema,
    list: true,
    handler: async ({ key, query }) => {
      const page = paginate(await deps.lists.listForTeam(key.teamId), (l) => ({ t: l.createdAt, id: l.id }), query);
      return { data: page.items.map(listView), pagination: page.pagination };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/lists',
    summary: 'Create a list or forwarder',
    tag,
    permission: 'list.create',
    body: createListBody,
    response: listSchema,
    status: 201,
    idempotent: true,
    errors: ['conflict', 'validation_error'],
    handler: async ({ key, body }) => {
      const list = await createList(deps, key.teamId, body);
      return { data: listView(list), location: `/api/v1/lists/${publicId('lst', list.id)}` };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/lists/{id}',
    summary: 'Get a list',
    tag,
    permission: 'list.read',
    response: listSchema,
    etag: true,
    handler: async ({ key, params }) => ({ data: listView(await loadList(deps, key, params.id!)) }),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/lists/{id}',
    summary: 'Update a list (members replace the current ones)',
    tag,
    permission: 'list.update',
    body: patchListBody,
    response: listSchema,
    ifMatch: true,
    errors: ['conflict', 'validation_error'],
    handler: async ({ ctx, key, params, body }) => {
      const list = await loadList(deps, key, params.id!);
      checkIfMatch(ctx, listView(list));
      return { data: listView(await updateList(deps, list, body)) };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/lists/{id}',
    summary: 'Delete a list',
    tag,
    permission: 'list.delete',
    response: deleted,
    ifMatch: true,
    handler: async ({ ctx, key, params }) => {
      const list = await loadList(deps, key, params.id!);
      checkIfMatch(ctx, listView(list));
      await deps.lists.remove(list);
      return { data: { id: params.id!, deleted: true as const } };
    },
  }),
];
