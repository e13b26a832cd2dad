// Mail-client setup over HTTP for hosted domains: Thunderbird autoconfig, Outlook autodiscover (POX)
// and the Apple .mobileconfig profile. An unknown domain is a 404; whether a mailbox exists is never
// told (the documents depend on the domain only), so these open endpoints cannot probe addresses.
import { domainToASCII } from 'node:url';
import type { Context, Next } from 'koa';
import { ApiError } from '../api/errors.ts';
import type { Store } from '../store/index.ts';
import {
  appleProfile,
  autodiscoverResponse,
  STANDARD_PORTS,
  thunderbirdConfig,
  type ClientPorts,
} from './mail-clients.ts';

export type { ClientPorts };

/**
 * Options of mailClientSetup:
 * - store: hosted domains are looked up there.
 * - hostname: the server name clients connect to (config `hostname`).
 * - ports: the ports clients reach (bound listeners, after any unprivileged offset); missing: the
 *   standard port; null: that listener is off and is not offered.
 */
export interface MailClientSetupOptions {
  store: Store;
  hostname: string;
  ports?: Partial<ClientPorts>;
}

/** Largest autodiscover request body read; real ones are a few hundred bytes. */
const MAX_REQUEST_BYTES = 16 * 1024;
const XML_TYPE = 'application/xml; charset=utf-8';
// RFC 5322 atext and dots, plus UTF-8 letters and digits (RFC 6531).
const LOCAL_PART = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~.-]{1,64}$/u;

/** A syntactically plausible address with its domain as an A-label, or null. */
export function parseAddress(text: string): { address: string; domain: string } | null {
  const at = text.lastIndexOf('@');
  if (at <= 0) return null;
  const local = text.slice(0, at);
  const domain = domainToASCII(text.slice(at + 1).toLowerCase());
  if (!LOCAL_PART.test(local) || !domain || domain.length > 253) return null;
  return { address: `${local}@${domain}`, domain };
}

export function mailClientSetup(options: MailClientSetupOptions) {
  const ports: ClientPorts = { ...STANDARD_PORTS };
  for (const [name, port] of Object.entries(options.ports ?? {}) as [keyof ClientPorts, number | null | undefined][]) {
    if (port !== undefined) ports[name] = port;
  }
  const { store, hostname } = options;

  /** The hosted domain a request is about: from the address when given, else from the Host name. */
  async function hostedDomain(ctx: Context, email: string | null): Promise<{ address: string | null; domain: string }> {
    let address: string | null = null;
    let domain: string;
    if (email !== null) {
      const parsed = parseAddress(email.trim());
      if (!parsed) throw new ApiError('invalid_parameter', 'not an email address', 'email');
      ({ address, domain } = parsed);
    } else {
      domain = domainToASCII(ctx.hostname.toLowerCase().replace(/^(autoconfig|autodiscover)\./, ''));
    }
    if (!domain || !(await store.domains.get(domain))) throw new ApiError('not_found', 'no such domain');
    return { address, domain };
  }

  const thunderbird = async (ctx: Context): Promise<void> => {
    const { domain } = await hostedDomain(ctx, query(ctx, 'emailaddress'));
    ctx.type = XML_TYPE;
    ctx.body = thunderbirdConfig(domain, hostname, ports);
  };

  const autodiscover = async (ctx: Context): Promise<void> => {
    const email =
      ctx.method === 'POST'
        ? requestedAddress(await readBody(ctx))
        : (query(ctx, 'emailaddress') ?? query(ctx, 'email'));
    const { address } = await hostedDomain(ctx, email);
    ctx.type = XML_TYPE;
    ctx.body = autodiscoverResponse(address, hostname, ports);
  };

  const mobileconfig = async (ctx: Context): Promise<void> => {
    const email = query(ctx, 'email');
    if (email === null) throw new ApiError('missing_parameter', 'email is required', 'email');
    const { address, domain } = await hostedDomain(ctx, email);
    const profile = appleProfile(address!, domain, hostname, ports);
    if (!profile) throw new ApiError('not_found', 'no mail service to configure');
    ctx.type = 'application/x-apple-aspen-config';
    ctx.set('Content-Disposition', `attachment; filename="${domain}.mobileconfig"`);
    ctx.body = profile;
  };

  const routes: [string, string[], (ctx: Context) => Promise<void>][] = [
    ['/mail/config-v1.1.xml', ['GET', 'HEAD'], thunderbird],
    ['/.well-known/autoconfig/mail/config-v1.1.xml', ['GET', 'HEAD'], thunderbird],
    ['/autodiscover/autodiscover.xml', ['GET', 'HEAD', 'POST'], autodiscover],
    ['/apple/mobileconfig', ['GET', 'HEAD'], mobileconfig],
  ];

  return async (ctx: Context, next: Next): Promise<void> => {
    // Outlook asks for /Autodiscover/Autodiscover.xml: paths match without regard to case.
    const route = routes.find(([path]) => path === ctx.path.toLowerCase());
    if (!route) return next();
    const [, methods, handler] = route;
    if (!methods.includes(ctx.method))
      throw new ApiError('method_not_allowed', `use ${methods.join(' or ')}`, null, {
        headers: { Allow: methods.join(', ') },
      });
    await handler(ctx);
  };
}

function query(ctx: Context, name: string): string | null {
  const value = ctx.query[name];
  return typeof value === 'string' ? value : null;
}

async function readBody(ctx: Context): Promise<string> {
  if (Number(ctx.get('content-length') || 0) > MAX_REQUEST_BYTES) throw tooLarge(ctx);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw tooLarge(ctx);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

function tooLarge(ctx: Context): ApiError {
  ctx.set('Connection', 'close');
  return new ApiError('payload_too_large', `autodiscover requests are limited to ${MAX_REQUEST_BYTES} bytes`);
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * The EMailAddress of a POX autodiscover request. Read with a pattern, not an XML parser: the
 * request is tiny and this way no DTD or entity of the client's is ever expanded.
 */
function requestedAddress(body: string): string {
  const match = /<(?:[\w.-]+:)?EMailAddress\b[^>]*>([^<]*)<\/(?:[\w.-]+:)?EMailAddress>/i.exec(body);
  if (!match) throw new ApiError('invalid_parameter', 'the autodiscover request has no EMailAddress', 'EMailAddress');
  return match[1]!.replace(/&(#x[0-9a-f]{1,6}|#\d{1,7}|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] !== '#') return ENTITIES[name] ?? whole;
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}
