// Outbound throughput: messages per second from submission (587, STARTTLS, AUTH) to delivered at a
// loopback SMTP sink, 4 KB messages, DKIM (RSA + Ed25519) on, 10 and 50 concurrent submitters.
// Bounded: BENCH_MESSAGES per run (default 1000) and 120 s per run. Usage: node bench/outbound.ts
import nodemailer from 'nodemailer';
import { createResolver } from '../src/dns/resolver.ts';
import { createQueueRunner } from '../src/outbound/queue-runner.ts';
import { LoginService } from '../src/security/login.ts';
import { createSubmissionServer } from '../src/smtp/submission.ts';
import { Store } from '../src/store/index.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { dkimZone, inboxDelivery, makeDkimKeys, sendingAccount, startSink } from '../test/helpers/outbound.ts';
import { testCertificate } from '../test/helpers/smtp.ts';
import { makeMessage, tempDir } from '../test/helpers/tmp.ts';

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 1000);
const LIMIT_MS = 120_000;
const PASSWORD = 'bench password';

async function run(submitters: number): Promise<void> {
  const dir = tempDir('wren-bench-out-');
  const store = await Store.open(dir.path);
  const dkim = makeDkimKeys();
  await sendingAccount(store, 'bench@a.test', PASSWORD, dkim);
  const sink = await startSink({ host: '127.0.0.1' });
  const dns = await startDnsServer({ 'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] }, 'mx.sink.test': { A: ['127.0.0.1'] }, ...dkimZone('a.test', dkim) });
  const tls = await testCertificate();
  const submission = createSubmissionServer({ store, login: new LoginService(store), queue: store.queue, tls, hostname: 'mx.a.test', limits: { perHour: 0, perDay: 0, maxConnectionsPerIp: 200 } });
  const { port } = await submission.listen(0, '127.0.0.1');
  const runner = createQueueRunner({
    store,
    resolver: createResolver({ servers: dns.servers }),
    hostname: 'mx.a.test',
    deliverLocal: inboxDelivery(store),
    smtpPort: sink.port,
    mtaSts: false,
    perDomainConcurrency: 32,
  });
  runner.start();
  const body = makeMessage({ from: 'bench@a.test', to: 'rcpt@sink.test', bytes: 4096 }).toString();
  const perSubmitter = Math.ceil(TOTAL / submitters);
  const started = performance.now();
  const deadline = Date.now() + LIMIT_MS;
  let submitted = 0;
  await Promise.all(
    Array.from({ length: submitters }, async (_, s) => {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'bench@a.test', pass: PASSWORD }, pool: true, maxConnections: 1, maxMessages: Infinity });
      for (let i = 0; i < perSubmitter && Date.now() < deadline; i++) {
        await transport.sendMail({ envelope: { from: 'bench@a.test', to: ['rcpt@sink.test'] }, raw: body.replace('Subject: Test message', `Subject: bench ${s}.${i}`) });
        submitted++;
      }
      transport.close();
    }),
  );
  const submittedMs = performance.now() - started;
  while (sink.messages.length < submitted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const deliveredMs = performance.now() - started;
  const delivered = sink.messages.length;
  console.log(
    `${String(submitters).padStart(2)} submitters: ${submitted} submitted in ${(submittedMs / 1000).toFixed(2)} s (${(submitted / (submittedMs / 1000)).toFixed(0)} msg/s accepted), ` +
      `${delivered} delivered in ${(deliveredMs / 1000).toFixed(2)} s → ${(delivered / (deliveredMs / 1000)).toFixed(0)} msg/s end to end, ` +
      `DKIM ${sink.messages[0]?.raw.toString().match(/DKIM-Signature/g)?.length ?? 0} signatures per message`,
  );
  await runner.stop();
  await submission.close();
  await sink.close();
  await dns.close();
  await store.close();
  dir.remove();
}

for (const submitters of [10, 50]) await run(submitters);
