// Where a job goes: MX hosts in preference order (RFC 5321 §5.1: no MX → the domain's own A/AAAA as
// an implicit MX; a null MX "." (RFC 7505) → the domain accepts no mail), each host's addresses, or a
// relay picked from the delivery group the sender's domain or key is routed through.
import type { DnsResolver } from '../dns/resolver.ts';
import type { Relay, RelayGroup, Relays } from '../store/relays.ts';
import { utcDay } from '../store/relays.ts';

export interface MxHost {
  host: string;
  priority: number;
}

export type MxRoute =
  | { kind: 'mx'; hosts: MxHost[]; implicit: boolean }
  /** The domain publishes a null MX or has neither MX nor address records: mail to it bounces. */
  | { kind: 'none'; reason: string };

/** A DNS failure that may pass (timeout, SERVFAIL): the attempt is deferred, not bounced. */
export class TemporaryRouteError extends Error {}

async function orTemporary<T>(lookup: Promise<T>, what: string): Promise<T> {
  try {
    return await lookup;
  } catch (err) {
    throw new TemporaryRouteError(
      `DNS lookup of ${what} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export async function resolveMx(resolver: DnsResolver, domain: string): Promise<MxRoute> {
  const records = await orTemporary(resolver.mx(domain), `MX ${domain}`);
  const isNull = (exchange: string) => exchange === '' || exchange === '.';
  if (records.length === 1 && isNull(records[0]!.exchange))
    return { kind: 'none', reason: `${domain} does not accept mail (null MX)` };
  const hosts = records
    .filter((r) => !isNull(r.exchange))
    .map((r) => ({ host: r.exchange.replace(/\.$/, '').toLowerCase(), priority: r.priority }));
  if (hosts.length) return { kind: 'mx', hosts, implicit: false };
  const addresses = await hostAddresses(resolver, domain);
  if (addresses.length) return { kind: 'mx', hosts: [{ host: domain, priority: 0 }], implicit: true };
  return { kind: 'none', reason: `${domain} has no MX or address records` };
}

/** IPv4 addresses first (IPv6 reachability is rarer on small hosts), then IPv6; one family failing is fine. */
export async function hostAddresses(resolver: DnsResolver, host: string): Promise<string[]> {
  const [a, aaaa] = await Promise.allSettled([resolver.a(host), resolver.aaaa(host)]);
  const found = [...(a.status === 'fulfilled' ? a.value : []), ...(aaaa.status === 'fulfilled' ? aaaa.value : [])];
  const failed = [a, aaaa].find((r) => r.status === 'rejected');
  if (found.length === 0 && failed) await orTemporary(Promise.reject(failed.reason), `address of ${host}`);
  return found;
}

/** Remembers MX answers for a short time, so a burst to one domain does not ask DNS per message. */
export class MxCache {
  private readonly entries = new Map<string, { route: MxRoute; until: number }>();
  private readonly resolver: DnsResolver;
  private readonly ttlMs: number;

  constructor(resolver: DnsResolver, ttlMs = 60_000) {
    this.resolver = resolver;
    this.ttlMs = ttlMs;
  }

  async mx(domain: string): Promise<MxRoute> {
    const hit = this.entries.get(domain);
    if (hit && hit.until > Date.now()) return hit.route;
    const route = await resolveMx(this.resolver, domain);
    if (this.ttlMs > 0) this.entries.set(domain, { route, until: Date.now() + this.ttlMs });
    return route;
  }
}

/**
 * Picks a relay of a group by weight among those under their daily limit; undefined when every
 * member is used up (or the group is empty) for today.
 */
export async function chooseRelay(
  relays: Relays,
  group: RelayGroup,
  now = Date.now(),
  random = Math.random,
): Promise<Relay | undefined> {
  const day = utcDay(now);
  const candidates: Relay[] = [];
  for (const id of group.relayIds) {
    const relay = await relays.get(id);
    if (!relay || relay.weight <= 0) continue;
    if (relay.dailyLimit > 0 && (await relays.usage(relay.id, day)) >= relay.dailyLimit) continue;
    candidates.push(relay);
  }
  const total = candidates.reduce((sum, r) => sum + r.weight, 0);
  let pick = random() * total;
  for (const relay of candidates) {
    pick -= relay.weight;
    if (pick < 0) return relay;
  }
  return candidates.at(-1);
}
