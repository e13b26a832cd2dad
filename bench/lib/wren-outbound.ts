// Wren's sending path as the outbound benches run it: a store with bench@a.test (DKIM RSA + Ed25519),
// submission on 127.0.0.1 (STARTTLS + AUTH, no sending limits), and a queue runner that resolves
// sink.test through a loopback DNS server and delivers to the sink's port.
import { createResolver } from '../../src/dns/resolver.ts';
import { createQueueRunner } from '../../src/outbound/queue-runner.ts';
import { LoginService } from '../../src/security/login.ts';
import { createSubmissionServer } from '../../src/smtp/submission.ts';
import { Store } from '../../src/store/index.ts';
import { startDnsServer } from '../../test/helpers/dns-server.ts';
import { dkimZone, inboxDelivery, makeDkimKeys, sendingAccount } from '../../test/helpers/outbound.ts';
import { testCertificate } from '../../test/helpers/smtp.ts';

export const BENCH_SENDER = 'bench@a.test';
export const BENCH_RECIPIENT = 'rcpt@sink.test';
export const BENCH_PASSWORD = 'bench password';

export interface WrenOutbound {
  store: Store;
  /** The submission port. */
  port: number;
  close(): Promise<void>;
}

export async function startWrenOutbound(storeDir: string, sinkPort: number): Promise<WrenOutbound> {
  const store = await Store.open(storeDir);
  const dkim = makeDkimKeys();
  await sendingAccount(store, BENCH_SENDER, BENCH_PASSWORD, dkim);
  const dns = await startDnsServer({
    'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] },
    'mx.sink.test': { A: ['127.0.0.1'] },
    ...dkimZone('a.test', dkim),
  });
  const submission = createSubmissionServer({
    store,
    login: new LoginService(store),
    queue: store.queue,
    tls: await testCertificate(),
    hostname: 'mx.a.test',
    limits: { perHour: 0, perDay: 0, maxConnectionsPerIp: 200 },
  });
  const { port } = await submission.listen(0, '127.0.0.1');
  const runner = createQueueRunner({
    store,
    resolver: createResolver({ servers: dns.servers }),
    hostname: 'mx.a.test',
    deliverLocal: inboxDelivery(store),
    smtpPort: sinkPort,
    mtaSts: false,
    perDomainConcurrency: 32,
  });
  runner.start();
  return {
    store,
    port,
    async close() {
      await runner.stop();
      await submission.close();
      await dns.close();
      await store.close();
    },
  };
}
