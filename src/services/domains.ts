// Domains: a team's hosted domains, the DNS records each needs, their verification, and their removal.
import { createHash } from 'node:crypto';
import { dkimStatus } from '../dns/dkim.ts';
import { DEFAULT_MAX_AGE, type MtaStsMode, policyId, policyText } from '../dns/mta-sts.ts';
import { checkRecords, type DnsRecord, domainRecords, type RecordCheck } from '../dns/records.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import { splitAddress } from '../store/addresses.ts';
import { type Account, type Domain, StoreError, type Team } from '../store/index.ts';
import { domainPublicId } from '../store/public-ids.ts';
import { type ServiceDeps, ServiceError } from './index.ts';

/** What a domain's DNS records point at: this server's name and ports, and the MTA-STS policy it serves. */
export interface DnsSettings {
  hostname: string;
  ports: { imaps: number; submission: number; submissions: number };
  mtaSts?: { defaultMode?: MtaStsMode; maxAgeSeconds?: number } | undefined;
}

export const inDomain = (address: string, domain: string): boolean => splitAddress(address).domain === domain;

/** The team's proof of ownership: only the team that asked for the domain can be told this value. */
const verificationToken = (teamId: string, domain: string) =>
  createHash('sha256').update(`wrenmail-verify/${teamId}/${domain}`).digest('hex').slice(0, 32);

/** The records a hosted domain needs (MX, SPF, DKIM, DMARC, MTA-STS, autoconfig, ownership). */
export function recordsFor(settings: DnsSettings, domain: Domain): DnsRecord[] {
  return domainRecords({
    domain: domain.name,
    hostname: settings.hostname,
    dkim: domain.dkim,
    verificationToken: verificationToken(domain.teamId, domain.name),
    // The id changes exactly when the served policy does, so senders refetch it then and only then.
    mtaStsId: policyId(
      policyText(
        settings.mtaSts?.defaultMode ?? 'testing',
        settings.hostname,
        settings.mtaSts?.maxAgeSeconds ?? DEFAULT_MAX_AGE,
      ),
    ),
    ports: settings.ports,
  });
}

/** Read-modify-write of one domain record, serialised per domain; `change` sees the current record. */
export async function updateDomain(
  deps: Pick<ServiceDeps, 'store'>,
  name: string,
  change: (domain: Domain) => Promise<void> | void,
): Promise<Domain> {
  return deps.store.directory.run(`domain/${name}`, async () => {
    const current = await deps.store.domains.get(name);
    if (!current) throw new ServiceError('not_found', `no domain ${name}`, 'id');
    await change(current);
    await deps.store.domains.update(current);
    return current;
  });
}

/** Adds a domain to a team: within the team's limit (`limit_exceeded`), once per server (`conflict`). */
export async function createDomain(deps: ServiceDeps, team: Team, name: string): Promise<Domain> {
  try {
    // The limit is checked in the batch that creates it (store/team-tallies.ts): on a shared store too.
    return await deps.store.domains.create(team.id, name, team.limits.maxDomains);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'limit') throw new ServiceError('limit_exceeded', err.message);
    if (err instanceof StoreError && err.code === 'exists')
      throw new ServiceError('conflict', `${name} is already hosted here`, 'domain');
    throw err;
  }
}

/** Removes a domain that no mailbox, alias or list uses any more (`conflict` otherwise); `accounts` are its team's. */
export async function deleteDomain(deps: ServiceDeps, domain: Domain, accounts: Account[]): Promise<void> {
  const mailboxes = accounts.filter((a) => inDomain(a.address, domain.name)).length;
  if (mailboxes)
    throw new ServiceError('conflict', `${domain.name} still has ${mailboxes} mailboxes; delete them first`);
  const aliases = (await Promise.all(accounts.map((a) => deps.store.addresses.accountAliases(a.id))))
    .flat()
    .filter((a) => inDomain(a, domain.name));
  const lists = (await deps.lists.listForTeam(domain.teamId)).filter((l) => inDomain(l.address, domain.name));
  if (aliases.length || lists.length)
    throw new ServiceError('conflict', `${domain.name} still has aliases or lists; remove them first`);
  await deps.store.domains.remove(domain);
  await deps.store.queue.relays.setRoute({ domain: domain.name }, null); // a later owner of the name starts unrouted
}

/** A pending DKIM key whose record is now in DNS becomes the signing key; older active keys of its algorithm retire. */
function promoteDkim(domain: Domain, published: Set<string | undefined>): void {
  for (const key of domain.dkim) {
    if (key.active || dkimStatus(key, domain.dkim) !== 'pending' || !published.has(key.selector)) continue;
    for (const other of domain.dkim) if (other.active && other.algorithm === key.algorithm) other.active = false;
    key.active = true;
  }
}

/**
 * Looks the domain's records up: verified when every required one is right (else no longer
 * verified), and pending DKIM keys found in DNS start signing. Emits domain.verified or
 * domain.verification_failed when the state changes.
 */
export async function verifyDomain(
  deps: Pick<ServiceDeps, 'store'>,
  settings: DnsSettings,
  resolver: DnsResolver,
  domain: Domain,
): Promise<{ domain: Domain; passed: boolean; checks: RecordCheck[] }> {
  const checks = await checkRecords(recordsFor(settings, domain), resolver, settings.hostname);
  const passed = checks.every((c) => !c.record.required || c.status === 'ok');
  const published = new Set(
    checks.filter((c) => c.record.purpose === 'dkim' && c.status === 'ok').map((c) => c.record.selector),
  );
  let transition: 'domain.verified' | 'domain.verification_failed' | null = null;
  const saved = await updateDomain(deps, domain.name, (d) => {
    promoteDkim(d, published);
    if (passed && !d.verifiedAt) transition = 'domain.verified';
    if (!passed && d.verifiedAt) transition = 'domain.verification_failed';
    d.verifiedAt = passed ? (d.verifiedAt ?? Date.now()) : null;
  });
  if (transition)
    await deps.store.emit({
      type: transition,
      teamId: saved.teamId,
      data: { domain_id: domainPublicId(saved.name), domain: saved.name },
    });
  return { domain: saved, passed, checks };
}
