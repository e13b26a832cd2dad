import { z } from 'zod';
import { generateDkimKey, newSelector } from '../../dns/dkim.ts';
import { checkRecords, type DnsRecord, zoneFile } from '../../dns/records.ts';
import {
  createDomain,
  deleteDomain,
  inDomain,
  recordsFor,
  updateDomain,
  verifyDomain,
} from '../../services/domains.ts';
import type { Account, Domain } from '../../store/index.ts';
import { domainPublicId, publicId } from '../../store/public-ids.ts';
import { type ApiDeps, resolverOf, teamOf } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, domainName, iso, isoOrNull, timestamp } from '../schemas.ts';
import { dkimKeySchema, dkimView } from '../views/dkim.ts';
import { loadDomain } from '../views/domains.ts';

const recordSchema = z.object({
  purpose: z.string(),
  type: z.enum(['MX', 'TXT', 'CNAME', 'SRV']),
  name: z.string(),
  value: z.string(),
  priority: z.number().int().nullable(),
  required: z.boolean(),
  status: z
    .enum(['ok', 'missing', 'mismatch', 'error'])
    .nullable()
    .describe('null unless looked up (?check=true, or verify)'),
});

export const domainSchema = z.object({
  id: z.string(),
  domain: z.string(),
  mode: z.literal('send_receive'),
  verification_status: z.enum(['pending', 'verified']),
  verified_at: timestamp.nullable(),
  created_at: timestamp,
  mailbox_count: z.number().int(),
  catch_all_mailbox_id: z.string().nullable(),
  dkim: z.array(dkimKeySchema),
  dns_records: z.array(recordSchema),
});

const checkSchema = recordSchema.extend({ found: z.array(z.string()), error: z.string().optional() });
const verifySchema = z.object({
  id: z.string(),
  domain: z.string(),
  status: z.enum(['verified', 'failed']),
  verified_at: timestamp.nullable(),
  checks: z.array(checkSchema),
});

const recordView = (
  r: DnsRecord,
  status: z.infer<typeof recordSchema>['status'] = null,
): z.infer<typeof recordSchema> => ({
  purpose: r.purpose,
  type: r.type,
  name: r.name,
  value: r.value,
  priority: r.priority,
  required: r.required,
  status,
});

export function domainView(deps: ApiDeps, domain: Domain, accounts: Account[]): z.infer<typeof domainSchema> {
  return {
    id: domainPublicId(domain.name),
    domain: domain.name,
    mode: 'send_receive',
    verification_status: domain.verifiedAt ? 'verified' : 'pending',
    verified_at: isoOrNull(domain.verifiedAt),
    created_at: iso(domain.createdAt),
    mailbox_count: accounts.filter((a) => inDomain(a.address, domain.name)).length,
    catch_all_mailbox_id: domain.catchAll ? publicId('mbx', domain.catchAll) : null,
    dkim: domain.dkim.map((k) => dkimView(domain, k)),
    dns_records: recordsFor(deps, domain).map((r) => recordView(r)),
  };
}

const tag = 'Domains';

