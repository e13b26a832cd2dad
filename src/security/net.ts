import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms: where local tools may log in without TLS when allowed. */
export function isLoopback(ip: string): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  return isIP(v4) === 4 ? LOOPBACK.check(v4, 'ipv4') : isIP(ip) === 6 && LOOPBACK.check(ip, 'ipv6');
}

/** An address matcher for "a.b.c.d/n", "v6::/n" or bare addresses (IPv4-mapped peers count as IPv4). */
export function addressMatcher(networks: string[]): (ip: string) => boolean {
  const list = new BlockList();
  for (const network of networks) {
    const [address = '', bits] = network.split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`not an address or network: ${network}`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const prefix = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
    if (!Number.isInteger(prefix) || prefix > (family === 4 ? 32 : 128))
      throw new Error(`bad prefix length in ${network}`);
    list.addSubnet(address, prefix, type);
  }
  return (ip) => {
    const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
    const family = isIP(v4);
    return family !== 0 && list.check(v4, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/**
 * The network a sending address belongs to for reputation: its /24 (IPv4) or /64 (IPv6). Large senders
 * send from pools, so a retry often comes from a neighbour of the first address (RFC 6647 §4.2).
 */
export function sendingNetwork(ip: string): string {
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
  if (isIP(v4) === 4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIP(ip) !== 6) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

const blockedV4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blockedV4.addSubnet(net, bits, 'ipv4');

/** IPv6 ranges refused whatever follows the prefix (IANA special-purpose registry, RFC 6890 and later). */
const blockedV6 = new BlockList();
for (const [net, bits] of [
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['3fff::', 20],
  ['64:ff9b:1::', 48], // NAT64 local use (RFC 8215): only ever reaches this site's own translator
  ['100::', 64], // discard-only (RFC 6666)
  ['2001::', 32], // Teredo: the IPv4 client address inside is obfuscated, and nothing legitimate needs it here
  ['2001:2::', 48],
  ['2001:10::', 28],
  ['2001:20::', 28],
  ['5f00::', 16],
] as const)
  blockedV6.addSubnet(net, bits, 'ipv6');

/** The eight 16-bit groups of an IPv6 address (any spelling: `::`, a dotted-quad tail, a zone id), or null. */
function ipv6Groups(address: string): number[] | null {
  const text = address.replace(/%.*$/, '');
  if (isIP(text) !== 6) return null;
  const [head = '', tail = ''] = text.includes('::') ? text.split('::') : [text, ''];
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  const parts = (s: string) => (s ? s.split(':') : []);
  const hex = (list: string[]) => list.filter((p) => !p.includes('.')).map((p) => parseInt(p, 16));
  const v4 = dotted ? [(+dotted[1]! << 8) | +dotted[2]!, (+dotted[3]! << 8) | +dotted[4]!] : [];
  if (text.includes('::')) {
    const left = hex(parts(head));
    const right = [...hex(parts(tail)), ...v4];
    return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  }
  return [...hex(parts(head)), ...v4];
}

const dotted = (hi: number, lo: number): string => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

/**
 * The IPv4 address an IPv6 address stands for, where one is embedded: IPv4-compatible (::/96),
 * IPv4-mapped (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96, RFC 2765), NAT64 (64:ff9b::/96,
 * RFC 6052) and 6to4 (2002::/16, RFC 3056). Each is judged by the IPv4 rules, so no spelling of
 * 127.0.0.1 or 169.254.169.254 gets past them.
 */
function embeddedIpv4(address: string): string | null {
  const g = ipv6Groups(address);
  if (!g) return null;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 6)) return dotted(g[6]!, g[7]!);
  if (zeros(0, 5) && g[5] === 0xffff) return dotted(g[6]!, g[7]!);
  if (zeros(0, 4) && g[4] === 0xffff && g[5] === 0) return dotted(g[6]!, g[7]!);
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return dotted(g[6]!, g[7]!);
  if (g[0] === 0x2002) return dotted(g[1]!, g[2]!);
  return null;
}

/** Loopback, private, link-local, shared, documentation, multicast or otherwise not a public unicast address. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address.replace(/%.*$/, ''));
  if (family === 4) return blockedV4.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4 !== null) return blockedV4.check(v4, 'ipv4');
  return blockedV6.check(address.replace(/%.*$/, ''), 'ipv6');
}
