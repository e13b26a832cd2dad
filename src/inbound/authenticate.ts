// Stage 1: who sent this? SPF, DKIM, DMARC, ARC and BIMI through mailauth with the project resolver,
// and the trace headers we prepend (Received, Authentication-Results, Received-SPF).
import { authenticate as mailauth } from 'mailauth';
import type { DnsResolver } from '../dns/resolver.ts';
import type { AuthResult, AuthVerdict, DmarcPolicy } from '../dns/auth-verdict.ts';
import { stripFields, type InboundMessage } from './message.ts';

export interface Authenticated {
  verdict: AuthVerdict;
  /** The message minus forged Authentication-Results for our host and incoming X-Spam-* fields. */
  raw: Buffer;
  /** Received + Authentication-Results + Received-SPF, CRLF-terminated, to prepend. */
  traceHeaders: string;
}

export interface AuthenticateOptions {
  resolver: DnsResolver;
  hostname: string;
  /** For tests: DMARC pct sampling (default Math.random). */
  random?: () => number;
}

const norm = (r: string | undefined): AuthResult => (r === 'temperr' ? 'temperror' : ((r ?? 'none') as AuthResult));

/** RFC 5322 date-time in UTC. */
export const rfc5322Date = (ms: number): string => new Date(ms).toUTCString().replace(/GMT$/, '+0000');

/** Our Received field (RFC 5321 §4.4): "for" only with a single recipient, so Bcc lists do not leak. */
export function receivedHeader(msg: InboundMessage, hostname: string): string {
  const client = `${msg.client.hostname ?? 'unknown'} [${msg.client.ip}]`;
  const helo = msg.client.helo || `[${msg.client.ip}]`;
  const forPart = msg.rcptTo.length === 1 ? `\r\n\tfor <${msg.rcptTo[0]}>` : '';
  return `Received: from ${helo} (${client})\r\n\tby ${hostname} (Wren Mail) with ${msg.client.protocol} id ${msg.id}${forPart};\r\n\t${rfc5322Date(msg.receivedAt)}\r\n`;
}

/** True for an Authentication-Results field whose authserv-id is our host: only we may write those. */
export function claimsHost(value: string, hostname: string): boolean {
  const id =
    value
      .replace(/\([^)]*\)/g, ' ')
      .split(';')[0]!
      .trim()
      .split(/\s+/)[0] ?? '';
  return id.toLowerCase() === hostname.toLowerCase();
}

/**
 * What mailauth has to read of a message: the header alone when no field could ask for a body hash
 * (DKIM-Signature, an ARC set), else all of it. mailauth walks every body byte in JS even when no
 * signature covers it (issue 17: 4% of a 100 KB delivery); the verdict and its fields are the same.
 * The header ends where mailauth's parser ends it: at the first LF followed by LF or CR LF.
 */
export function authInput(raw: Buffer): Buffer {
  for (let lf = raw.indexOf(0x0a); lf !== -1; lf = raw.indexOf(0x0a, lf + 1)) {
    const end = raw[lf + 1] === 0x0a ? lf + 2 : raw[lf + 1] === 0x0d && raw[lf + 2] === 0x0a ? lf + 3 : -1;
    if (end === -1) continue;
    // Any mention, even inside another field, keeps the body: only a clean header is cut.
    return /dkim-signature|arc-/i.test(raw.toString('latin1', 0, end)) ? raw : raw.subarray(0, end);
  }
  return raw;
}

export async function authenticate(msg: InboundMessage, options: AuthenticateOptions): Promise<Authenticated> {
  const result = await mailauth(authInput(msg.raw), {
    ip: msg.client.ip,
    helo: msg.client.helo || undefined,
    sender: msg.mailFrom,
    mta: options.hostname,
    resolver: options.resolver.resolve,
  });
  const dmarc = result.dmarc || null;
  const policy = (dmarc?.policy as DmarcPolicy | undefined) ?? null;
  let action: DmarcPolicy = dmarc?.status.result === 'fail' && policy ? policy : 'none';
  // RFC 7489 §6.6.4: outside the pct sample the policy steps down one level.
  const pct = dmarc?.pct ?? 100;
  if (action !== 'none' && pct < 100 && (options.random ?? Math.random)() * 100 >= pct) {
    action = action === 'reject' ? 'quarantine' : 'none';
  }
  const verdict: AuthVerdict = {
    spf: {
      result: norm(result.spf ? result.spf.status.result : 'none'),
      domain: result.spf ? result.spf.domain : null,
    },
    dkim: (result.dkim.results ?? [])
      .filter((r) => r.signingDomain)
      .map((r) => ({
        result: norm(r.status.result),
        domain: r.signingDomain,
        selector: r.selector ?? null,
        aligned: !!r.status.aligned,
        comment: r.status.comment ?? null,
      })),
    dmarc: { result: norm(dmarc?.status.result), domain: dmarc?.domain ?? null, policy },
    arc: norm(result.arc ? result.arc.status.result : 'none'),
    bimi: norm(result.bimi ? result.bimi.status.result : 'none'),
    action,
  };
  const raw = stripFields(
    msg.raw,
    (name, value) =>
      (name === 'authentication-results' && claimsHost(value, options.hostname)) ||
      name === 'x-spam-score' ||
      name === 'x-spam-status',
  );
  return { verdict, raw, traceHeaders: receivedHeader(msg, options.hostname) + result.headers };
}
