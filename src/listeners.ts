import type { Logger } from './log.ts';

/** Anything that can listen on a port: protocol factories return this shape. */
export interface Listenable {
  listen(port: number, host: string): Promise<{ port: number }>;
}

export interface BoundListener { name: string; host: string; port: number; setting: string }

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
      logger.warn({ listener: name, port, fallback: port + offset }, `${name}: port ${port} needs privileges this process lacks; listening on ${port + offset} instead (set ${setting} or grant CAP_NET_BIND_SERVICE)`);
      return bind(name, setting, `${host.includes(':') ? `[${host}]` : host}:${port + offset}`, server, logger, 0);
    }
    if (code === 'EADDRINUSE') throw new ListenError(`${name}: ${address} is already in use by another process (setting ${setting})`, 75);
    if (code === 'EACCES') throw new ListenError(`${name}: no permission to listen on ${address} (setting ${setting}); run with CAP_NET_BIND_SERVICE or choose a port ≥ 1024`, 77);
    if (code === 'EADDRNOTAVAIL') throw new ListenError(`${name}: ${address} is not an address of this machine (setting ${setting})`, 78);
    throw err;
  }
}
