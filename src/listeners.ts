import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Logger } from './log.ts';
import { keepConnectionsAlive } from './net/keepalive.ts';

/** Anything that can listen on a port: protocol factories return this shape. */
export interface Listenable {
  listen(port: number, host: string): Promise<{ port: number }>;
}

export interface BoundListener {
  name: string;
  host: string;
  port: number;
  setting: string;
}

export class ListenError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.exitCode = exitCode;
  }
}

export function parseListen(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (!match) throw new ListenError(`cannot parse listen address ${JSON.stringify(address)}`, 78);
  return { host: match[1]!, port: Number(match[2]) };
}

/**
 * Binds one configured address. A privileged port the process may not use moves up by `offset`
 * (25 → 10025) with a warning, so a fresh `npm start` works without root; a port already taken
 * stops the start with a message that names the setting.
 */
export async function bind(
  name: string,
  setting: string,
  address: string,
  server: Listenable,
  logger: Logger,
  offset: number,
): Promise<BoundListener> {
  const { host, port } = parseListen(address);
  try {
    const bound = await server.listen(port, host);
    return { name, setting, host, port: bound.port };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' && port < 1024 && offset > 0) {
      logger.warn(
        { listener: name, port, fallback: port + offset },
        `${name}: port ${port} needs privileges this process lacks; listening on ${port + offset} instead (set ${setting} or grant CAP_NET_BIND_SERVICE)`,
      );
      return bind(name, setting, `${host.includes(':') ? `[${host}]` : host}:${port + offset}`, server, logger, 0);
    }
    if (code === 'EADDRINUSE')
      throw new ListenError(`${name}: ${address} is already in use by another process (setting ${setting})`, 75);
    if (code === 'EACCES')
      throw new ListenError(
        `${name}: no permission to listen on ${address} (setting ${setting}); run with CAP_NET_BIND_SERVICE or choose a port ≥ 1024`,
        77,
      );
    if (code === 'EADDRNOTAVAIL')
      throw new ListenError(`${name}: ${address} is not an address of this machine (setting ${setting})`, 78);
    throw err;
  }
}

/** A listening part of the server: close() stops accepting and lets the work in flight finish. */
export interface Service extends Listenable {
  close(): Promise<void>;
}

/** An HTTP server as a Service: close() waits for requests in flight, then cuts idle keep-alives. */
export function httpService(server: HttpServer | HttpsServer): Service {
  const sockets = new Set<Socket>();
  keepConnectionsAlive(server);
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

/**
 * One protocol engine behind several listeners (IMAP on 143 and 993): each listener is a Service of
 * its own, and closing any of them closes the engine once.
 */
export function sharedEngine(engine: {
  listen(port: number, host: string, implicitTls: boolean): Promise<{ port: number }>;
  close(): Promise<void>;
}) {
  let closed: Promise<void> | undefined;
  return (implicitTls: boolean) => (): Service => ({
    listen: (port, host) => engine.listen(port, host, implicitTls),
    close: () => (closed ??= engine.close()),
  });
}

/** The server's listeners: binds each configured address of a setting and closes them together. */
export class ListenerSet {
  readonly bound: BoundListener[] = [];
  private readonly services: Service[] = [];
  private readonly logger: Logger;
  private readonly offset: number;

  /** `offset`: server.unprivileged_port_offset (see bind). */
  constructor(logger: Logger, offset: number) {
    this.logger = logger;
    this.offset = offset;
  }

  /** One Service per address of the setting (none for an empty list: that listener is off). */
  async start(name: string, setting: string, addresses: string[], make: () => Service): Promise<void> {
    for (const address of addresses) {
      const service = make();
      this.services.push(service);
      const bound = await bind(name, setting, address, service, this.logger, this.offset);
      this.bound.push(bound);
      this.logger.info({ listener: name, host: bound.host, port: bound.port }, `${name} listening`);
    }
  }

  /** The port a listener got (after any unprivileged offset), or undefined when it is off. */
  port(name: string): number | undefined {
    return this.bound.find((l) => l.name === name)?.port;
  }

  /** Closes every service; resolves once all have closed, or after timeoutMs (the rest are left to the exit). */
  async close(timeoutMs = Infinity): Promise<void> {
    const all = Promise.allSettled(this.services.map((s) => s.close())).then(() => undefined);
    if (!Number.isFinite(timeoutMs)) return all;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
    await Promise.race([all, timeout]);
    clearTimeout(timer);
  }
}
