// The cost of the storage engines (issue 20, docs/ARCHITECTURE.md §4.8): MX deliveries per second
// over SMTP and IMAP FETCH 1:* on one node on LevelDB, one node on PostgreSQL, and two nodes sharing one
// PostgreSQL database (`[store] shared = true`; clients split between the nodes, FETCH on the first).
// Whole servers in this process (test/helpers/instance.ts), PostgreSQL a private cluster with fsync on.
// Bounded: MESSAGES messages per setup or 30 s, 10 connections, to BENCH_MAILBOXES mailboxes in turn
// (default 1: every delivery to one folder, the case where shared nodes contend most).
// BENCH_QUOTA_BYTES gives the mailboxes a quota (a shared store then reads every folder of the account in
// each delivery's transaction); BENCH_SETUPS=two,… runs only those setups.
// Usage: node bench/store-nodes.ts
import { loadavg } from 'node:os';
import { ImapFlow } from 'imapflow';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { startInstance, type Instance } from '../test/helpers/instance.ts';
import { plainMessage, SmtpClient, transaction } from '../test/helpers/smtp.ts';
import { testDatabase } from '../test/helpers/store.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 600);
const CONNECTIONS = 10;
const TIME_LIMIT_MS = 30_000;
const FETCH_RUNS = 5;
const MAILBOXES = Array.from({ length: Number(process.env.BENCH_MAILBOXES ?? 1) }, (_, i) => `u${i}@example.test`);
const USER = MAILBOXES[0]!;
const QUOTA_BYTES = Number(process.env.BENCH_QUOTA_BYTES ?? 0);
const SETUPS = (process.env.BENCH_SETUPS ?? 'leveldb,postgres,two').split(',');
const PASSWORD = 'correct horse battery';

// SPF and DMARC answered on loopback, as in bench/smtp.ts (the system resolver would dominate the figures).
const dns = await startDnsServer({
  'sender.test': { TXT: ['v=spf1 ip4:127.0.0.0/8 -all'] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=none'] },
});
const dnsServers = dns.servers;

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function nodes(setup: string): Promise<Instance[]> {
  const smtp = { submission_listen: [], submissions_listen: [], messages_per_ip_per_minute: 1_000_000 };
  if (setup === 'leveldb') return [await startInstance({ dnsServers, overrides: { smtp } as never })];
  const url = await testDatabase(`bench-${setup}`);
  const store = { engine: 'postgres', postgres_url: url, shared: setup === 'two' };
  const first = await startInstance({ host: '127.0.0.2', dnsServers, overrides: { store, smtp } as never });
  if (setup !== 'two') return [first];
  return [first, await startInstance({ host: '127.0.0.3', dnsServers, overrides: { store, smtp } as never })];
}

async function deliveries(servers: Instance[]): Promise<{ sent: number; perSecond: number }> {
  let next = 0;
  let sent = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, c) => {
      const server = servers[c % servers.length]!;
      const { client } = await SmtpClient.connect(server.port('smtp-mx'), server.host);
      await client.command('EHLO bench.test');
      for (let n = next++; n < MESSAGES && performance.now() - started < TIME_LIMIT_MS; n = next++) {
        const to = MAILBOXES[n % MAILBOXES.length]!;
        const message = plainMessage({ from: 'bob@sender.test', to, subject: `bench ${n}`, body: `${n}\r\n` });
        const reply = await transaction(client, 'bob@sender.test', [to], message);
        if (reply.end?.code !== 250) throw new Error(`unexpected reply ${reply.end?.lines.join(' ')}`);
        sent++;
      }
      await client.command('QUIT').catch(() => {});
    }),
  );
  return { sent, perSecond: sent / ((performance.now() - started) / 1000) };
}

/** Median time of FETCH 1:* (UID FLAGS ENVELOPE) over the whole INBOX, warm (after one run). */
async function fetchAll(server: Instance): Promise<{ ms: number; messages: number }> {
  const client = new ImapFlow({
    host: server.host,
    port: server.port('imap'),
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASSWORD },
    logger: false,
  });
  await client.connect();
  const times: number[] = [];
  let messages = 0;
  try {
    await client.mailboxOpen('INBOX');
    for (let run = 0; run <= FETCH_RUNS; run++) {
      const started = performance.now();
      messages = 0;
      for await (const _ of client.fetch('1:*', { uid: true, flags: true, envelope: true })) messages++;
      if (run > 0) times.push(performance.now() - started);
    }
  } finally {
    await client.logout();
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, messages };
}

console.log(
  `${MESSAGES} messages to ${MAILBOXES.length} mailbox(es)${QUOTA_BYTES ? ` (quota ${QUOTA_BYTES} bytes)` : ''}, ` +
    `${CONNECTIONS} SMTP connections, FETCH median of ${FETCH_RUNS}`,
);
for (const setup of SETUPS) {
  const before = load();
  const servers = await nodes(setup);
  try {
    for (const address of MAILBOXES) {
      const account = await servers[0]!.addAccount(address, PASSWORD);
      if (QUOTA_BYTES) await servers[0]!.server.store.accounts.update({ ...account, quotaBytes: QUOTA_BYTES });
    }
    const smtp = await deliveries(servers);
    const fetch = await fetchAll(servers[0]!);
    const name = {
      leveldb: 'one node, LevelDB',
      postgres: 'one node, PostgreSQL',
      two: 'two nodes, PostgreSQL shared',
    };
    console.log(
      `${name[setup as keyof typeof name]}: ${smtp.perSecond.toFixed(0)} deliveries/s (${smtp.sent}); ` +
        `FETCH 1:* of ${fetch.messages} (${USER}): ${fetch.ms.toFixed(0)} ms; load ${before} → ${load()}`,
    );
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
process.exit(0);
