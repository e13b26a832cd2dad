import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { Store } from './store/index.ts';
import { bootstrap } from './bootstrap.ts';
import { CertificateStore } from './tls/certificate-store.ts';
import { ListenerSet, type BoundListener } from './listeners.ts';
import type { DnsResolver } from './dns/resolver.ts';
import type { LoginService } from './security/login.ts';
import { PRIVATE_UMASK, restrictTree } from './security/files.ts';
import { createServices, type Services } from './startup/services.ts';
import { startHttpListeners, startMailListeners } from './startup/listeners.ts';
import { shutdown } from './startup/shutdown.ts';

export interface RunningServer {
  store: Store;
  resolver: DnsResolver;
  login: LoginService;
  listeners: BoundListener[];
  /** Certificates by SNI name, reloadable (SIGHUP): every TLS listener reads from it. */
  tls: CertificateStore;
  /** Stops accepting, lets in-flight work finish (up to the shutdown timeout), closes the store. */
  close(): Promise<void>;
}

/** The specific hosts (names and addresses, not wildcards) the listeners are configured on: the self-signed certificate carries them. */
function listenHosts(config: Config): string[] {
  const all = [
    config.smtp.mx_listen,
    config.smtp.submission_listen,
    config.smtp.submissions_listen,
    config.imap.listen,
    config.imap.tls_listen,
    config.pop3.listen,
    config.pop3.tls_listen,
    config.http.listen,
    config.http.tls_listen,
  ].flat();
  const hosts = all.map((address) => address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''));
  return [...new Set(hosts.filter((h) => h && h !== '0.0.0.0' && h !== '::'))];
}

/**
 * Opens the store, bootstraps a first start, builds the background services (src/startup/services.ts),
 * binds every configured listener (src/startup/listeners.ts), then starts the background work.
 * close() and a failed start stop in the order of src/startup/shutdown.ts.
 */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const dataDir = resolve(config.data_dir);
  // Everything the server writes from here on is private; what an earlier start (or a Dockerfile's
  // mkdir) left readable to others is closed up before the store opens.
  process.umask(PRIVATE_UMASK);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrictTree(dataDir);
  const store = await Store.open(resolve(dataDir, 'store'), {
    groupCommit: config.server.group_commit,
    postgresUrl: config.store.engine === 'postgres' ? config.store.postgres_url : undefined,
    shared: config.store.shared,
  });
  void store.fulltext.preload(); // the largest folders' search index, read while the rest starts
  const listeners = new ListenerSet(logger, config.server.unprivileged_port_offset);
  let services: Services | undefined;
  let stopHttp = async (): Promise<void> => {};
  const background = () => [() => services?.stop(), () => stopHttp()];
  let ready = false;
  try {
    await bootstrap(store, dataDir, logger);
    const tls = await CertificateStore.open({
      dataDir,
      hostname: config.hostname,
      settings: config.tls,
      altNames: listenHosts(config),
      logger: logger.child({ component: 'tls' }),
    });
    if (tls.defaultCertificate.file === 'self-signed') {
      logger.warn(
        { hostname: config.hostname },
        'using a self-signed certificate (set tls.cert and tls.key, or enable ACME, for a trusted one)',
      );
    }
    services = await createServices(config, store, dataDir, logger);
    const context = { config, store, tls, services, logger };
    await startMailListeners(listeners, context);
    const http = await startHttpListeners(listeners, { ...context, ready: () => ready });
    stopHttp = () => http.stop();

    services.start();
    http.acme?.start();
    ready = true;
    return {
      store,
      resolver: services.resolver,
      login: services.login,
      listeners: listeners.bound,
      tls,
      close: async () => {
        ready = false;
        await shutdown({ listeners, timeoutMs: config.server.shutdown_timeout_ms, background: background(), store });
      },
    };
  } catch (err) {
    await shutdown({ listeners, timeoutMs: Infinity, background: background(), store });
    throw err;
  }
}
