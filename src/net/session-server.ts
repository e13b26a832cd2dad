// Package net implements what the line-based protocol servers share. This file: listeners (plain or
// implicit TLS, with SNI and certificate reloads), per-IP connection limits, a metric per connection,
// and shutdown that says goodbye first, for IMAP and POP3; transport.ts is one client's byte stream
// (TLS, STARTTLS, DEFLATE, backpressure). Invariant: a slow client only ever slows its own session.
// May import the rest of the foundation and base.
import { randomBytes } from 'node:crypto';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { keepConnectionsAlive } from './keepalive.ts';
import { Transport } from './transport.ts';
import { metrics, type Protocol } from '../metrics/registry.ts';
import { followReloads, tlsServerOptions, type TlsSource } from '../tls/source.ts';

export interface ProtocolSession {
  readonly id: string;
  readonly transport: Transport;
  onData(chunk: Buffer): void;
  greet(): void;
  closed(): void;
}

export interface SessionServerOptions<S extends ProtocolSession> {
  protocol: Protocol;
  tls: TlsSource;
  maxConnectionsPerIp: number;
  /** The line sent (then the socket closed) to an address over its connection limit. */
  tooManyConnections: string;
  createSession(transport: Transport, id: string): S;
  /** Says goodbye to a session at shutdown (BYE, -ERR …). */
  farewell(session: S): void;
  /** Called after the certificates were reloaded (STARTTLS contexts are rebuilt from them). */
  onCertificateReload?: () => void;
  logger?: Logger;
}

export interface SessionServer<S> {
  listen(port: number, host: string, implicitTls: boolean): Promise<{ port: number }>;
  close(): Promise<void>;
  readonly sessions: ReadonlySet<S>;
}

export function createSessionServer<S extends ProtocolSession>(options: SessionServerOptions<S>): SessionServer<S> {
  const sessions = new Set<S>();
  const perIp = new Map<string, number>();
  const servers: Server[] = [];
  const tlsServers = new Set<TlsServer>();
  const stopFollowing = followReloads(options.tls, tlsServers, options.onCertificateReload);

  function accept(socket: Socket, secure: boolean): void {
    const ip = socket.remoteAddress ?? '';
    const count = perIp.get(ip) ?? 0;
    if (count >= options.maxConnectionsPerIp) {
      socket.on('error', () => {});
      socket.end(`${options.tooManyConnections}\r\n`);
      return;
    }
    perIp.set(ip, count + 1);
    const closeMetric = metrics.connectionOpened(options.protocol);
    let session: S | null = null;
    const transport = new Transport(
      socket,
      secure,
      {
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
      },
      options.tls.SNICallback,
    );
    session = options.createSession(transport, randomBytes(6).toString('hex'));
    sessions.add(session);
    options.logger?.debug({ session: session.id, ip, secure }, `${options.protocol} connection`);
    session.greet();
  }

  return {
    sessions,
    async listen(port, host, implicitTls) {
      const server = implicitTls
        ? createTlsServer(tlsServerOptions(options.tls), (socket) => accept(socket, true))
        : createNetServer((socket) => accept(socket, false));
      server.on('error', (err) => options.logger?.error({ err }, `${options.protocol} listener error`));
      keepConnectionsAlive(server);
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
      for (const session of sessions) options.farewell(session);
      // Give the goodbyes a moment to leave, then cut whatever is still open.
      for (let waited = 0; sessions.size && waited < 500; waited += 20) await new Promise((r) => setTimeout(r, 20));
      for (const session of sessions) session.transport.destroy();
      await Promise.all(closing);
    },
  };
}
