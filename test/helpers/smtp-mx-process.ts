// Runs an MX server in its own process (for crash tests): opens the store at argv[2], resolves
// through the DNS servers in argv[3] (comma-separated), listens on 127.0.0.1 with an ephemeral port
// and prints {"port": N} once listening.
import { createResolver } from '../../src/dns/resolver.ts';
import { createMxServer } from '../../src/smtp/mx.ts';
import { Store } from '../../src/store/index.ts';
import { HOSTNAME, testCertificate } from './smtp.ts';

const [dir, servers = ''] = process.argv.slice(2);
if (!dir) throw new Error('usage: smtp-mx-process.ts STORE_DIR [DNS_SERVERS]');
const store = await Store.open(dir);
const resolver = createResolver({ servers: servers.split(',').filter(Boolean), timeoutMs: 500, tries: 1 });
const mx = createMxServer({
  store,
  resolver,
  tls: await testCertificate(),
  hostname: HOSTNAME,
  limits: { maxConnectionsPerIp: 100, messagesPerIpPerMinute: 100_000 },
});
const { port } = await mx.listen(0, '127.0.0.1');
process.stdout.write(`${JSON.stringify({ port })}\n`);
const stop = async () => {
  await mx.close();
  await store.close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
