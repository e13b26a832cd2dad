import { z } from 'zod';
import { addKey, removeKey, SELECTOR } from '../../services/dkim.ts';
import type { DkimKey, Domain } from '../../store/index.ts';
import { domainPublicId } from '../../store/public-ids.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted } from '../schemas.ts';
import { dkimKeySchema, dkimView } from '../views/dkim.ts';
import { loadDomain } from '../views/domains.ts';

function findKey(domain: Domain, keyId: string): DkimKey {
  const selector = /^dkim_(.+)$/.exec(keyId)?.[1];
  const key = selector === undefined ? undefined : domain.dkim.find((k) => k.selector === selector);
  if (!key)
    throw new ApiError('not_found', `no DKIM key ${JSON.stringify(keyId.slice(0, 80))} on ${domain.name}`, 'key_id');
  return key;
}

const tag = 'DKIM';

export const dkimRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET',
    path: '/domains/{id}/dkim',
    summary: "List a domain's DKIM keys",
    tag,
    permission: 'domain.read',
    response: dkimKeySchema,
    list: true,
    handler: async ({ key, params }) => {
      const domain = await loadDomain(deps, key, params.id!);
      return { data: domain.dkim.map((k) => dkimView(domain, k)), pagination: { has_more: false } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/domains/{id}/dkim',
    summary: 'Create a DKIM key (RSA-2048 or Ed25519)',
    tag,
    permission: 'domain.update',
    body: z
      .object({
        algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']).default('rsa-sha256'),
        selector: z.string().max(63).regex(SELECTOR, 'expected a DNS label (a-z, 0-9, -)').optional(),
      })
      .strict(),
    response: dkimKeySchema,
    status: 201,
    idempotent: true,
    errors: ['conflict', 'limit_exceeded'],
    handler: async ({ key: caller, params, body }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const { domain, key } = await addKey(deps, found.name, body.algorithm, body.selector);
      return {
        data: dkimView(domain, key),
        location: `/api/v1/domains/${domainPublicId(domain.name)}/dkim/dkim_${key.selector}`,
      };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/domains/{id}/dkim/{key_id}/rotate',
    summary: 'Start a rotation: a new key of the same algorithm, pending until verify finds it in DNS',
    tag,
    permission: 'domain.update',
    response: dkimKeySchema,
    status: 201,
    idempotent: true,
    errors: ['limit_exceeded'],
    handler: async ({ key: caller, params }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const old = findKey(found, params.key_id!);
      const { domain, key } = await addKey(deps, found.name, old.algorithm);
      return {
        data: dkimView(domain, key),
        location: `/api/v1/domains/${domainPublicId(domain.name)}/dkim/dkim_${key.selector}`,
      };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/domains/{id}/dkim/{key_id}',
    summary: 'Delete a DKIM key',
    tag,
    permission: 'domain.update',
    response: deleted,
    handler: async ({ key: caller, params }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const { selector } = findKey(found, params.key_id!);
      await removeKey(deps, found.name, selector);
      return { data: { id: params.key_id!, deleted: true as const } };
    },
  }),
];
