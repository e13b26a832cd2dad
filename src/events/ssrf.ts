// Where a webhook may be POSTed (API.md §B7): https unless allowed otherwise, and never to loopback,
// private, link-local or other special-purpose addresses unless allowed (SSRF). The host is resolved
// once per attempt and the connection goes to the vetted address, so DNS cannot swap it in between.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

export interface UrlPolicy {
  allowHttp: boolean;
  allowPrivateAddresses: boolean;
}

const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
  ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['2001:db8::', 32], ['64:ff9b::', 96]] as const) {
  blocked.addSubnet(net, bits, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return isPrivateAddress(mapped[1]!);
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Why this URL may not be used (at create time: scheme, credentials, literal private addresses), or null. */
export function urlProblem(value: string, policy: UrlPolicy): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'not a valid URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) return policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL';
  if (url.username || url.password) return 'must not carry credentials';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!policy.allowPrivateAddresses && ((isIP(host) && isPrivateAddress(host)) || host === 'localhost' || host.endsWith('.localhost'))) {
    return 'points at a private, loopback or link-local address';
  }
  return null;
}

export class BlockedAddress extends Error {}

/** The address to connect to for `url`, after the policy checks; throws BlockedAddress when refused. */
export async function vetTarget(url: URL, policy: UrlPolicy): Promise<{ address: string; family: number }> {
  const problem = urlProblem(url.href, policy);
  if (problem) throw new BlockedAddress(`URL ${problem}`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
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
export const urlPolicyOf = (store: object): UrlPolicy => policies.get(store) ?? { allowHttp: false, allowPrivateAddresses: false };
