// Two whole Wren Mail servers that mail each other: A (a.test, mx.a.test on 127.0.0.2) and B (b.test,
// mx.b.test on 127.0.0.3), their MX on the same port, a loopback DNS server with MX, A, SPF and DMARC
// records for both and DKIM keys for a.test, alice@a.test on A and bob@b.test on B.
import { startDnsServer, type TestDnsServer } from './dns-server.ts';
import { startInstance, type Instance } from './instance.ts';
import { dkimZone, makeDkimKeys } from './outbound.ts';

export const PAIR_PASSWORD = 'a long enough password';

export interface MailPair {
  a: Instance;
  b: Instance;
  dns: TestDnsServer;
  stop(): Promise<void>;
}

/** `clientListeners`: also submission (587-style) and IMAPS on each, for tests that act as mail clients. */
export async function startMailPair(options: { clientListeners?: boolean } = {}): Promise<MailPair> {
  const mxPort = 20000 + Math.floor(Math.random() * 20000);
  const dkim = makeDkimKeys();
  const dns = await startDnsServer({
    'a.test': { MX: [{ exchange: 'mx.a.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.2 -all'] },
    'b.test': { MX: [{ exchange: 'mx.b.test', priority: 10 }], TXT: ['v=spf1 ip4:127.0.0.3 -all'] },
    'mx.a.test': { A: ['127.0.0.2'] },
    'mx.b.test': { A: ['127.0.0.3'] },
    '_dmarc.a.test': { TXT: ['v=DMARC1; p=reject'] },
    '_dmarc.b.test': { TXT: ['v=DMARC1; p=reject'] },
    ...dkimZone('a.test', dkim),
  });
  const startOn = (host: string, hostname: string) =>
    startInstance({
      host,
      hostname,
      dnsServers: dns.servers,
      overrides: {
        smtp: {
          mx_listen: [`${host}:${mxPort}`],
          submission_listen: options.clientListeners ? [`${host}:0`] : [],
          submissions_listen: [],
        },
        imap: { listen: [], tls_listen: options.clientListeners ? [`${host}:0`] : [] },
        outbound: { smtp_port: mxPort, local_address: host, retry_schedule_seconds: [1] },
      } as never,
    });
  const a = await startOn('127.0.0.2', 'mx.a.test');
  const b = await startOn('127.0.0.3', 'mx.b.test');
  await a.addAccount('alice@a.test', PAIR_PASSWORD);
  await a.server.store.domains.update({ ...(await a.server.store.domains.get('a.test'))!, dkim });
  await b.addAccount('bob@b.test', PAIR_PASSWORD);
  return {
    a,
    b,
    dns,
    async stop() {
      await Promise.allSettled([a.stop(), b.stop()]);
      await dns.close();
    },
  };
}
