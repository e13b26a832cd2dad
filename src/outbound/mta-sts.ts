// MTA-STS (RFC 8461) for outgoing mail: a destination that publishes a policy in `enforce` mode gets
// TLS with a valid certificate, and only to MX hosts the policy lists. Policies are cached for their
// max_age (mailauth fetches them: TXT _mta-sts.<domain>, then https://mta-sts.<domain>/.well-known/mta-sts.txt).
import type { MTASTSPolicy } from 'mailauth';
import { getPolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import type { DnsResolver } from '../dns/resolver.ts';

export interface MtaStsPolicy {
  mode: 'enforce' | 'testing' | 'none';
  /** Allowed MX patterns ("mx.example.com", "*.example.net"). */
  mx: string[];
}

/** Policy of a destination domain, or null when it publishes none (or it could not be fetched). */
export type MtaStsLookup = (domain: string) => Promise<MtaStsPolicy | null>;

/** The default lookup: DNS through the project resolver, HTTPS through mailauth, cached per domain. */
export function mtaStsLookup(resolver: DnsResolver): MtaStsLookup {
  const cache = new Map<string, MTASTSPolicy>();
  return async (domain) => {
    const known = cache.get(domain);
    if (known?.expires && new Date(known.expires).getTime() > Date.now()) return toPolicy(known);
    const { policy } = await getPolicy(domain, known, { resolver: resolver.resolve });
    cache.set(domain, policy);
    return toPolicy(policy);
  };
}

function toPolicy(policy: MTASTSPolicy): MtaStsPolicy | null {
  return policy.id && policy.mode !== 'none' ? { mode: policy.mode, mx: policy.mx ?? [] } : null;
}

/** Is this MX host allowed by the policy? */
export function mxAllowed(policy: MtaStsPolicy, host: string): boolean {
  return validateMx(host, { mode: policy.mode, mx: policy.mx }).valid;
}
