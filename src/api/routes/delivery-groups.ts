// Delivery groups (docs/API.md §12.3): a team's providers grouped, and the sender domains whose
// outbound mail goes through the group (store.queue.relays routes) instead of straight to MX hosts.
import { z } from 'zod';
import type { ApiKey } from '../../store/index.ts';
import type { RelayGroup } from '../../store/relays.ts';
import { newId } from '../../store/teams.ts';
import { MAX_PER_TEAM, moveRelays, teamGroups, teamRelays, underRelayLock } from '../../services/relays.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, domainName, iso, timestamp } from '../schemas.ts';
import { loadGroup, loadRelay } from '../views/providers.ts';

const groupSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  provider_ids: z.array(z.string()),
  active_provider_count: z.number().int(),
  domains: z.array(z.string()).describe('sender domains whose outbound mail goes through this group'),
  api_key_ids: z
    .array(z.string())
    .describe('sending keys whose mail goes through this group (POST /api-keys delivery_group_id)'),
  created_at: timestamp,
});

const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL');
const fields = {
  name: text(200).pipe(z.string().min(1)),
  description: text(1000).nullable(),
  provider_ids: z
    .array(z.string().max(64))
    .max(MAX_PER_TEAM)
    .describe('providers to put in the group (they leave any other group)'),
  domains: z.array(domainName).max(1000).describe("the team's domains to route through the group (replaces the list)"),
};

interface Routed {
  domains: string[];
  apiKeyIds: string[];
}

/**
 * Domains and active sending keys routed through each of these groups (a route left by a deleted
 * domain or a revoked key does not count for the team).
 */
async function routedThrough(deps: ApiDeps, groups: RelayGroup[]): Promise<Map<string, Routed>> {
  const out = new Map<string, Routed>(groups.map((g) => [g.id, { domains: [], apiKeyIds: [] }]));
  for (const { scope, groupId } of await deps.store.queue.relays.listRoutes()) {
    const group = groups.find((g) => g.id === groupId);
    if (!group) continue;
    if ('domain' in scope) {
      if ((await deps.store.domains.get(scope.domain))?.teamId === group.teamId)
        out.get(groupId)!.domains.push(scope.domain);
    } else {
      const key = await deps.store.apiKeys.get(scope.apiKeyId);
      if (key && key.teamId === group.teamId && !key.revokedAt) out.get(groupId)!.apiKeyIds.push(key.id);
    }
  }
  for (const routed of out.values()) {
    routed.domains.sort();
    routed.apiKeyIds.sort();
  }
  return out;
}

async function groupView(deps: ApiDeps, group: RelayGroup, routed: Routed): Promise<z.infer<typeof groupSchema>> {
  const relays = await teamRelays(deps, group.teamId!);
  return {
    id: publicId('grp', group.id),
    name: group.name,
    description: group.description ?? null,
    provider_ids: group.relayIds.map((id) => publicId('prv', id)),
    active_provider_count: relays.filter((r) => group.relayIds.includes(r.id) && r.weight > 0).length,
    domains: routed.domains,
    api_key_ids: routed.apiKeyIds,
    created_at: iso(group.createdAt),
  };
}

/** Body provider ids → relay ids of the caller's team (422 for any other). */
async function relayIds(deps: ApiDeps, caller: ApiKey, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, id] of ids.entries()) {
    const relay = await loadRelay(deps, caller, id, `provider_ids.${i}`).catch((err: ApiError) => {
      throw new ApiError('validation_error', err.message, err.param);
    });
    if (!out.includes(relay.id)) out.push(relay.id);
  }
  return out;
}

/** Body domains must be the caller's team's (422 otherwise). */
async function teamDomains(deps: ApiDeps, caller: ApiKey, names: string[]): Promise<string[]> {
  for (const [i, name] of names.entries()) {
    const domain = await deps.store.domains.get(name);
    if (!domain || domain.teamId !== caller.teamId)
      throw new ApiError('validation_error', `${name} is not a domain of this team`, `domains.${i}`);
  }
  return [...new Set(names)];
}

/** Routes exactly `domains` through the group: new ones are taken from any other group, dropped ones go back to direct delivery. */
async function setDomains(deps: ApiDeps, groupId: string, before: string[], domains: string[]): Promise<void> {
  for (const domain of before) if (!domains.includes(domain)) await deps.store.queue.relays.setRoute({ domain }, null);
  for (const domain of domains)
    if (!before.includes(domain)) await deps.store.queue.relays.setRoute({ domain }, groupId);
}

const tag = 'Delivery groups';

