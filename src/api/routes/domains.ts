import { createHash } from 'node:crypto';
import { DEFAULT_MAX_AGE, policyId, policyText } from '../../dns/mta-sts.ts';
import { z } from 'zod';
import { dkimStatus, generateDkimKey, newSelector } from '../../dns/dkim.ts';
import { checkRecords, type DnsRecord, domainRecords, zoneFile } from '../../dns/records.ts';
import { splitAddress } from '../../store/addresses.ts';
import { type Account, type ApiKey, type Domain, StoreError } from '../../store/index.ts';
import { type ApiDeps, teamOf, underTeamLock } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { domainPublicId, publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, domainName, iso, isoOrNull, timestamp } from '../schemas.ts';
import { dkimKeySchema, dkimView } from './dkim-view.ts';

const recordSchema = z.object({
  purpose: z.string(),
  type: z.enum(['MX', 'TXT', 'CNAME', 'SRV']),
  name: z.string(),
  value: z.string(),
  priority: z.number().int().nullable(),
  required: z.boolean(),
  status: z.enum(['ok', 'missing', 'mismatch', 'error']).nullable().describe('null unless looked up (?check=true, or verify)'),
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
const verifySchema = z.object({ id: z.string(), domain: z.string(), status: z.enum(['verified', 'failed']), verified_at: timestamp.nullable(), checks: z.array(checkSchema) });

const inDomain = (address: string, domain: string) => splitAddress(address).domain === domain;

/** The team's proof of ownership: only the team that asked for the domain can be told this value. */
const verificationToken = (teamId: string, domain: string) => createHash('sha256').update(`wrenmail-verify/${teamId}/${domain}`).digest('hex').slice(0, 32);

export function recordsFor(deps: ApiDeps, domain: Domain): DnsRecord[] {
  return domainRecords({
    domain: domain.name,
    hostname: deps.hostname,
    dkim: domain.dkim,
    verificationToken: verificationToken(domain.teamId, domain.name),
    // The id changes exactly when the served policy does, so senders refetch it then and only then.
    mtaStsId: policyId(policyText(deps.mtaSts?.defaultMode ?? 'testing', deps.hostname, deps.mtaSts?.maxAgeSeconds ?? DEFAULT_MAX_AGE)),
    ports: deps.ports,
  });
}

const recordView = (r: DnsRecord, status: z.infer<typeof recordSchema>['status'] = null): z.infer<typeof recordSchema> => ({
  purpose: r.purpose, type: r.type, name: r.name, value: r.value, priority: r.priority, required: r.required, status,
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

/** A domain of the caller's team by public id, else 404. */
export async function loadDomain(deps: ApiDeps, caller: ApiKey, id: string): Promise<Domain> {
  parsePublicId('dom', id);
  const domain = (await deps.store.domains.listForTeam(caller.teamId)).find((d) => domainPublicId(d.name) === id);
  if (!domain) throw new ApiError('not_found', `no domain ${id}`, 'id');
  return domain;
}

/** Read-modify-write of one domain record, serialised per domain; `change` sees the current record. */
export async function updateDomain(deps: ApiDeps, name: string, change: (domain: Domain) => Promise<void> | void): Promise<Domain> {
  return deps.store.directory.run(`domain/${name}`, async () => {
    const current = await deps.store.domains.get(name);
    if (!current) throw new ApiError('not_found', `no domain ${name}`, 'id');
    await change(current);
    await deps.store.domains.update(current);
    return current;
  });
}

/** Adds a domain to a team: within the team's limit (409 `limit_exceeded`), once per server (409 `conflict`). */
export async function createDomain(deps: ApiDeps, teamId: string, name: string): Promise<Domain> {
  const team = await teamOf(deps, teamId);
  return underTeamLock(deps, team.id, 'domains', async () => {
    const count = (await deps.store.domains.listForTeam(team.id)).length;
    if (count >= team.limits.maxDomains) throw new ApiError('limit_exceeded', `the team has ${count} domains (limit ${team.limits.maxDomains})`);
    try {
      return await deps.store.domains.create(team.id, name);
    } catch (err) {
      if (err instanceof StoreError && err.code === 'exists') throw new ApiError('conflict', `${name} is already hosted here`, 'domain');
      throw err;
    }
  });
}

/** Removes a domain that no mailbox, alias or list uses any more (409 `conflict` otherwise); `accounts` are its team's. */
export async function deleteDomain(deps: ApiDeps, domain: Domain, accounts: Account[]): Promise<void> {
  const mailboxes = accounts.filter((a) => inDomain(a.address, domain.name)).length;
  if (mailboxes) throw new ApiError('conflict', `${domain.name} still has ${mailboxes} mailboxes; delete them first`);
  const aliases = (await Promise.all(accounts.map((a) => deps.store.addresses.accountAliases(a.id)))).flat().filter((a) => inDomain(a, domain.name));
  const lists = (await deps.lists.listForTeam(domain.teamId)).filter((l) => inDomain(l.address, domain.name));
  if (aliases.length || lists.length) throw new ApiError('conflict', `${domain.name} still has aliases or lists; remove them first`);
  await deps.store.domains.remove(domain);
  await deps.store.queue.relays.setRoute({ domain: domain.name }, null); // a later owner of the name starts unrouted
}

const tag = 'Domains';

export const domainRoutes = (deps: ApiDeps): Route[] => {
  const view = async (domain: Domain) => domainView(deps, domain, await deps.store.accounts.listForTeam(domain.teamId));

  return [
    defineRoute({
      method: 'GET', path: '/domains', summary: 'List domains', tag, permission: 'domain.read',
      query: z.object(pageQuery).strict(), response: domainSchema, list: true,
      handler: async ({ key, query }) => {
        const page = paginate(await deps.store.domains.listForTeam(key.teamId), (d) => ({ t: d.createdAt, id: d.name }), query);
        const accounts = await deps.store.accounts.listForTeam(key.teamId);
        return { data: page.items.map((d) => domainView(deps, d, accounts)), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST', path: '/domains', summary: 'Add a domain (an RSA-2048 DKIM key is created with it)', tag, permission: 'domain.create',
      body: z.object({ domain: domainName, mode: z.literal('send_receive').optional() }).strict(),
      response: domainSchema, status: 201, idempotent: true, errors: ['conflict', 'limit_exceeded'],
      handler: async ({ key, body }) => {
        const dkim = await generateDkimKey('rsa-sha256', newSelector('rsa-sha256'));
        dkim.active = true;
        const domain = await createDomain(deps, key.teamId, body.domain);
        const saved = await updateDomain(deps, domain.name, (d) => void d.dkim.push(dkim));
        return { data: await view(saved), location: `/api/v1/domains/${domainPublicId(saved.name)}` };
      },
    }),
    defineRoute({
      method: 'GET', path: '/domains/{id}', summary: 'Get a domain', tag, permission: 'domain.read', response: domainSchema, etag: true,
      handler: async ({ key, params }) => ({ data: await view(await loadDomain(deps, key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH', path: '/domains/{id}', summary: 'Update a domain (catch-all mailbox)', tag, permission: 'domain.update',
      body: z.object({ mode: z.literal('send_receive').optional(), catch_all_mailbox_id: z.string().max(64).nullable().optional() }).strict(),
      response: domainSchema, ifMatch: true, errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const found = await loadDomain(deps, key, params.id!);
        let catchAll: string | null | undefined;
        if (body.catch_all_mailbox_id !== undefined && body.catch_all_mailbox_id !== null) {
          const id = body.catch_all_mailbox_id;
          const account = /^mbx_[0-9a-hjkmnp-tv-z]{26}$/.test(id) ? await deps.store.accounts.get(id.slice(4)) : undefined;
          if (!account || account.teamId !== key.teamId) throw new ApiError('validation_error', `no mailbox ${id} in this team`, 'catch_all_mailbox_id');
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
      method: 'DELETE', path: '/domains/{id}', summary: 'Delete a domain (409 while it has mailboxes, aliases or lists)', tag, permission: 'domain.delete',
      response: deleted, ifMatch: true, errors: ['conflict'],
      handler: async ({ ctx, key, params }) => {
        const domain = await loadDomain(deps, key, params.id!);
        const accounts = await deps.store.accounts.listForTeam(key.teamId);
        checkIfMatch(ctx, domainView(deps, domain, accounts));
        await deleteDomain(deps, domain, accounts);
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    defineRoute({
      method: 'GET', path: '/domains/{id}/dns-records', summary: 'The DNS records the domain needs (check=true looks them up)', tag, permission: 'domain.read',
      query: z.object({ check: z.enum(['true', 'false']).optional().describe('look each record up and report its status') }).strict(),
      response: recordSchema, list: true, errors: ['service_unavailable'],
      handler: async ({ key, params, query }) => {
        const domain = await loadDomain(deps, key, params.id!);
        const records = recordsFor(deps, domain);
        if (query.check !== 'true') return { data: records.map((r) => recordView(r)) };
        const checks = await checkRecords(records, resolverOf(deps), deps.hostname);
        return { data: checks.map((c) => recordView(c.record, c.status)) };
      },
    }),
    defineRoute({
      method: 'GET', path: '/domains/{id}/zone-file', summary: 'The records as a BIND zone fragment', tag, permission: 'domain.read', raw: 'text/plain',
      handler: async ({ key, params }) => {
        const domain = await loadDomain(deps, key, params.id!);
        return { raw: zoneFile(domain.name, recordsFor(deps, domain)), contentType: 'text/plain; charset=utf-8', filename: `${domain.name}.zone` };
      },
    }),
    defineRoute({
      method: 'POST', path: '/domains/{id}/verify', summary: 'Look the records up in DNS; verified when every required one is right', tag, permission: 'domain.verify',
      response: verifySchema, idempotent: true, errors: ['service_unavailable'],
      handler: async ({ key, params }) => {
        const found = await loadDomain(deps, key, params.id!);
        const checks = await checkRecords(recordsFor(deps, found), resolverOf(deps), deps.hostname);
        const passed = checks.every((c) => !c.record.required || c.status === 'ok');
        const published = new Set(checks.filter((c) => c.record.purpose === 'dkim' && c.status === 'ok').map((c) => c.record.selector));
        let transition: 'domain.verified' | 'domain.verification_failed' | null = null;
        const saved = await updateDomain(deps, found.name, (d) => {
          promoteDkim(d, published);
          if (passed && !d.verifiedAt) transition = 'domain.verified';
          if (!passed && d.verifiedAt) transition = 'domain.verification_failed';
          d.verifiedAt = passed ? (d.verifiedAt ?? Date.now()) : null;
        });
        if (transition) await deps.store.emit({ type: transition, teamId: saved.teamId, data: { domain_id: params.id!, domain: saved.name } });
        return {
          data: {
            id: params.id!,
            domain: saved.name,
            status: passed ? 'verified' as const : 'failed' as const,
            verified_at: isoOrNull(saved.verifiedAt),
            checks: checks.map((c) => ({ ...recordView(c.record, c.status), found: c.found, ...(c.error ? { error: c.error } : {}) })),
          },
        };
      },
    }),
  ];
};

function resolverOf(deps: ApiDeps) {
  if (!deps.resolver) throw new ApiError('service_unavailable', 'DNS lookups are not configured on this server');
  return deps.resolver;
}

/** A pending DKIM key whose record is now in DNS becomes the signing key; older active keys of its algorithm retire. */
function promoteDkim(domain: Domain, published: Set<string | undefined>): void {
  for (const key of domain.dkim) {
    if (key.active || dkimStatus(key, domain.dkim) !== 'pending' || !published.has(key.selector)) continue;
    for (const other of domain.dkim) if (other.active && other.algorithm === key.algorithm) other.active = false;
    key.active = true;
  }
}
