// Where a webhook may be POSTed (docs/API.md §11): https unless allowed otherwise, and never to loopback,
// private, link-local or other special-purpose addresses unless allowed (SSRF). The host is resolved
// once per attempt and the connection goes to the vetted address, so DNS cannot swap it in between.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { DnsResolver } from '../dns/resolver.ts';
import { isPrivateAddress } from '../security/net.ts';

export interface UrlPolicy {
  allowHttp: boolean;
  allowPrivateAddresses: boolean;
}

/** Why this URL may not be used (at create time: scheme, credentials, literal private addresses), or null. */
export function urlProblem(value: string, policy: UrlPolicy): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp))
    return policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (
    !policy.allowPrivateAddresses &&
    ((isIP(host) && isPrivateAddress(host)) || host === 'localhost' || host.endsWith('.localhost'))
  ) {
    return 'points at a private, loopback or link-local address';
  }
  return null;
}

export class BlockedAddress extends Error {}

/** A host name's addresses (A and AAAA). */
export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (host) => lookup(host, { all: true });

/** Lookups through the process's DNS resolver (its configured servers) instead of the system's. */
export const resolverLookup =
  (resolver: Pick<DnsResolver, 'a' | 'aaaa'>): HostLookup =>
  async (host) => {
    const [v4, v6] = await Promise.all([resolver.a(host), resolver.aaaa(host)]);
    return [...v4.map((address) => ({ address, family: 4 })), ...v6.map((address) => ({ address, family: 6 }))];
  };

/** The address to connect to for `url`, after the policy checks; throws BlockedAddress when refused. */
export async function vetTarget(
  url: URL,
  policy: UrlPolicy,
  resolve: HostLookup = systemLookup,
): Promise<{ address: string; family: number }> {
  const problem = urlProblem(url.href, policy);
  if (problem) throw new BlockedAddress(`URL ${problem}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await resolve(host);
  if (addresses.length === 0) throw new BlockedAddress(`${host} has no address`);
  if (!policy.allowPrivateAddresses) {
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) throw new BlockedAddress(`${host} resolves to ${bad.address}, a private or special-purpose address`);
  }
  return addresses[0]!;
}

/**
 * The policy the process runs its dispatcher with, per store, so the API checks new URLs against the
 * same settings (strict until a dispatcher says otherwise).
 */
const policies = new WeakMap<object, UrlPolicy>();
export const setUrlPolicy = (store: object, policy: UrlPolicy): void => void policies.set(store, policy);
export const urlPolicyOf = (store: object): UrlPolicy =>
  policies.get(store) ?? { allowHttp: false, allowPrivateAddresses: false };