export const deliveryGroupRoutes = (deps: ApiDeps): Route[] => {
  const relays = deps.store.queue.relays;
  const view = async (group: RelayGroup) => groupView(deps, group, (await routedThrough(deps, [group])).get(group.id)!);

  return [
    defineRoute({
      method: 'GET',
      path: '/delivery-groups',
      summary: 'List delivery groups',
      tag,
      permission: 'routing.read',
      query: z.object(pageQuery).strict(),
      response: groupSchema,
      list: true,
      handler: async ({ key, query }) => {
        const groups = await teamGroups(deps, key.teamId);
        const routed = await routedThrough(deps, groups);
        const page = paginate(groups, (g) => ({ t: g.createdAt, id: g.id }), query);
        return {
          data: await Promise.all(page.items.map((g) => groupView(deps, g, routed.get(g.id)!))),
          pagination: page.pagination,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/delivery-groups',
      summary: 'Create a delivery group, optionally with providers and routed domains',
      tag,
      permission: 'routing.manage',
      body: z
        .object({
          ...fields,
          description: fields.description.optional(),
          provider_ids: fields.provider_ids.default([]),
          domains: fields.domains.default([]),
        })
        .strict(),
      response: groupSchema,
      status: 201,
      idempotent: true,
      errors: ['limit_exceeded', 'validation_error'],
      handler: async ({ key, body }) => {
        const group = await underRelayLock(deps, key.teamId, async () => {
          const members = await relayIds(deps, key, body.provider_ids);
          const domains = await teamDomains(deps, key, body.domains);
          const count = (await teamGroups(deps, key.teamId)).length;
          if (count >= MAX_PER_TEAM)
            throw new ApiError('limit_exceeded', `the team has ${count} delivery groups (limit ${MAX_PER_TEAM})`);
          const saved: RelayGroup = {
            id: newId(),
            name: body.name,
            relayIds: [],
            createdAt: Date.now(),
            teamId: key.teamId,
            description: body.description ?? null,
          };
          await relays.putGroup(saved);
          await moveRelays(deps, key.teamId, members, saved.id);
          await setDomains(deps, saved.id, [], domains);
          return (await relays.getGroup(saved.id))!;
        });
        return { data: await view(group), location: `/api/v1/delivery-groups/${publicId('grp', group.id)}` };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/delivery-groups/{id}',
      summary: 'Get a delivery group',
      tag,
      permission: 'routing.read',
      response: groupSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: await view(await loadGroup(deps, key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/delivery-groups/{id}',
      summary: 'Update a delivery group (provider_ids and domains replace the current lists)',
      tag,
      permission: 'routing.manage',
      body: z.object(fields).partial().strict(),
      response: groupSchema,
      ifMatch: true,
      errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const group = await underRelayLock(deps, key.teamId, async () => {
          const current = await loadGroup(deps, key, params.id!);
          const before = await view(current);
          checkIfMatch(ctx, before);
          const members = body.provider_ids && (await relayIds(deps, key, body.provider_ids));
          const domains = body.domains && (await teamDomains(deps, key, body.domains));
          if (body.name !== undefined || body.description !== undefined) {
            await relays.putGroup({
              ...current,
              name: body.name ?? current.name,
              description: body.description === undefined ? (current.description ?? null) : body.description,
            });
          }
          if (members) {
            await moveRelays(
              deps,
              key.teamId,
              current.relayIds.filter((id) => !members.includes(id)),
              null,
            );
            await moveRelays(deps, key.teamId, members, current.id);
          }
          if (domains) await setDomains(deps, current.id, before.domains, domains);
          return (await relays.getGroup(current.id))!;
        });
        return { data: await view(group) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/delivery-groups/{id}',
      summary:
        'Delete a delivery group (its providers stay, in no group); 409 while domains or sending keys route through it unless force=true',
      tag,
      permission: 'routing.manage',
      query: z
        .object({
          force: z
            .enum(['true', 'false'])
            .optional()
            .describe('also send its domains and keys back to direct delivery'),
        })
        .strict(),
      response: deleted,
      ifMatch: true,
      errors: ['conflict'],
      handler: async ({ ctx, key, params, query }) => {
        await underRelayLock(deps, key.teamId, async () => {
          const group = await loadGroup(deps, key, params.id!);
          const current = await view(group);
          checkIfMatch(ctx, current);
          if (current.domains.length && query.force !== 'true') {
            throw new ApiError(
              'conflict',
              `${current.domains.length} domains route through this group (${current.domains.slice(0, 3).join(', ')}); move them or pass force=true`,
            );
          }
          if (current.api_key_ids.length && query.force !== 'true') {
            throw new ApiError(
              'conflict',
              `${current.api_key_ids.length} sending keys route through this group (${current.api_key_ids.slice(0, 3).join(', ')}); revoke them or pass force=true`,
            );
          }
          await setDomains(deps, group.id, current.domains, []);
          for (const apiKeyId of current.api_key_ids) await relays.setRoute({ apiKeyId }, null);
          await relays.removeGroup(group.id);
        });
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
  ];
};
