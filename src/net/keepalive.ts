// TCP keepalive on every accepted connection: NATs and mobile carriers silently drop idle TCP
// mappings (often after a few minutes), and a peer that vanished is otherwise only noticed at the
// next write. Probes start after a minute of silence.
import type { Server, Socket } from 'node:net';

export const TCP_KEEPALIVE_DELAY_MS = 60_000;

/** Turns keepalive on for each connection `server` accepts (net, tls, http(s) and smtp-server's servers all emit 'connection' with the TCP socket). */
export function keepConnectionsAlive(server: Server): void {
  server.on('connection', (socket: Socket) => socket.setKeepAlive(true, TCP_KEEPALIVE_DELAY_MS));
}
