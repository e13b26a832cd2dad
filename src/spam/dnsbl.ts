// DNS blocklists (RFC 5782) through the project resolver: the client's address against IP lists (Spamhaus ZEN
// style: 4.3.2.1.zen.example) and the registered domains of the message's links against domain lists (SURBL,
// URIBL, Spamhaus DBL style: example.com.dbl.example). A listing is an A record in 127.0.0.0/8 (§2.3). The
// lists' refusals come as such records too and are not listings: Spamhaus answers 127.255.255.252–255 to a query
// through a public resolver or past its free limit, URIBL 127.0.0.1 to a refused one, Spamhaus DBL 127.0.1.255 to
// an address asked as a domain. Read as listings, they junk every message an operator's server receives.
import { reverseName, type DnsResolver } from '../dns/resolver.ts';
import { metrics } from '../metrics/registry.ts';
import { isPrivateAddress } from '../security/net.ts';
import { isIpHost, registeredDomain } from './content/domains.ts';
import { linkHosts } from './content/index.ts';
import type { SpamHit, SpamScorer } from './types.ts';

/** Domains of one message asked of each domain list, at most (the links' first, in order). */
const MAX_URL_DOMAINS = 10;

/** What a list's answer means: a listing (with its return codes), none, or the list refusing to answer. */
export function readAnswer(addresses: readonly string[]): { outcome: 'listed' | 'clean' | 'refused'; codes: string[] } {
  const codes = addresses.filter((a) => a.startsWith('127.'));
  const refusal = (a: string) => a.startsWith('127.255.255.') || a === '127.0.0.1' || a === '127.0.1.255';
  if (codes.length === 0) return { outcome: 'clean', codes };
  if (codes.every(refusal)) return { outcome: 'refused', codes };
  return { outcome: 'listed', codes: codes.filter((a) => !refusal(a)) };
}

export function dnsblScorer(
  resolver: DnsResolver,
  options: { ipZones: string[]; domainZones: string[]; score?: number },
): SpamScorer {
  const score = options.score ?? 3;
  /** The list's return codes for `name` when it is listed, else null; a lookup that fails (a timeout) is no listing. */
  const ask = async (zone: string, name: string) => {
    let answer: string[];
    try {
      answer = await resolver.a(name); // [] for "no such name": not listed
    } catch {
      metrics.dnsbl(zone, 'failed');
      return null;
    }
    const read = readAnswer(answer);
    metrics.dnsbl(zone, read.outcome);
    return read.outcome === 'listed' ? read.codes : null;
  };
  return {
    name: 'dnsbl',
    async score(input): Promise<SpamHit[]> {
      // The client that handed the message in, when it is on the internet: a private or loopback address (a
      // relay of ours, a test) is never listed, and is not ours to send to a list.
      const ip = input.clientIp?.replace(/^::ffff:/, '');
      const asked = ip && !isPrivateAddress(ip) ? reverseName(ip).replace(/\.(in-addr|ip6)\.arpa$/, '') : null;
      const domains = options.domainZones.length ? linkDomains(input.raw) : [];
      const lookups = [
        ...(asked ? options.ipZones : []).map(async (zone): Promise<SpamHit | null> => {
          const codes = await ask(zone, `${asked}.${zone}`);
          return (
            codes && {
              rule: `RCVD_IN_${label(zone)}`,
              score,
              description: `client ${ip} listed in ${zone} (${codes.join(', ')})`,
            }
          );
        }),
        ...options.domainZones.map(async (zone): Promise<SpamHit | null> => {
          const answers = await Promise.all(domains.map((d) => ask(zone, `${d}.${zone}`)));
          const at = answers.findIndex((codes) => codes !== null);
          return at < 0
            ? null
            : {
                rule: `URIBL_${label(zone)}`,
                score,
                description: `${domains[at]} listed in ${zone} (${answers[at]!.join(', ')})`,
              };
        }),
      ];
      return (await Promise.all(lookups)).filter((hit): hit is SpamHit => hit !== null);
    },
  };
}

/**
 * The registered domains of the message's links as the content rules read them (HTML anchors, URLs in the text
 * decoded from any transfer encoding, where redirectors send), each once: domain lists list registered domains.
 */
function linkDomains(raw: Buffer): string[] {
  const domains = new Set<string>();
  for (const host of linkHosts(raw)) {
    if (isIpHost(host)) continue;
    domains.add(registeredDomain(host));
    if (domains.size === MAX_URL_DOMAINS) break;
  }
  return [...domains];
}

const label = (zone: string): string => zone.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
