// Package dns implements the process's one DNS resolver (docs/ARCHITECTURE.md §10): every lookup (SPF,
// DKIM, DMARC, MX, PTR) goes through it, so its servers are configurable and tests point it at a DNS
// server on loopback; plus the records a hosted domain should publish (records.ts) and DKIM keys
// (dkim.ts). May import store and base.
import { Resolver } from 'node:dns/promises';
import { isIP, isIPv4 } from 'node:net';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import { queryTxt, TxtCache } from './txt-cache.ts';

export interface ResolverOptions {
  /** "127.0.0.1:5353", "[::1]:53" or plain addresses; empty or absent: the system's resolvers. */
  servers?: string[];
  /** Per-try timeout (ms); c-ares doubles it on each retry. */
  timeoutMs?: number;
  tries?: number;
  /** Most TXT answers kept for SPF/DKIM/DMARC (default TXT_CACHE_ENTRIES; 0: no cache). */
  txtCacheEntries?: number;
}

export const TXT_CACHE_ENTRIES = 10_000;

export interface MxRecord {
  exchange: string;
  priority: number;
}

/** Shapes as dns.promises.resolve returns them, which is what mailauth's `resolver` option expects. */
export type ResolveResult = string[] | string[][] | MxRecord[] | unknown[];

export interface DnsResolver {
  /**
   * mailauth-compatible `(name, rrtype) => Promise<…>`; errors carry dns codes (ENOTFOUND, ENODATA, ETIMEOUT …).
   * TXT answers (SPF, DKIM keys, DMARC) come from a cache that honours their TTLs (txt-cache.ts).
   */
  // biome-ignore lint/suspicious/noExplicitAny: mailauth types its resolver's answer as any
  readonly resolve: (name: string, rrtype: string) => Promise<any>;
  /** MX hosts ordered by priority (ties keep DNS order). */
  mx(domain: string): Promise<MxRecord[]>;
  /** TXT records with their character-strings joined, asked afresh (domain checks want what DNS says now). */
  txt(name: string): Promise<string[]>;
  a(name: string): Promise<string[]>;
  aaaa(name: string): Promise<string[]>;
  /** Host names for an IP address (PTR), [] when there are none. */
  ptr(ip: string): Promise<string[]>;
  readonly servers: string[];
}

/** The PTR owner name of an address: 1.0.0.127.in-addr.arpa, or the ip6.arpa nibble form. */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const [head = '', tail = ''] = ip.split('::');
  const groups = (s: string) => (s ? s.split(':') : []);
  const zeros = ip.includes('::') ? 8 - groups(head).length - groups(tail).length : 0;
  const full = [...groups(head), ...Array<string>(zeros).fill('0'), ...groups(tail)];
  return `${full
    .map((g) => g.padStart(4, '0'))
    .join('')
    .split('')
    .reverse()
    .join('.')}.ip6.arpa`;
}

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

/** Resolves to [] for "no such name / no such record", rethrows real failures (timeouts, refusals). */
async function orEmpty<T>(lookup: Promise<T[]>): Promise<T[]> {
  try {
    return await lookup;
  } catch (err) {
    if (NOT_FOUND.has((err as NodeJS.ErrnoException).code ?? '')) return [];
    throw err;
  }
}

export function createResolver(options: ResolverOptions = {}): DnsResolver {
  const resolver = new Resolver({
    timeout: options.timeoutMs ?? CONFIG_DEFAULTS.dns.timeout_ms,
    tries: options.tries ?? 2,
  });
  const servers = (options.servers ?? []).filter((s) => s.trim() !== '');
  if (servers.length) resolver.setServers(servers);
  const timeoutMs = options.timeoutMs ?? CONFIG_DEFAULTS.dns.timeout_ms;
  const tries = options.tries ?? 2;
  const txtCache = new TxtCache(
    (name) => queryTxt(name, resolver.getServers(), { timeoutMs, tries }),
    options.txtCacheEntries ?? TXT_CACHE_ENTRIES,
  );
  return {
    servers: resolver.getServers(),
    resolve: (name, rrtype) => (rrtype === 'TXT' ? txtCache.resolve(name) : resolver.resolve(name, rrtype as 'A')),
    async mx(domain) {
      const records = await orEmpty(resolver.resolveMx(domain));
      return records
        .map((r, i) => ({ r, i }))
        .sort((x, y) => x.r.priority - y.r.priority || x.i - y.i)
        .map((x) => x.r);
    },
    txt: async (name) => (await orEmpty(resolver.resolveTxt(name))).map((chunks) => chunks.join('')),
    a: (name) => orEmpty(resolver.resolve4(name)),
    aaaa: (name) => orEmpty(resolver.resolve6(name)),
    // resolvePtr, not reverse(): c-ares answers reverse() from /etc/hosts first, and the configured servers are the authority.
    ptr: (ip) => (isIP(ip) ? orEmpty(resolver.resolvePtr(reverseName(ip))) : Promise.resolve([])),
  };
}
