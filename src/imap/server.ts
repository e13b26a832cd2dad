// The IMAP server (IMAP4rev1 + IMAP4rev2) on top of the store: listeners, connection limits and the
// fan-out of store changes to the sessions that have a folder selected.
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createSecureContext, createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginService } from '../security/login.ts';
import { followReloads, tlsServerOptions, type TlsSource } from '../tls/source.ts';
import type { Folder, FolderChange, Store } from '../store/index.ts';
import type { ImapLimits, ServerContext } from './context.ts';
import { metrics } from '../metrics/registry.ts';
import { RecentTracker } from './recent.ts';
import { Session } from './session.ts';
import { Transport } from './transport.ts';

export type { ImapLimits };

/**
 * Options of createImapServer:
 * - store, login: the data and the shared password check (with its failure throttling).
 * - tls: PEM key and certificate, for implicit TLS listeners and STARTTLS; or a TlsSource (the
 *   certificate store) for SNI and certificates reloaded without a restart.
 * - hostname: named in the greeting.
 * - allowPlainAuthWithoutTls: allow LOGIN/AUTHENTICATE on an unencrypted connection (default false;
 *   meant for loopback and tests). Otherwise they answer NO [PRIVACYREQUIRED] until STARTTLS.
 * - limits: maxLineBytes (64 KiB), maxLiteralBytes = APPENDLIMIT (50 MiB), maxConnectionsPerIp (50),
 *   maxConnectionsPerAccount (50), idleTimeoutMs (30 min).
 * - logger: pino logger (optional); never given passwords.
 */
export interface ImapServerOptions {
  store: Store;
  login: LoginService;
  tls: TlsSource;
  hostname: string;
  allowPlainAuthWithoutTls?: boolean;
  limits?: Partial<ImapLimits>;
  logger?: Logger;
  /** Called after each durable COPY/MOVE with the new UIDs (the server trains the spam filter from it). */
  onCopy?: ServerContext['onCopy'];
}

export interface ImapServer {
  /** Starts a listener; implicitTls: TLS from the first byte (993), else plain with STARTTLS (143). */
  listen(port: number, host: string, implicitTls: boolean): Promise<{ port: number }>;
  /** Stops listening, says BYE to every client and closes their connections. */
  close(): Promise<void>;
  readonly connections: number;
}

export const DEFAULT_LIMITS: ImapLimits = {
  maxLineBytes: 64 * 1024,
  maxLiteralBytes: 50 * 1024 * 1024,
  maxConnectionsPerIp: 50,
  maxConnectionsPerAccount: 50,
  idleTimeoutMs: 30 * 60_000,
};

export function createImapServer(options: ImapServerOptions): ImapServer {
  const limits: ImapLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const sessions = new Set<Session>();
  const perIp = new Map<string, number>();
  const perAccount = new Map<string, number>();
  const watchers = new Map<number, Set<Session>>();
  const servers: Server[] = [];
  const tlsServers = new Set<TlsServer>();
  const tlsContext = createSecureContext({ key: options.tls.key, cert: options.tls.cert });

  const ctx: ServerContext = {
    store: options.store,
    login: options.login,
    tlsContext,
    hostname: options.hostname,
    allowPlainAuthWithoutTls: options.allowPlainAuthWithoutTls ?? false,
    limits,
    logger: options.logger,
    onCopy: options.onCopy,
    recent: new RecentTracker(),
    watch(session, folderId) {
      let set = watchers.get(folderId);
      if (!set) watchers.set(folderId, (set = new Set()));
      set.add(session);
    },
    unwatch(session, folderId) {
      const set = watchers.get(folderId);
      set?.delete(session);
      if (set?.size === 0) watchers.delete(folderId);
    },
    addAccountSession(accountId) {
      const n = perAccount.get(accountId) ?? 0;
      if (n >= limits.maxConnectionsPerAccount) return false;
      perAccount.set(accountId, n + 1);
      return true;
    },
    removeAccountSession(accountId) {
      const n = (perAccount.get(accountId) ?? 1) - 1;
      if (n > 0) perAccount.set(accountId, n);
      else perAccount.delete(accountId);
    },
  };

  const onChange = (change: FolderChange): void => {
    if (change.kind === 'add') ctx.recent.added(change.folderId, change.uids);
    for (const session of watchers.get(change.folderId) ?? []) session.onChange(change);
  };
  const onFolderDeleted = (folder: Folder): void => ctx.recent.forget(folder.id);
  options.store.notifier.on('change', onChange);
  options.store.notifier.on('folder-deleted', onFolderDeleted);
  const stopFollowing = followReloads(options.tls, tlsServers, () => {
    ctx.tlsContext = createSecureContext({ key: options.tls.key, cert: options.tls.cert });
  });

  function accept(socket: Socket, secure: boolean): void {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    if (count >= limits.maxConnectionsPerIp) {
      socket.on('error', () => {});
      socket.end('* BYE Too many connections from your address\r\n');
      return;
    }
    perIp.set(ip, count + 1);
    const closeMetric = metrics.connectionOpened('imap');
    let session: Session | null = null;
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
    session = new Session(ctx, transport, randomBytes(6).toString('hex'));
    sessions.add(session);
    options.logger?.debug({ session: session.id, ip, secure }, 'imap connection');
    session.greet();
  }

  return {
    async listen(port, host, implicitTls) {
      const server = implicitTls
        ? createTlsServer(tlsServerOptions(options.tls), (socket) => accept(socket, true))
        : createNetServer((socket) => accept(socket, false));
      server.on('error', (err) => options.logger?.error({ err }, 'imap listener error'));
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
      options.store.notifier.off('change', onChange);
      options.store.notifier.off('folder-deleted', onFolderDeleted);
      stopFollowing();
      tlsServers.clear();
      const closing = servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const session of sessions) session.bye('Server shutting down');
      // Give the BYEs a moment to leave, then cut whatever is still open.
      for (let waited = 0; sessions.size && waited < 500; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const session of sessions) session.transport.destroy();
      await Promise.all(closing);
    },
    get connections() {
      return sessions.size;
    },
  };
}
