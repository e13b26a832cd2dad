// For peers that take their ports from a config file: a port the kernel says is free on `host` now.
// It is bound later, so give each such peer a loopback address of its own (127.0.0.77, …) where no
// other test's listener can take the port in between.
import { createServer } from 'node:net';

export function freePortOn(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
