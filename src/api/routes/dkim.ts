import { z } from 'zod';
import { generateDkimKey, newSelector } from '../../dns/dkim.ts';
import type { DkimKey, Domain } from '../../store/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { domainPublicId } from '../../store/public-ids.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted } from '../schemas.ts';
import { dkimKeySchema, dkimView } from './dkim-view.ts';
import { loadDomain, updateDomain } from './domains.ts';

const MAX_KEYS_PER_DOMAIN = 10;
export const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function findKey(domain: Domain, keyId: string): DkimKey {
  const selector = /^dkim_(.+)$/.exec(keyId)?.[1];
  const key = selector === undefined ? undefined : domain.dkim.find((k) => k.selector === selector);
  if (!key) throw new ApiError('not_found', `no DKIM key ${JSON.stringify(keyId.slice(0, 80))} on ${domain.name}`, 'key_id');
  return key;
}

/**
 * Adds a generated key: it signs at once when its algorithm has no signing key yet, else it waits
 * (pending) until verify finds it in DNS, so a rotation never signs with an unpublished key.
 */
export async function addKey(deps: ApiDeps, domainName: string, algorithm: DkimKey['algorithm'], selector?: string): Promise<{ domain: Domain; key: DkimKey }> {
  const key = await generateDkimKey(algorithm, selector ?? newSelector(algorithm));
  const domain = await updateDomain(deps, domainName, (d) => {
    if (d.dkim.length >= MAX_KEYS_PER_DOMAIN) throw new ApiError('limit_exceeded', `a domain holds at most ${MAX_KEYS_PER_DOMAIN} DKIM keys; delete one first`);
    if (d.dkim.some((k) => k.selector === key.selector)) throw new ApiError('conflict', `selector ${key.selector} is in use`, 'selector');
    key.active = !d.dkim.some((k) => k.active && k.algorithm === algorithm);
    d.dkim.push(key);
  });
  return { domain, key };
}

const tag = 'DKIM';

export const dkimRoutes = (deps: ApiDeps): Route[] => [
  defineRoute({
    method: 'GET', path: '/domains/{id}/dkim', summary: 'List a domain\'s DKIM keys', tag, permission: 'domain.read',
    response: dkimKeySchema, list: true,
    handler: async ({ key, params }) => {
      const domain = await loadDomain(deps, key, params.id!);
      return { data: domain.dkim.map((k) => dkimView(domain, k)), pagination: { has_more: false } };
    },
  }),
  defineRoute({
    method: 'POST', path: '/domains/{id}/dkim', summary: 'Create a DKIM key (RSA-2048 or Ed25519)', tag, permission: 'domain.update',
    body: z.object({
      algorithm: z.enum(['rsa-sha256', 'ed25519-sha256']).default('rsa-sha256'),
      selector: z.string().max(63).regex(SELECTOR, 'expected a DNS label (a-z, 0-9, -)').optional(),
    }).strict(),
    response: dkimKeySchema, status: 201, idempotent: true, errors: ['conflict', 'limit_exceeded'],
    handler: async ({ key: caller, params, body }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const { domain, key } = await addKey(deps, found.name, body.algorithm, body.selector);
      return { data: dkimView(domain, key), location: `/api/v1/domains/${domainPublicId(domain.name)}/dkim/dkim_${key.selector}` };
    },
  }),
  defineRoute({
    method: 'POST', path: '/domains/{id}/dkim/{key_id}/rotate', summary: 'Start a rotation: a new key of the same algorithm, pending until verify finds it in DNS', tag, permission: 'domain.update',
    response: dkimKeySchema, status: 201, idempotent: true, errors: ['limit_exceeded'],
    handler: async ({ key: caller, params }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const old = findKey(found, params.key_id!);
      const { domain, key } = await addKey(deps, found.name, old.algorithm);
      return { data: dkimView(domain, key), location: `/api/v1/domains/${domainPublicId(domain.name)}/dkim/dkim_${key.selector}` };
    },
  }),
  defineRoute({
    method: 'DELETE', path: '/domains/{id}/dkim/{key_id}', summary: 'Delete a DKIM key', tag, permission: 'domain.update',
    response: deleted,
    handler: async ({ key: caller, params }) => {
      const found = await loadDomain(deps, caller, params.id!);
      const { selector } = findKey(found, params.key_id!);
      await updateDomain(deps, found.name, (d) => {
        d.dkim = d.dkim.filter((k) => k.selector !== selector);
      });
      return { data: { id: params.key_id!, deleted: true as const } };
    },
  }),
];
