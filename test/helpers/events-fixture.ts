// One store behind the API, a real MX listener and (optionally) the webhook dispatcher: mail arrives
// over SMTP and its events reach webhooks and SSE streams, as in the server.
import { createResolver } from '../../src/dns/resolver.ts';
import {
  createWebhookDispatcher,
  type WebhookDispatcher,
  type WebhookDispatcherOptions,
} from '../../src/events/webhook-dispatcher.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { createMxServer, type MxServer } from '../../src/smtp/mx.ts';
import type { Account } from '../../src/store/index.ts';
import { type ApiFixture, startApi } from './api.ts';
import { startDnsServer, type TestDnsServer } from './dns-server.ts';
import { plainMessage, sendRaw, testCertificate } from './smtp.ts';

export interface EventsFixture {
  api: ApiFixture;
  mx: MxServer;
  mxPort: number;
  dns: TestDnsServer;
  dispatcher: WebhookDispatcher | null;
  /** alice@wren.test and bob@wren.test, in the fixture's team. */
  alice: Account;
  bob: Account;
  /** One SMTP transaction to the MX; resolves with the final reply code once it is in. */
  mail(to: string, subject: string, body?: string): Promise<number>;
  close(): Promise<void>;
}

export async function startEventsFixture(
  dispatcher?: Partial<WebhookDispatcherOptions> | false,
): Promise<EventsFixture> {
  const api = await startApi();
  const dns = await startDnsServer({ 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } });
  const mx = createMxServer({
    store: api.store,
    resolver: createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }),
    tls: await testCertificate(),
    hostname: 'mx.wren.test',
    reverseLookup: false,
    limits: { messagesPerIpPerMinute: 100_000, maxConnectionsPerIp: 200 },
  });
  const { port } = await mx.listen(0, '127.0.0.1');
  await api.store.domains.create(api.teamId, 'wren.test');
  const alice = await api.store.accounts.create({
    teamId: api.teamId,
    address: 'alice@wren.test',
    passwordHash: await hashPassword('alice-password'),
  });
  const bob = await api.store.accounts.create({
    teamId: api.teamId,
    address: 'bob@wren.test',
    passwordHash: await hashPassword('bob-password'),
  });
  const running =
    dispatcher === false
      ? null
      : createWebhookDispatcher({
          store: api.store,
          allowHttp: true,
          allowPrivateAddresses: true,
          retryScheduleMs: [100, 100, 100],
          timeoutMs: 2000,
          ...dispatcher,
        });
  running?.start();
  return {
    api,
    mx,
    mxPort: port,
    dns,
    dispatcher: running,
    alice,
    bob,
    async mail(to, subject, body) {
      const result = await sendRaw(
        port,
        'carol@sender.test',
        [to],
        plainMessage({ from: 'Carol <carol@sender.test>', to, subject, body }),
      );
      return result.end?.code ?? 0;
    },
    async close() {
      await running?.stop();
      await mx.close();
      await dns.close();
      await api.close();
    },
  };
}
