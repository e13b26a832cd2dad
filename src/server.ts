import { createServer, type Server as HttpServer } from 'node:http';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { Store } from './store/index.ts';
import { bootstrap } from './bootstrap.ts';
import { loadCertificate, type KeyPair } from './tls/certificates.ts';
import { createHttpApp } from './api/app.ts';
import { bind, type BoundListener, type Listenable } from './listeners.ts';
import { createResolver, type DnsResolver } from './dns/resolver.ts';
import { LoginService } from './security/login.ts';
import { createMxServer } from './smtp/mx.ts';

export interface RunningServer {
  store: Store;
  resolver: DnsResolver;
  login: LoginService;
  listeners: BoundListener[];
  tls: KeyPair;
  /** Stops accepting, lets in-flight work finish (up to the shutdown timeout), closes the store. */
  close(): Promise<void>;
}

interface Service extends Listenable {
  close(): Promise<void>;
}

/** An HTTP server as a Service: close() waits for requests in flight, then cuts idle keep-alives. */
function httpService(server: HttpServer): Service {
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    listen: (port, host) =>
      new Promise((resolvePort, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolvePort({ port: (server.address() as { port: number }).port });
        });
      }),
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeIdleConnections();
      }),
  };
}

/** Opens the store, bootstraps a first start, and binds every configured listener. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const dataDir = resolve(config.data_dir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = await Store.open(resolve(dataDir, 'store'), { groupCommit: config.server.group_commit });
  const services: Service[] = [];
  const listeners: BoundListener[] = [];
  let ready = false;
  try {
    await bootstrap(store, dataDir, logger);
    const tls = await loadCertificate(config.tls, dataDir, config.hostname);
    if (tls.selfSigned) logger.warn({ hostname: config.hostname }, 'using a self-signed certificate (set tls.cert and tls.key for a trusted one)');

    const offset = config.server.unprivileged_port_offset;
    const start = async (name: string, setting: string, addresses: string[], make: () => Service) => {
      if (addresses.length === 0) return;
      for (const address of addresses) {
        const service = make();
        services.push(service);
        const bound = await bind(name, setting, address, service, logger, offset);
        listeners.push(bound);
        logger.info({ listener: name, host: bound.host, port: bound.port }, `${name} listening`);
      }
    };

    const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout_ms });
    const login = new LoginService(store, {
      maxFailuresPerIp: config.auth.max_failures_per_ip,
      maxFailuresPerAccount: config.auth.max_failures_per_account,
      windowMs: config.auth.failure_window_ms,
    });

    await start('smtp-mx', 'smtp.mx_listen', config.smtp.mx_listen, () =>
      createMxServer({
        store,
        resolver,
        tls,
        hostname: config.hostname,
        maxMessageBytes: config.smtp.max_message_bytes,
        maxRecipients: config.smtp.max_recipients,
        limits: {
          maxConnectionsPerIp: config.smtp.max_connections_per_ip,
          messagesPerIpPerMinute: config.smtp.messages_per_ip_per_minute,
          idleTimeoutMs: config.smtp.idle_timeout_ms,
        },
        spam: { junkScore: config.spam.junk_score, rejectScore: config.spam.reject_score },
        logger: logger.child({ listener: 'smtp-mx' }),
      }),
    );

    const app = createHttpApp({ store, logger, ready: () => ready });
    await start('http', 'http.listen', config.http.listen, () => httpService(createServer(app.callback())));

    ready = true;
    return {
      store,
      resolver,
      login,
      listeners,
      tls,
      close: async () => {
        ready = false;
        const timeout = new Promise<void>((r) => setTimeout(r, config.server.shutdown_timeout_ms).unref());
        await Promise.race([Promise.all(services.map((s) => s.close())), timeout]);
        await store.close();
      },
    };
  } catch (err) {
    await Promise.allSettled(services.map((s) => s.close()));
    await store.close();
    throw err;
  }
}
