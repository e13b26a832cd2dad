// Outbound throughput: messages per second from submission (587, STARTTLS, AUTH) to delivered at a
// loopback SMTP sink, 4 KB messages, DKIM (RSA + Ed25519) on, 10 and 50 concurrent submitters.
// Bounded: BENCH_MESSAGES per run (default 1000) and 120 s per run. Usage: node bench/outbound.ts
import nodemailer from 'nodemailer';
import { startWrenOutbound, BENCH_PASSWORD, BENCH_RECIPIENT, BENCH_SENDER } from './lib/wren-outbound.ts';
import { startSink } from '../test/helpers/outbound.ts';
import { makeMessage, tempDir } from '../test/helpers/tmp.ts';

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 1000);
const LIMIT_MS = 120_000;

async function run(submitters: number): Promise<void> {
  const dir = tempDir('wren-bench-out-');
  const sink = await startSink({ host: '127.0.0.1' });
  const wren = await startWrenOutbound(dir.path, sink.port);
  const { port } = wren;
  const body = makeMessage({ from: BENCH_SENDER, to: BENCH_RECIPIENT, bytes: 4096 }).toString();
  const perSubmitter = Math.ceil(TOTAL / submitters);
  const started = performance.now();
  const deadline = Date.now() + LIMIT_MS;
  let submitted = 0;
  await Promise.all(
    Array.from({ length: submitters }, async (_, s) => {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        requireTLS: true,
        tls: { rejectUnauthorized: false },
        auth: { user: BENCH_SENDER, pass: BENCH_PASSWORD },
        pool: true,
        maxConnections: 1,
        maxMessages: Infinity,
      });
      for (let i = 0; i < perSubmitter && Date.now() < deadline; i++) {
        await transport.sendMail({
          envelope: { from: BENCH_SENDER, to: [BENCH_RECIPIENT] },
          raw: body.replace('Subject: Test message', `Subject: bench ${s}.${i}`),
        });
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
  await wren.close();
  await sink.close();
  dir.remove();
}

for (const submitters of [10, 50]) await run(submitters);
