// Package imap implements IMAP4rev1 and IMAP4rev2 (RFC 3501, RFC 9051) on top of the store; this file is
// the server: listeners, connection limits and the fan-out of store changes to the sessions that have a
// folder selected. Invariants: one module per command in commands/index.ts; a session's view of its
// selected folder changes only when it announces (after each command, at once in IDLE), and expunges wait
// past FETCH, STORE, SEARCH, SORT and THREAD (docs/ARCHITECTURE.md §7, §11.3). May import services,
// pipelines, foundation and base; knows nothing of HTTP.
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginService } from '../security/login.ts';
import type { TlsSource } from '../tls/source.ts';
import { createSessionServer } from '../net/session-server.ts';
import type { Folder, FolderChange, Store } from '../store/index.ts';
import type { ImapLimits, ServerContext } from './context.ts';
import { RecentTracker } from './recent.ts';
import { UidLists } from './uid-lists.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/schema.ts';
import { Session } from './session.ts';
import { notifyChange, notifyMailbox } from './notify.ts';

export type { ImapLimits };

/**
 * Options of createImapServer:
 * - store, login: the data and the shared password check (with its failure throttling).
 * - tls: PEM key and certificate, for implicit TLS listeners and STARTTLS; or a TlsSource (the
 *   certificate store) for SNI and certificates reloaded without a restart.
 * - hostname: named in the greeting.
 * - allowPlainAuthWithoutTls: allow LOGIN/AUTHENTICATE on an unencrypted connection (default false;
 *   meant for loopback and tests). Otherwise they answer NO [PRIVACYREQUIRED] until STARTTLS.
 * - limits: maxLineBytes, maxLiteralBytes = APPENDLIMIT, maxConnectionsPerIp, maxConnectionsPerAccount,
 *   idleTimeoutMs, maxKeywordsPerMailbox, idleKeepaliveMs ("* OK Still here" in IDLE); defaults: the
 *   [imap] config section's, through imapLimits.
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
  /** Called after each durable STORE with the flags each message gained (the server trains on junk keywords). */
  onFlagsGained?: ServerContext['onFlagsGained'];
}

export interface ImapServer {
  /** Starts a listener; implicitTls: TLS from the first byte (993), else plain with STARTTLS (143). */
  listen(port: number, host: string, implicitTls: boolean): Promise<{ port: number }>;
  /** Stops listening, says BYE to every client and closes their connections. */
  close(): Promise<void>;
  readonly connections: number;
}

/** The [imap] config section as limits (an APPEND may be as large as a message SMTP accepts). */
export function imapLimits(config: Pick<Config, 'imap' | 'smtp'>): ImapLimits {
  const c = config.imap;
  return {
    maxLineBytes: c.max_line_bytes,
    maxLiteralBytes: config.smtp.max_message_bytes,
    maxConnectionsPerIp: c.max_connections_per_ip,
    maxConnectionsPerAccount: c.max_connections_per_account,
    idleTimeoutMs: c.idle_timeout_ms,
    maxKeywordsPerMailbox: c.max_keywords_per_mailbox,
    idleKeepaliveMs: c.idle_keepalive_seconds * 1000,
  };
}

export const DEFAULT_LIMITS: ImapLimits = imapLimits(CONFIG_DEFAULTS);

export function createImapServer(options: ImapServerOptions): ImapServer {
  const limits: ImapLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const perAccount = new Map<string, number>();
  const watchers = new Map<number, Set<Session>>();
  /** Sessions by account, for NOTIFY (events of folders other than the selected one). */
  const byAccount = new Map<string, Set<Session>>();
  const notifying = (accountId: string): Session[] => [...(byAccount.get(accountId) ?? [])].filter((s) => s.notify);
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
    onFlagsGained: options.onFlagsGained,
    recent: new RecentTracker(options.store.recentWatermarks),
    uidLists: new UidLists(),
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
    mailboxEvent(origin, event) {
      for (const session of notifying(origin.account!.id))
        if (session !== origin) session.queueNotify(() => notifyMailbox(session, event));
    },
    addAccountSession(session, accountId) {
      const n = perAccount.get(accountId) ?? 0;
      if (n >= limits.maxConnectionsPerAccount) return false;
      perAccount.set(accountId, n + 1);
      let set = byAccount.get(accountId);
      if (!set) byAccount.set(accountId, (set = new Set()));
      set.add(session);
      return true;
    },
    removeAccountSession(session, accountId) {
      const n = (perAccount.get(accountId) ?? 1) - 1;
      if (n > 0) perAccount.set(accountId, n);
      else perAccount.delete(accountId);
      const set = byAccount.get(accountId);
      set?.delete(session);
      if (set?.size === 0) byAccount.delete(accountId);
    },
  };

  const onChange = (change: FolderChange): void => {
    if (change.kind === 'add') ctx.recent.added(change.folderId, change.uids);
    for (const session of watchers.get(change.folderId) ?? []) session.onChange(change);
    for (const session of notifying(change.accountId)) session.queueNotify(() => notifyChange(session, change));
  };
  const onFolderDeleted = (folder: Folder): void => ctx.recent.forget(folder.id);
  options.store.notifier.on('change', onChange);
  options.store.notifier.on('folder-deleted', onFolderDeleted);
  const base = createSessionServer<Session>({
    protocol: 'imap',
    tls: options.tls,
    maxConnectionsPerIp: limits.maxConnectionsPerIp,
    tooManyConnections: '* BYE Too many connections from your address',
    createSession: (transport, id) => new Session(ctx, transport, id),
    farewell: (session) => session.bye('Server shutting down'),
    onCertificateReload: () => {
      ctx.tlsContext = createSecureContext({ key: options.tls.key, cert: options.tls.cert });
    },
    logger: options.logger,
  });

  return {
    listen: (port, host, implicitTls) => base.listen(port, host, implicitTls),
    async close() {
      options.store.notifier.off('change', onChange);
      options.store.notifier.off('folder-deleted', onFolderDeleted);
      await base.close();
    },
    get connections() {
      return base.sessions.size;
    },
  };
}
