import type { MtaStsMode } from '../dns/mta-sts.ts';
import type { CertificateInfo } from '../tls/certificate-store.ts';
import type { ClassifyEnvelope, ClassifySession, SpamSettings } from '../services/spam.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Logger } from '../log.ts';
import type { Lists } from '../store/lists.ts';
import type { Store, Team } from '../store/index.ts';
import type { SendingLimits } from '../store/sends.ts';
import { ApiError } from './errors.ts';

/** What the resource routes share. */
export interface ApiDeps {
  store: Store;
  logger: Logger;
  /** This server's host name (MX and SRV targets, the `server` of credentials). */
  hostname: string;
  ports: { imaps: number; submission: number; submissions: number };
  /** DNS lookups for /domains/{id}/verify; without one, verification answers 503. */
  resolver: DnsResolver | undefined;
  lists: Lists;
  /** Per-sender hourly/daily budgets, the same numbers SMTP submission applies (config smtp.send_per_*). */
  sendLimits: SendingLimits;
  /** Scorers, thresholds and Bayes options for /spam routes (the MX's own). */
  spam?: SpamSettings;
  /** The MTA-STS policy served for hosted domains: its id goes in the `_mta-sts` TXT record. */
  mtaSts?: { defaultMode?: MtaStsMode; maxAgeSeconds?: number };
  /** The certificate store (src/tls): which certificates are served, until when. */
  certificates?: { list(): CertificateInfo[]; readonly defaultCertificate: CertificateInfo };
}

export async function teamOf(deps: ApiDeps, teamId: string): Promise<Team> {
  const team = await deps.store.teams.get(teamId);
  if (!team) throw new ApiError('authentication_required', 'the key belongs to no team');
  return team;
}

/** The server's DNS resolver, for routes that must ask DNS (503 on a server configured without one). */
export function resolverOf(deps: ApiDeps): DnsResolver {
  if (!deps.resolver) throw new ApiError('service_unavailable', 'DNS lookups are not configured on this server');
  return deps.resolver;
}

/** The SMTP session a dry-run classification is scored in (native and compatible routes; 503 without DNS). */
export const classifySession = (deps: ApiDeps, envelope: ClassifyEnvelope): ClassifySession => ({
  envelope,
  resolver: resolverOf(deps),
  hostname: deps.hostname,
});
