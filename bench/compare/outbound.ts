// Side by side: outbound messages per second from submission to delivered at one loopback sink, for
// Wren Mail (submission server → durable queue → queue runner, DKIM RSA + Ed25519 on, as in
// bench/outbound.ts) and for Postfix relaying to the same sink (relayhost, no DKIM: Postfix would need
// a milter). The sink is Debian's smtp-sink with its running counter (-c), which counts every "."
// it receives and throws the message away; both servers deliver to it in plain text (it offers no
// STARTTLS). The same load client drives both: nodemailer in a child process (so it takes no CPU
// from Wren's event loop), STARTTLS on both submission ports, AUTH on Wren's only (Postfix relays for
// 127.0.0.0/8 without SASL). 4 KB messages, 10 and 50 concurrent submitters, one connection each;
// each connection first sends one untimed warm-up message (connect, STARTTLS, AUTH: Wren's scrypt
// login costs ~100 ms of CPU each), and the clock starts when those are all at the sink. A run then
// sends BENCH_MESSAGES (1000) or stops submitting after 60 s, and ends when the sink has counted
// every accepted message or 60 s after the first timed submission. Needs root and
// bench/compare/setup.sh. BENCH_SUBMITTERS=10,50 picks the runs; BENCH_CPU_PROF=DIR profiles Wren's runs (Wren is
// in this process, the client is not). Usage: npx node bench/compare/outbound.ts
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import { signForDomain } from '../../src/outbound/dkim.ts';
import { testCertificate } from '../../test/helpers/smtp.ts';
import { makeMessage } from '../../test/helpers/tmp.ts';
import { BENCH_PASSWORD, BENCH_RECIPIENT, BENCH_SENDER, startWrenOutbound } from '../lib/wren-outbound.ts';
import { benchRun, freePort, greets, machineLine, printTable, profiled, ratio, run, waitUntil } from './common.ts';
import { startPostfix, type Postfix } from './postfix.ts';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const LIMIT_MS = 60_000;
const SUBMITTERS = (process.env.BENCH_SUBMITTERS ?? '10,50').split(',').map(Number);
const SENDER = BENCH_SENDER;
const RECIPIENT = BENCH_RECIPIENT;
const PASSWORD = BENCH_PASSWORD;

interface ClientPlan {
  port: number;
  submitters: number;
  messages: number;
  auth: boolean;
}
interface ClientReport {
  startedAt: number;
  submittedAt: number;
  submitted: number;
  errors: string[];
}

/**
 * Child-process side: `submitters` nodemailer connections. Each first sends one untimed message (so
 * TCP, STARTTLS, AUTH and the servers' first-use costs stay out of the figures), then the child
 * prints "ready", waits for "go" on stdin, and the connections share `messages`; a JSON report ends it.
 */
async function client(plan: ClientPlan): Promise<void> {
  const body = makeMessage({ from: SENDER, to: RECIPIENT, bytes: 4096 }).toString();
  const send = (transport: Transporter, subject: string) =>
    transport.sendMail({
      envelope: { from: SENDER, to: [RECIPIENT] },
      raw: body.replace('Subject: Test message', `Subject: ${subject}`),
    });
  const transports = Array.from({ length: plan.submitters }, () =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: plan.port,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      ...(plan.auth ? { auth: { user: SENDER, pass: PASSWORD } } : {}),
      pool: true,
      maxConnections: 1,
      maxMessages: Infinity,
    }),
  );
  const errors = new Set<string>();
  const warmStarted = performance.now();
  await Promise.all(transports.map((t, s) => send(t, `warm-up ${s}`).catch((err: Error) => errors.add(err.message))));
  process.stdout.write(`ready ${((performance.now() - warmStarted) / 1000).toFixed(2)}\n`);
  await new Promise((resolve) => process.stdin.once('data', resolve));
  let submitted = 0;
  const startedAt = performance.timeOrigin + performance.now();
  const deadline = Date.now() + LIMIT_MS;
  await Promise.all(
    transports.map(async (transport, s) => {
      const share = Math.floor(plan.messages / plan.submitters) + (s < plan.messages % plan.submitters ? 1 : 0);
      for (let i = 0; i < share && Date.now() < deadline; i++) {
        try {
          await send(transport, `bench ${s}.${i}`);
          submitted++;
        } catch (err) {
          errors.add((err as Error).message);
          break;
        }
      }
      transport.close();
    }),
  );
  const report: ClientReport = {
    startedAt,
    submittedAt: performance.timeOrigin + performance.now(),
    submitted,
    errors: [...errors].slice(0, 3),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.stdin.destroy();
}

interface Sink {
  port: number;
  delivered(): number;
  lastAt(): number;
  stop(): Promise<void>;
}

