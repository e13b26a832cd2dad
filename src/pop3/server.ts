// The POP3 server (RFC 1939 + CAPA, STLS, AUTH PLAIN) over INBOX: listeners, connection limits and
// the maildrop locks. The byte stream (plain, TLS, STARTTLS upgrade, backpressure) is IMAP's Transport.
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { Transport } from '../imap/transport.ts';
import { metrics } from '../metrics/registry.ts';
import type { LoginService } from '../security/login.ts';
import { followReloads, tlsServerOptions, type TlsSource } from '../tls/source.ts';
import type { Store } from '../store/index.ts';
import type { Pop3Context, Pop3Limits } from './context.ts';
import { Pop3Session } from './session.ts';

export type { Pop3Limits };

/**
 * Options of createPop3Server:
 * - store, login: the data and the shared password check (with its failure throttling).
 * - tls: PEM key and certificate, for implicit TLS listeners (995) and STLS (110); or a TlsSource
 *   (the certificate store) for SNI and certificates reloaded without a restart.
 * - hostname: named in the greeting and the sign-off.
 * - allowPlainAuthWithoutTls: allow USER/PASS and AUTH on an unencrypted connection from loopback
 *   (default false; meant for local tools and tests). Otherwise they answer -ERR [AUTH] until STLS.
 * - limits: maxConnectionsPerIp (20), idleTimeoutMs (10 min, the RFC 1939 minimum).
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

export const DEFAULT_POP3_LIMITS: Pop3Limits = { maxConnectionsPerIp: 20, idleTimeoutMs: 10 * 60_000 };

export function createPop3Server(options: Pop3ServerOptions): Pop3Server {
  const limits: Pop3Limits = { ...DEFAULT_POP3_LIMITS, ...options.limits };
  const sessions = new Set<Pop3Session>();
  const perIp = new Map<string, number>();
  const locks = new Map<string, object>();
  const servers: Server[] = [];
  const tlsServers = new Set<TlsServer>();

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
  const stopFollowing = followReloads(options.tls, tlsServers, () => {
    ctx.tlsContext = createSecureContext({ key: options.tls.key, cert: options.tls.cert });
  });

  function accept(socket: Socket, secure: boolean): void {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    if (count >= limits.maxConnectionsPerIp) {
      socket.on('error', () => {});
      socket.end('-ERR [SYS/TEMP] Too many connections from your address\r\n');
      return;
    }
    perIp.set(ip, count + 1);
    const closeMetric = metrics.connectionOpened('pop3');
    let session: Pop3Session | null = null;
    const transport = new Transport(socket, secure, {
      data: (chunk) => session?.onData(chunk),
      close: () => {
        closeMetric();
        const n = (perIp.get(ip) ?? 1) - 1;
        if (n > 0) perIp.set(ip, n);
        else perIp.delete(ip);
        if (session) {
          sessions.delete(session);
          session.closed();
        }
      },
    }, options.tls.SNICallback);
    session = new Pop3Session(ctx, transport, randomBytes(6).toString('hex'));
    sessions.add(session);
    options.logger?.debug({ session: session.id, ip, secure }, 'pop3 connection');
    session.greet();
  }

  return {
    async listen(port, host, implicitTls) {
      const server = implicitTls
        ? createTlsServer(tlsServerOptions(options.tls), (socket) => accept(socket, true))
        : createNetServer((socket) => accept(socket, false));
      server.on('error', (err) => options.logger?.error({ err }, 'pop3 listener error'));
      if (implicitTls) {
        server.on('tlsClientError', () => {});
        tlsServers.add(server as TlsServer);
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
      const address = server.address();
      return { port: typeof address === 'object' && address ? address.port : port };
    },
    async close() {
      stopFollowing();
      tlsServers.clear();
      const closing = servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const session of sessions) session.close('Server shutting down', 'SYS/TEMP');
      // Give the goodbyes a moment to leave, then cut whatever is still open.
      for (let waited = 0; sessions.size && waited < 500; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const session of sessions) session.transport.destroy();
      await Promise.all(closing);
    },
    get connections() {
      return sessions.size;
    },
  };
}
