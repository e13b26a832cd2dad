import { reverseName, type DnsResolver } from '../dns/resolver.ts';
import type { SpamHit, SpamScorer } from './types.ts';

const URL_HOST = /\bhttps?:\/\/([a-z0-9.-]+\.[a-z]{2,})/gi;
const MAX_URL_DOMAINS = 10;

/**
 * DNS blocklists through the project resolver: the client IP against IP lists (Spamhaus ZEN style:
 * 4.3.2.1.zen.example) and up to ten URL domains of the body against domain lists (SURBL/URIBL
 * style: example.com.multi.example). A listing answers with an A record in 127.0.0.0/8.
 */
export function dnsblScorer(
  resolver: DnsResolver,
  options: { ipZones: string[]; domainZones: string[]; score?: number },
): SpamScorer {
  const score = options.score ?? 3;
  const listed = async (name: string) => (await resolver.a(name).catch(() => [])).some((a) => a.startsWith('127.'));
  return {
    name: 'dnsbl',
    async score(input): Promise<SpamHit[]> {
      const hits: SpamHit[] = [];
      const ip = input.clientIp?.replace(/^::ffff:/, '');
      if (ip && options.ipZones.length) {
        const reversed = reverseName(ip).replace(/\.(in-addr|ip6)\.arpa$/, '');
        for (const zone of options.ipZones) {
          if (await listed(`${reversed}.${zone}`))
            hits.push({ rule: `RCVD_IN_${label(zone)}`, score, description: `client ${ip} listed in ${zone}` });
        }
      }
      if (options.domainZones.length) {
        const text = input.raw.subarray(input.headers.bodyStart).toString('latin1');
        const domains = [...new Set([...text.matchAll(URL_HOST)].map((m) => m[1]!.toLowerCase()))].slice(
          0,
          MAX_URL_DOMAINS,
        );
        for (const zone of options.domainZones) {
          for (const domain of domains) {
            if (await listed(`${domain}.${zone}`)) {
              hits.push({ rule: `URIBL_${label(zone)}`, score, description: `${domain} listed in ${zone}` });
              break;
            }
          }
        }
      }
      return hits;
    },
  };
}

const label = (zone: string): string => zone.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