export const domainRoutes = (deps: ApiDeps): Route[] => {
  const view = async (domain: Domain) => domainView(deps, domain, await deps.store.accounts.listForTeam(domain.teamId));

  return [
    defineRoute({
      method: 'GET',
      path: '/domains',
      summary: 'List domains',
      tag,
      permission: 'domain.read',
      query: z.object(pageQuery).strict(),
      response: domainSchema,
      list: true,
      handler: async ({ key, query }) => {
        const page = paginate(
          await deps.store.domains.listForTeam(key.teamId),
          (d) => ({ t: d.createdAt, id: d.name }),
          query,
        );
        const accounts = await deps.store.accounts.listForTeam(key.teamId);
        return { data: page.items.map((d) => domainView(deps, d, accounts)), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/domains',
      summary: 'Add a domain (an RSA-2048 DKIM key is created with it)',
      tag,
      permission: 'domain.create',
      body: z.object({ domain: domainName, mode: z.literal('send_receive').optional() }).strict(),
      response: domainSchema,
      status: 201,
      idempotent: true,
      errors: ['conflict', 'limit_exceeded'],
      handler: async ({ key, body }) => {
        const dkim = await generateDkimKey('rsa-sha256', newSelector('rsa-sha256'));
        dkim.active = true;
        const domain = await createDomain(deps, await teamOf(deps, key.teamId), body.domain);
        const saved = await updateDomain(deps, domain.name, (d) => void d.dkim.push(dkim));
        return { data: await view(saved), location: `/api/v1/domains/${domainPublicId(saved.name)}` };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/domains/{id}',
      summary: 'Get a domain',
      tag,
      permission: 'domain.read',
      response: domainSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: await view(await loadDomain(deps, key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/domains/{id}',
      summary: 'Update a domain (catch-all mailbox)',
      tag,
      permission: 'domain.update',
      body: z
        .object({
          mode: z.literal('send_receive').optional(),
          catch_all_mailbox_id: z.string().max(64).nullable().optional(),
        })
        .strict(),
      response: domainSchema,
      ifMatch: true,
      errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const found = await loadDomain(deps, key, params.id!);
        let catchAll: string | null | undefined;
        if (body.catch_all_mailbox_id !== undefined && body.catch_all_mailbox_id !== null) {
          const id = body.catch_all_mailbox_id;
          const account = /^mbx_[0-9a-hjkmnp-tv-z]{26}$/.test(id)
            ? await deps.store.accounts.get(id.slice(4))
            : undefined;
          if (!account || account.teamId !== key.teamId)
            throw new ApiError('validation_error', `no mailbox ${id} in this team`, 'catch_all_mailbox_id');
          catchAll = account.id;
        } else catchAll = body.catch_all_mailbox_id;
        const accounts = await deps.store.accounts.listForTeam(key.teamId);
        const saved = await updateDomain(deps, found.name, (d) => {
          checkIfMatch(ctx, domainView(deps, d, accounts));
          if (catchAll !== undefined) d.catchAll = catchAll;
        });
        return { data: domainView(deps, saved, accounts) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/domains/{id}',
      summary: 'Delete a domain (409 while it has mailboxes, aliases or lists)',
      tag,
      permission: 'domain.delete',
      response: deleted,
      ifMatch: true,
      errors: ['conflict'],
      handler: async ({ ctx, key, params }) => {
        const domain = await loadDomain(deps, key, params.id!);
        const accounts = await deps.store.accounts.listForTeam(key.teamId);
        checkIfMatch(ctx, domainView(deps, domain, accounts));
        await deleteDomain(deps, domain, accounts);
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/domains/{id}/dns-records',
      summary: 'The DNS records the domain needs (check=true looks them up)',
      tag,
      permission: 'domain.read',
      query: z
        .object({ check: z.enum(['true', 'false']).optional().describe('look each record up and report its status') })
        .strict(),
      response: recordSchema,
      list: true,
      errors: ['service_unavailable'],
      handler: async ({ key, params, query }) => {
        const domain = await loadDomain(deps, key, params.id!);
        const records = recordsFor(deps, domain);
        if (query.check !== 'true') return { data: records.map((r) => recordView(r)) };
        const checks = await checkRecords(records, resolverOf(deps), deps.hostname);
        return { data: checks.map((c) => recordView(c.record, c.status)) };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/domains/{id}/zone-file',
      summary: 'The records as a BIND zone fragment',
      tag,
      permission: 'domain.read',
      raw: 'text/plain',
      handler: async ({ key, params }) => {
        const domain = await loadDomain(deps, key, params.id!);
        return {
          raw: zoneFile(domain.name, recordsFor(deps, domain)),
          contentType: 'text/plain; charset=utf-8',
          filename: `${domain.name}.zone`,
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/domains/{id}/verify',
      summary: 'Look the records up in DNS; verified when every required one is right',
      tag,
      permission: 'domain.verify',
      response: verifySchema,
      idempotent: true,
      errors: ['service_unavailable'],
      handler: async ({ key, params }) => {
        const found = await loadDomain(deps, key, params.id!);
        const { domain: saved, passed, checks } = await verifyDomain(deps, deps, resolverOf(deps), found);
        return {
          data: {
            id: params.id!,
            domain: saved.name,
            status: passed ? ('verified' as const) : ('failed' as const),
            verified_at: isoOrNull(saved.verifiedAt),
            checks: checks.map((c) => ({
              ...recordView(c.record, c.status),
              found: c.found,
              ...(c.error ? { error: c.error } : {}),
            })),
          },
        };
      },
    }),
  ];
};
