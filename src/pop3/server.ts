// Package pop3 implements POP3 (RFC 1939 + CAPA, STLS, AUTH PLAIN) over INBOX; this file is the server:
// listeners, connection limits and the maildrop locks. The byte stream (plain, TLS, STARTTLS upgrade,
// backpressure) is net/transport.ts. Invariants: one session per mailbox at a time; a session changes
// the store only at QUIT (UPDATE state), so a dropped connection changes nothing (docs/ARCHITECTURE.md
// §7). May import services, pipelines, foundation and base.
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginService } from '../security/login.ts';
import type { TlsSource } from '../tls/source.ts';
import { createSessionServer } from '../net/session-server.ts';
import type { Store } from '../store/index.ts';
import type { Pop3Context, Pop3Limits } from './context.ts';
import { Pop3Session } from './session.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/schema.ts';

export type { Pop3Limits };

/**
 * Options of createPop3Server:
 * - store, login: the data and the shared password check (with its failure throttling).
 * - tls: PEM key and certificate, for implicit TLS listeners (995) and STLS (110); or a TlsSource
 *   (the certificate store) for SNI and certificates reloaded without a restart.
 * - hostname: named in the greeting and the sign-off.
 * - allowPlainAuthWithoutTls: allow USER/PASS and AUTH on an unencrypted connection from loopback
 *   (default false; meant for local tools and tests). Otherwise they answer -ERR [AUTH] until STLS.
 * - limits: maxConnectionsPerIp, idleTimeoutMs (RFC 1939 asks for at least 10 min); defaults: the [pop3] config section's.
 * - logger: pino logger (optional); never given passwords.
 * One session per mailbox at a time (RFC 1939 8 maildrop lock): a second login gets -ERR [IN-USE].
 */
export interface Pop3ServerOptions {
  store: Store;
  login: LoginService;
  tls: TlsSource;
  hostname: string;
  allowPlainAuthWithoutTls?: boolean;
  limits?: Partial<Pop3Limits>;
  logger?: Logger;
}

export interface Pop3Server {
  /** Starts a listener; implicitTls: TLS from the first byte (995), else plain with STLS (110). */
  listen(port: number, host: string, implicitTls: boolean): Promise<{ port: number }>;
  /** Stops listening and closes every connection; deletions of sessions that did not QUIT are not applied. */
  close(): Promise<void>;
  readonly connections: number;
}

/** The [pop3] config section as limits. */
export const pop3Limits = (c: Config['pop3']): Pop3Limits => ({
  maxConnectionsPerIp: c.max_connections_per_ip,
  idleTimeoutMs: c.idle_timeout_ms,
});

export const DEFAULT_POP3_LIMITS: Pop3Limits = pop3Limits(CONFIG_DEFAULTS.pop3);

export function createPop3Server(options: Pop3ServerOptions): Pop3Server {
  const limits: Pop3Limits = { ...DEFAULT_POP3_LIMITS, ...options.limits };
  const locks = new Map<string, object>();

  const ctx: Pop3Context = {
    store: options.store,
    login: options.login,
    tlsContext: createSecureContext({ key: options.tls.key, cert: options.tls.cert }),
    hostname: options.hostname,
    allowPlainAuthWithoutTls: options.allowPlainAuthWithoutTls ?? false,
    limits,
    logger: options.logger,
    lock(accountId, owner) {
      const holder = locks.get(accountId);
      if (holder && holder !== owner) return false;
      locks.set(accountId, owner);
      return true;
    },
    unlock(accountId, owner) {
      if (locks.get(accountId) === owner) locks.delete(accountId);
    },
  };
  const base = createSessionServer<Pop3Session>({
    protocol: 'pop3',
    tls: options.tls,
    maxConnectionsPerIp: limits.maxConnectionsPerIp,
    tooManyConnections: '-ERR [SYS/TEMP] Too many connections from your address',
    createSession: (transport, id) => new Pop3Session(ctx, transport, id),
    farewell: (session) => session.close('Server shutting down', 'SYS/TEMP'),
    onCertificateReload: () => {
      ctx.tlsContext = createSecureContext({ key: options.tls.key, cert: options.tls.cert });
    },
    logger: options.logger,
  });

  return {
    listen: (port, host, implicitTls) => base.listen(port, host, implicitTls),
    close: () => base.close(),
    get connections() {
      return base.sessions.size;
    },
  };
}
