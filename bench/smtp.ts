// MX throughput: messages per second accepted and durably stored (250 only after fsync), with every
// check on (SPF/DKIM/DMARC lookups against a loopback DNS server, spam rules, routing, events).
// Bounded: each run sends MESSAGES messages or stops after 20 s. Usage: node bench/smtp.ts
import { plainMessage, SmtpClient, startMx, transaction } from '../test/helpers/smtp.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const TIME_LIMIT_MS = 20_000;

const fx = await startMx({
  zone: { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }, '_dmarc.sender.test': { TXT: ['v=DMARC1; p=none'] } },
  mx: { limits: { maxConnectionsPerIp: 100, messagesPerIpPerMinute: 1_000_000 } },
});
const team = await fx.store.teams.create('bench');
await fx.store.domains.create(team.id, 'wren.test');
const rcpts = Array.from({ length: 10 }, (_, i) => `u${i}@wren.test`);
for (const address of rcpts) await fx.store.accounts.create({ teamId: team.id, address });

async function run(size: number, connections: number): Promise<void> {
  let next = 0;
  let done = 0;
  const started = Date.now();
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const { client } = await SmtpClient.connect(fx.port);
      await client.command('EHLO bench.test');
      for (let n = next++; n < MESSAGES && Date.now() - started < TIME_LIMIT_MS; n = next++) {
        const to = rcpts[n % rcpts.length]!;
        const body = `${size}/${connections}/${n}\r\n${'x'
          .repeat(76)
          .concat('\r\n')
          .repeat(Math.ceil(size / 78))}`;
        const t = performance.now();
        const r = await transaction(
          client,
          'ann@sender.test',
          [to],
          plainMessage({ from: 'ann@sender.test', to, subject: `bench ${n}`, body }),
        );
        if (r.end?.code !== 250) throw new Error(`unexpected reply ${r.end?.lines.join(' ')}`);
        latencies.push(performance.now() - t);
        done++;
      }
      await client.command('QUIT');
      client.close();
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
  console.log(
    `${String(size / 1024).padStart(4)} KB  ${String(connections).padStart(2)} conn  ${String(done).padStart(5)} msgs  ${(done / seconds).toFixed(0).padStart(5)} msg/s  ${((done * size) / seconds / 1048576).toFixed(1).padStart(6)} MiB/s  p50 ${p(0.5)} ms  p99 ${p(0.99)} ms`,
  );
}

console.log(
  `MX bench: ${MESSAGES} messages per run (or ${TIME_LIMIT_MS / 1000} s), SPF+DMARC+DKIM verify (unsigned mail)+spam+routing+events, fsync per batch (group commit)`,
);
for (const size of [4 * 1024, 100 * 1024]) for (const connections of [1, 10, 50]) await run(size, connections);
const stats = fx.store.kv.committer.stats;
console.log(`store: ${stats.writes} writes in ${stats.batches} fsync'd batches`);
await fx.close();