/** Debian's smtp-sink on a free loopback port; `-c` prints "sess=N quit=N mesg=N\r" on each change. */
async function startSmtpSink(): Promise<Sink> {
  const port = await freePort();
  // -a: no AUTH offered (neither server has credentials for it); -m: connections served at once.
  const child = spawn('/usr/sbin/smtp-sink', ['-c', '-a', '-u', 'nobody', '-m', '512', `127.0.0.1:${port}`, '1024'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { delivered: 0, lastAt: 0, stderr: '' };
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const now = performance.timeOrigin + performance.now();
    const lines = (partial + chunk.toString('latin1')).split('\r');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const n = Number(/mesg=(\d+)/.exec(line)?.[1] ?? 0);
      if (n > state.delivered) [state.delivered, state.lastAt] = [n, now];
    }
  });
  child.stderr.on('data', (d: Buffer) => (state.stderr += d.toString()));
  if (!(await waitUntil(() => greets(port, '220'), 10_000, 50))) {
    child.kill();
    throw new Error(`smtp-sink did not start: ${state.stderr}`);
  }
  return {
    port,
    delivered: () => state.delivered,
    lastAt: () => state.lastAt,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Wren's sending path (bench/lib/wren-outbound.ts) to the sink, and how many DKIM signatures it adds. */
async function startWren(
  dir: string,
  sinkPort: number,
): Promise<{ port: number; dkimSignatures: number; close(): Promise<void> }> {
  mkdirSync(dir, { recursive: true });
  const wren = await startWrenOutbound(dir, sinkPort);
  // The sink discards messages, so show here that the submission path signs (same function, same keys).
  const signed = await signForDomain(wren.store, makeMessage({ from: SENDER, to: RECIPIENT }), 'a.test');
  return {
    port: wren.port,
    dkimSignatures: signed.toString().match(/^DKIM-Signature:/gim)?.length ?? 0,
    close: () => wren.close(),
  };
}

/**
 * Postfix from postfix.ts (its LMTP domain is unused here), turned into a relay: everything not local
 * goes to relayhost = the sink, and smtpd requires STARTTLS with the same test certificate as Wren.
 */
async function startPostfixRelay(dir: string, sinkPort: number): Promise<Postfix> {
  const postfix = await startPostfix(dir, {
    domain: 'unused.test',
    recipients: ['nobody@unused.test'],
    lmtpSocket: join(dir, 'unused-lmtp'),
  });
  const tls = await testCertificate();
  writeFileSync(join(dir, 'tls-key.pem'), tls.key, { mode: 0o600 });
  writeFileSync(join(dir, 'tls-cert.pem'), tls.cert);
  const conf = join(dir, 'etc');
  await run('/usr/sbin/postconf', [
    '-c',
    conf,
    '-e',
    `relayhost = [127.0.0.1]:${sinkPort}`,
    'smtpd_tls_security_level = encrypt',
    `smtpd_tls_key_file = ${dir}/tls-key.pem`,
    `smtpd_tls_cert_file = ${dir}/tls-cert.pem`,
  ]);
  await run('/usr/sbin/postconf', ['-c', conf, '-M', 'tlsmgr/unix = tlsmgr unix - - n 1000? 1 tlsmgr']);
  await run('/usr/sbin/postfix', ['-c', conf, 'reload']);
  return postfix;
}

interface Result {
  warmUp: number;
  submitted: number;
  delivered: number;
  acceptedPerSecond: number;
  deliveredPerSecond: number;
  timedOut: boolean;
  errors: string[];
  load1: number;
  /** This process's CPU (ms) from the start of the timed part to the last delivery: Wren's, for Wren's runs. */
  cpuMs: number;
}

async function load(sink: Sink, plan: ClientPlan): Promise<Result> {
  const child = spawn(process.execPath, [import.meta.filename, 'client', JSON.stringify(plan)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  const closed = new Promise((resolve) => child.once('close', resolve));
  // The client stops submitting at 60 s by itself; this only guards against a hung connection.
  const guard = setTimeout(() => child.kill('SIGKILL'), LIMIT_MS + 60_000);
  const before = sink.delivered();
  await Promise.race([waitUntil(() => lines.length > 0, 60_000, 10), closed]);
  const warmUp = Number(lines[0]?.split(' ')[1] ?? NaN);
  // Start the clock only once the warm-up messages are all at the sink.
  await waitUntil(() => sink.delivered() - before >= plan.submitters, 30_000, 10);
  const base = sink.delivered();
  const cpuStart = process.cpuUsage();
  child.stdin!.end('go\n');
  await closed;
  clearTimeout(guard);
  const last = lines.at(-1);
  const report: ClientReport = last?.startsWith('{')
    ? JSON.parse(last)
    : { startedAt: Date.now(), submittedAt: Date.now(), submitted: 0, errors: ['client produced no report'] };
  const endBy = report.startedAt + LIMIT_MS;
  await waitUntil(() => sink.delivered() - base >= report.submitted, Math.max(0, endBy - Date.now()), 10);
  const delivered = sink.delivered() - base;
  const cpu = process.cpuUsage(cpuStart);
  const seconds = (sink.lastAt() - report.startedAt) / 1000;
  return {
    warmUp,
    submitted: report.submitted,
    delivered,
    acceptedPerSecond: report.submitted / ((report.submittedAt - report.startedAt) / 1000),
    deliveredPerSecond: delivered > 0 ? delivered / seconds : 0,
    timedOut: report.submitted < plan.messages || delivered < report.submitted,
    errors: report.errors,
    load1: loadavg()[0]!,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

async function main(): Promise<void> {
  const root = benchRun('wren-compare-out-');
  const { stops, cleanup } = root;
  try {
    const sink = await startSmtpSink();
    stops.push(sink.stop);
    const wren = await startWren(join(root.path, 'wren'), sink.port);
    stops.push(wren.close);
    const postfix = await startPostfixRelay(join(root.path, 'postfix'), sink.port);
    stops.push(postfix.stop);

    console.log(
      `Outbound side by side: ${MESSAGES} messages of 4 KB per run (or 60 s), one sink: smtp-sink -c on 127.0.0.1:${sink.port} (counts each ".", discards)`,
    );
    console.log(
      `Wren: submission (STARTTLS+AUTH) -> durable queue -> runner (concurrency 32) -> sink; DKIM ${wren.dkimSignatures} signatures (rsa-sha256 + ed25519-sha256)`,
    );
    console.log(
      `Postfix: smtpd ${postfix.smtpPort} (STARTTLS, no AUTH: relays for 127.0.0.0/8) -> relayhost [127.0.0.1]:${sink.port}; no DKIM; defaults otherwise (queue fsync, smtp concurrency 20, connection cache)`,
    );
    console.log(
      `Client for both: nodemailer in a child process, one pooled connection per submitter, one untimed warm-up message each`,
    );
    console.log(`before: ${machineLine()}`);
    const rows: string[][] = [];
    for (const submitters of SUBMITTERS) {
      const w = await profiled(`outbound-${submitters}`, () =>
        load(sink, { port: wren.port, submitters, messages: MESSAGES, auth: true }),
      );
      const p = await load(sink, { port: postfix.smtpPort, submitters, messages: MESSAGES, auth: false });
      for (const [name, r] of [
        ['wren', w],
        ['postfix', p],
      ] as const)
        if (r.errors.length) console.log(`  ${name} client: ${r.errors.join(' | ')}`);
      if (p.delivered < p.submitted)
        console.log(
          `  postfix: ${p.submitted - p.delivered} not at the sink (queued ${postfix.queued()}, deferred ${postfix.deferred()})\n${postfix.logTail(5)}`,
        );
      const mark = (r: Result) => (r.timedOut ? '*' : '');
      rows.push([
        String(submitters),
        `${w.delivered}/${w.submitted}${mark(w)}`,
        w.acceptedPerSecond.toFixed(0),
        w.deliveredPerSecond.toFixed(0),
        `${p.delivered}/${p.submitted}${mark(p)}`,
        p.acceptedPerSecond.toFixed(0),
        p.deliveredPerSecond.toFixed(0),
        ratio(w.deliveredPerSecond, p.deliveredPerSecond, true),
        `${w.warmUp.toFixed(1)} / ${p.warmUp.toFixed(1)}`,
        `${w.load1.toFixed(2)} / ${p.load1.toFixed(2)}`,
        (w.cpuMs / Math.max(w.delivered, 1)).toFixed(1),
      ]);
      console.log(`  ${rows.at(-1)!.join('  ')}`);
    }
    console.log();
    printTable(
      [
        'submitters',
        'Wren delivered',
        'Wren accepted/s',
        'Wren msg/s',
        'Postfix delivered',
        'Postfix accepted/s',
        'Postfix msg/s',
        'Wren/Postfix',
        'warm-up s (W / P)',
        'load 1m (W / P)',
        'Wren CPU ms/msg',
      ],
      rows,
    );
    console.log(
      '(msg/s = messages counted at the sink / time from the first submission to the last one counted; * = limit hit or not all delivered)',
    );
    console.log(`after: ${machineLine()}`);
  } finally {
    await cleanup();
  }
}

if (process.argv[2] === 'client') await client(JSON.parse(process.argv[3]!) as ClientPlan);
else await main();
