// The MTA-STS policy (RFC 8461 §3.2) of each hosted domain, at
// https://mta-sts.<domain>/.well-known/mta-sts.txt, routed by the Host header. Senders fetch it over
// HTTPS with a certificate valid for mta-sts.<domain> (the certificate store and ACME provide it).
import { domainToASCII } from 'node:url';
import type { Context, Next } from 'koa';
import { DEFAULT_MAX_AGE, type MtaStsMode, policyText } from '../dns/mta-sts.ts';
import type { Domain, Store } from '../store/index.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

/**
 * Options of mtaStsPolicy:
 * - store: hosted domains.
 * - hostname: the one MX every hosted domain points at (`mx:` line).
 * - defaultMode: for domains without their own setting (default 'testing', so a misconfigured
 *   certificate only produces TLS reports, never refused mail).
 * - modeFor: a domain's own mode, when it has one.
 * - maxAgeSeconds: how long senders cache the policy (default one week; RFC 8461 allows up to a year).
 */
export interface MtaStsOptions {
  store: Store;
  hostname: string;
  defaultMode?: MtaStsMode;
  modeFor?: (domain: Domain) => MtaStsMode | undefined;
  maxAgeSeconds?: number;
}

export const POLICY_PATH = '/.well-known/mta-sts.txt';
const PREFIX = 'mta-sts.';

/** The policy a domain serves, or undefined when it is not hosted here. */
export async function domainPolicy(options: MtaStsOptions, name: string): Promise<string | undefined> {
  const domain = await options.store.domains.get(name);
  if (!domain) return undefined;
  const mode = options.modeFor?.(domain) ?? options.defaultMode ?? CONFIG_DEFAULTS.mta_sts.mode;
  return policyText(mode, options.hostname, options.maxAgeSeconds ?? DEFAULT_MAX_AGE);
}

/** Koa middleware answering the policy path; every other request passes through. */
export function mtaStsPolicy(options: MtaStsOptions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== POLICY_PATH) return next();
    const host = domainToASCII(ctx.hostname.toLowerCase().replace(/\.$/, ''));
    const policy =
      host.startsWith(PREFIX) && (ctx.method === 'GET' || ctx.method === 'HEAD')
        ? await domainPolicy(options, host.slice(PREFIX.length))
        : undefined;
    ctx.set('cache-control', 'no-cache');
    if (policy === undefined) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'no MTA-STS policy here\n';
      return;
    }
    ctx.status = 200;
    ctx.type = 'text/plain';
    ctx.body = policy;
  };
}
