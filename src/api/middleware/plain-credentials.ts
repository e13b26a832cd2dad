import type { Socket } from 'node:net';
import type { Context, Next } from 'koa';
import { addressMatcher } from '../../security/net.ts';
import { ApiError } from '../errors.ts';
import { CONFIG_DEFAULTS } from '../../config/defaults.ts';

export interface PlainCredentialsOptions {
  /** Accept credentials over plain HTTP from anywhere (config http.allow_plain_credentials). */
  allow: boolean;
  /** Peers that may send credentials over plain HTTP anyway (http.plain_credentials_from; default loopback). */
  from: string[];
}

export const PLAIN_CREDENTIALS_DEFAULTS: PlainCredentialsOptions = {
  allow: CONFIG_DEFAULTS.http.allow_plain_credentials,
  from: CONFIG_DEFAULTS.http.plain_credentials_from,
};

/**
 * Keys and passwords never cross a network in clear: over plain HTTP, a request that
 * carries an Authorization header is refused unless its peer is trusted (loopback by default, such
 * as a TLS-terminating proxy on this host) or the operator opted in, as LOGINDISABLED does for IMAP
 * (RFC 3501 §6.2.3). The refusal comes before any key lookup; the peer is the socket's address.
 */
export function plainCredentialsGuard(options: PlainCredentialsOptions) {
  const trusted = addressMatcher(options.from);
  // A connection's peer never changes: its verdict is reached once, not on every keep-alive request.
  const verdicts = new WeakMap<Socket, boolean>();
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!options.allow && !ctx.secure && ctx.get('authorization') !== '') {
      const socket = ctx.req.socket;
      const peer = socket.remoteAddress ?? '';
      let ok = verdicts.get(socket);
      if (ok === undefined) verdicts.set(socket, (ok = trusted(peer)));
      if (!ok) {
        throw new ApiError(
          'tls_required',
          `credentials are not accepted over plain HTTP from ${peer}: they would cross the network in clear (treat this key or password as exposed). ` +
            'Use HTTPS (http.tls_listen), or have the operator add your network to http.plain_credentials_from or set http.allow_plain_credentials = true',
        );
      }
    }
    await next();
  };
}
