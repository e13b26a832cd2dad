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
