// Management API throughput and latency over loopback: GET /api/v1/mailboxes/{id} and POST
// /api/v1/mailboxes with 50 concurrent keep-alive connections for a bounded time each. The server runs
// in a child process (its own event loop), as in production; rate limits are raised so they do not
// cap the measurement. Run: node bench/api.ts [seconds per scenario, default 10]
// A third scenario, alias creation, shows the write path without the password hash that dominates POST /mailboxes.
// Beside the API's GET, a bare Koa route (another child) serves the same bytes: the ratio between the
// two is the API's own overhead (issue 17). The GET rows use `wrk` when installed (Debian package
// `wrk`), so the client takes no CPU from a Node event loop; else the bench's own client.
// Set BENCH_CPU_PROF=DIR to have the API child write a --cpu-prof profile there (the bare Koa child in DIR/bare), BENCH_GET_ONLY=1 for the GET rows alone.
// Each GET row also gives the server child's CPU time per request (user + system, process.cpuUsage()):
// on a shared machine req/s follow the load, CPU per request much less so.
//
// The GET setup is the same for both servers, and chosen so that p99 says something on a 2-core machine:
// - wrk runs ONE thread (BENCH_WRK_THREADS, default 1). A single-threaded Node server beside a
//   2-thread wrk makes three busy threads (plus V8's GC helpers) on two cores, and the kernel parks
//   one of them, server or client, for whole time slices: those waits land in the p99 of both
//   servers alike (2026-12-06, same loaded session: 2 threads p99 704 ms API / 418 ms Koa, 1 thread
//   80 / 73 ms). One wrk thread keeps up with 50 connections at these rates with CPU to spare.
// - BENCH_PIN=1 pins each server (all its threads) to CPU 0 and wrk to CPU 1 (taskset): meant for an
//   otherwise idle machine; on a loaded one it is the worst setup (nothing can move off a busy core).
// - Each server first gets an uncounted warm-up (BENCH_WARMUP seconds, default 3: the JIT's work).
// - The two servers take turns, BENCH_RUNS times (default 3, order alternating), and the summary gives
//   medians; each row also reports the server's GC pauses (scavenges / mark-compacts, count and longest)
//   and its event-loop delay (p99, max) over that run, so a tail can be told apart from a pause.
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import Koa from 'koa';
import Router from '@koa/router';
import { Agent, request } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpApp } from '../src/http/app.ts';
import { mintKey } from '../src/services/api-keys.ts';
import { Store } from '../src/store/index.ts';
import { tempDir } from '../test/helpers/tmp.ts';
import { unlimitedApiServer } from './api-app.ts';

const CONNECTIONS = 50;

/** What a server child reports on request: CPU so far, and its GC pauses and event-loop delay since the last report. */
interface ChildStats {
  cpu: number;
  gc: { scavenges: number; markCompacts: number; pauseMs: number; longestMs: number };
  delay: { p99: number; max: number };
}

/** Starts a child's own counters; the returned function reports and resets them. */
function serverStats(): () => ChildStats {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gc = { scavenges: 0, markCompacts: 0, pauseMs: 0, longestMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavenges++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) gc.markCompacts++;
      gc.pauseMs += entry.duration;
      gc.longestMs = Math.max(gc.longestMs, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  return () => {
    const cpu = process.cpuUsage();
    const stats = {
      cpu: cpu.user + cpu.system,
      gc,
      delay: { p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
    };
    gc = { scavenges: 0, markCompacts: 0, pauseMs: 0, longestMs: 0 };
    delay.reset();
    return stats;
  };
}

async function serve(): Promise<void> {
  const dir = tempDir('wrenmail-bench-api-');
  const store = await Store.open(dir.path);
  const team = await store.teams.create('bench', { maxMailboxes: 10_000_000 });
  const { server, secret } = await unlimitedApiServer({ createHttpApp, mintKey }, store, team.id);
  const stats = serverStats();
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port, key: secret }));
  process.on('message', async (m) => {
    if (m === 'stats') return void process.send!({ stats: stats() });
    server.closeAllConnections();
    server.close();
    await store.close();
    dir.remove();
    process.exit(0);
  });
}

/** A bare Koa app with one route answering the API's own reply body: the ceiling for the API's GET. */
function serveBare(): void {
  process.once('message', (body) => {
    const app = new Koa();
    const router = new Router();
    router.get('/api/v1/mailboxes/:id', (ctx) => {
      ctx.body = JSON.parse(body as string) as unknown;
    });
    app.use(router.routes());
    const server = createServer(app.callback());
    const stats = serverStats();
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
    process.on('message', (m) => {
      if (m === 'stats') return void process.send!({ stats: stats() });
      server.closeAllConnections();
      server.close();
      process.exit(0);
    });
  });
}

interface Result {
  requests: number;
  errors: number;
  seconds: number;
  latencies: number[];
}

function send(agent: Agent, port: number, key: string, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        method,
        path,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function load(seconds: number, next: () => Promise<number>, expected: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        const status = await next().catch(() => 0);
        latencies.push(performance.now() - t);
        if (status !== expected) errors++;
      }
    }),
  );
  return { requests: latencies.length, errors, seconds: (performance.now() - started) / 1000, latencies };
}

interface Row {
  requests: number;
  rate: number;
  p50: number;
  p99: number;
  line: string;
}

function report(name: string, r: Result): Row {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const row = { requests: r.requests, rate: r.requests / r.seconds, p50: at(0.5), p99: at(0.99) };
  const line = `${name.padEnd(28)} ${row.rate.toFixed(0).padStart(7)} req/s   p50 ${row.p50.toFixed(1)} ms   p99 ${row.p99.toFixed(1)} ms   ${r.requests} requests, ${r.errors} errors, ${CONNECTIONS} connections, ${r.seconds.toFixed(1)} s (node client)`;
  console.log(line);
  return { ...row, line };
}

const hasWrk = (): Promise<boolean> =>
  new Promise((resolve) =>
    execFile('wrk', ['--version'], (err) => resolve(!err || (err as { code?: unknown }).code !== 'ENOENT')),
  );

const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
const PIN = process.env.BENCH_PIN === '1';

/** wrk's figures for one GET: BENCH_WRK_THREADS threads (see the header), 50 connections; any non-2xx reply counts as an error. */
function wrk(name: string, seconds: number, url: string, headers: string[]): Promise<Row> {
  const args = [
    `-t${WRK_THREADS}`,
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    ...headers.flatMap((h) => ['-H', h]),
    url,
  ];
  const [command, argv] = PIN ? ['taskset', ['-c', '1', 'wrk', ...args]] : ['wrk', args];
  return new Promise((resolve, reject) =>
    execFile(command, argv, { timeout: (seconds + 30) * 1000 }, (err, out) => {
      if (err) return reject(err);
      const ms = (text: string): number => {
        const m = /^([\d.]+)(us|ms|s)$/.exec(text)!;
        return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
      };
      const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)![1]);
      const p50 = ms(/ 50%\s+(\S+)/.exec(out)![1]!);
      const p99 = ms(/ 99%\s+(\S+)/.exec(out)![1]!);
      const requests = Number(/(\d+) requests in/.exec(out)![1]);
      const errors =
        Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
        Number(
          /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
            .exec(out)
            ?.slice(1)
            .reduce((a, b) => a + Number(b), 0) ?? 0,
        );
      const line = `${name.padEnd(28)} ${rate.toFixed(0).padStart(7)} req/s   p50 ${p50.toFixed(1)} ms   p99 ${p99.toFixed(1)} ms   ${requests} requests, ${errors} errors, ${CONNECTIONS} connections, ${seconds} s (wrk)`;
      console.log(line);
      resolve({ requests, rate, p50, p99, line });
    }),
  );
}

/** A server child's CPU time so far (µs, user + system), and its GC and event-loop delay since the last call. */
const statsOf = (child: ChildProcess): Promise<ChildStats> =>
  new Promise((resolve) => {
    const on = (m: unknown) => {
      const stats = (m as { stats?: ChildStats }).stats;
      if (!stats) return;
      child.off('message', on);
      resolve(stats);
    };
    child.on('message', on);
    child.send('stats');
  });

/** Pins a child and all its threads to `cpus` (taskset -a). */
const pin = (child: ChildProcess, cpus: string): Promise<void> =>
  new Promise((resolve, reject) =>
    execFile('taskset', ['-a', '-p', '-c', cpus, String(child.pid)], (err) => (err ? reject(err) : resolve())),
  );

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const load1 = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const profile = process.env.BENCH_CPU_PROF;
  const child = fork(new URL(import.meta.url).pathname, ['--serve'], {
    stdio: 'inherit',
    execArgv: [...process.execArgv, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [])],
  });
  // The bare Koa child is profiled too, so the two profiles can be set side by side.
  const bare = fork(new URL(import.meta.url).pathname, ['--serve-bare'], {
    stdio: 'inherit',
    execArgv: [...process.execArgv, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}/bare`] : [])],
  });
  const { port, key } = await new Promise<{ port: number; key: string }>((resolve) =>
    child.once('message', (m) => resolve(m as never)),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  console.log(`load average before: ${load1()}`);
  try {
    await send(agent, port, key, 'POST', '/api/v1/domains', JSON.stringify({ domain: 'bench.test' }));
    const body = await new Promise<string>((resolve) => {
      request(
        {
          agent,
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/mailboxes',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(text));
        },
      ).end(JSON.stringify({ email: 'reader@bench.test', password: 'correct horse battery' }));
    });
    const id = (JSON.parse(body) as { data: { mailbox: { id: string } } }).data.mailbox.id;
    const path = `/api/v1/mailboxes/${id}`;
    const reply = await new Promise<string>((resolve) => {
      request({ agent, host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${key}` } }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(text));
      }).end();
    });
    bare.send(reply);
    const barePort = await new Promise<number>((resolve) =>
      bare.once('message', (m) => resolve((m as { port: number }).port)),
    );
    const useWrk = await hasWrk();
    if (!useWrk) console.log("wrk not installed (Debian package wrk): the GET rows use the bench's own client");
    const get = async (name: string, server: ChildProcess, p: number, headers: string[]) => {
      const before = await statsOf(server);
      const loadBefore = loadavg()[0]!;
      const row = await (useWrk
        ? wrk(name, seconds, `http://127.0.0.1:${p}${path}`, headers)
        : load(seconds, () => send(agent, p, key, 'GET', path), 200).then((r) => report(name, r)));
      const after = await statsOf(server);
      const cpu = (after.cpu - before.cpu) / row.requests;
      const { gc, delay } = after;
      console.log(
        `${''.padEnd(28)} ${cpu.toFixed(0).padStart(7)} µs of server CPU per request   GC ${gc.scavenges} scavenges + ${gc.markCompacts} mark-compacts, ${gc.pauseMs.toFixed(0)} ms paused, longest ${gc.longestMs.toFixed(1)} ms   event-loop delay p99 ${delay.p99.toFixed(1)} ms, max ${delay.max.toFixed(1)} ms   load ${loadBefore.toFixed(2)}`,
      );
      return { ...row, cpu };
    };
    if (PIN) await Promise.all([pin(child, '0'), pin(bare, '0')]);
    const runs = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
    console.log(
      `GET setup: wrk ${WRK_THREADS} thread(s), ${CONNECTIONS} connections, ${seconds} s a run, ${runs} run(s) per server taking turns${PIN ? ', servers pinned to CPU 0 and wrk to CPU 1' : ''}`,
    );
    // A warm-up run for each server, not counted: the API's first seconds are its JIT compiling the
    // whole request path (the first counted run used to take twice the CPU per request of the others).
    const warmup = Number(process.env.BENCH_WARMUP ?? 3);
    if (useWrk && warmup > 0) {
      await wrk('(warm-up) API', warmup, `http://127.0.0.1:${port}${path}`, [`authorization: Bearer ${key}`]);
      await wrk('(warm-up) bare Koa', warmup, `http://127.0.0.1:${barePort}${path}`, []);
    }
    const apiRows: Awaited<ReturnType<typeof get>>[] = [];
    const koaRows: typeof apiRows = [];
    for (let run = 0; run < runs; run++) {
      const api = () =>
        get('GET /mailboxes/{id}', child, port, [`authorization: Bearer ${key}`]).then((r) => apiRows.push(r));
      const koa = () => get('bare Koa, same JSON', bare, barePort, []).then((r) => koaRows.push(r));
      if (run % 2 === 0) await api().then(koa);
      else await koa().then(api);
    }
    const m = (rows: typeof apiRows, field: 'rate' | 'p50' | 'p99' | 'cpu') => median(rows.map((r) => r[field]));
    console.log(
      `medians of ${runs}: API ${m(apiRows, 'rate').toFixed(0)} req/s, p50 ${m(apiRows, 'p50').toFixed(1)} ms, p99 ${m(apiRows, 'p99').toFixed(1)} ms, ${m(apiRows, 'cpu').toFixed(0)} µs/request;` +
        ` bare Koa ${m(koaRows, 'rate').toFixed(0)} req/s, p50 ${m(koaRows, 'p50').toFixed(1)} ms, p99 ${m(koaRows, 'p99').toFixed(1)} ms, ${m(koaRows, 'cpu').toFixed(0)} µs/request`,
    );
    console.log(
      `API/bare Koa: ${(m(apiRows, 'rate') / m(koaRows, 'rate')).toFixed(2)}× req/s, ${(m(apiRows, 'cpu') / m(koaRows, 'cpu')).toFixed(2)}× CPU per request`,
    );
    // BENCH_GET_ONLY=1: the two GET rows alone (for profiling the read path).
    if (process.env.BENCH_GET_ONLY) return;
    let n = 0;
    // The same write path (validation, directory lock, durable batch) without the password KDF.
    report(
      'POST /mailboxes/{id}/aliases',
      await load(
        seconds,
        () =>
          send(
            agent,
            port,
            key,
            'POST',
            `/api/v1/mailboxes/${id}/aliases`,
            JSON.stringify({ address: `alias${n++}@bench.test` }),
          ),
        201,
      ),
    );
    // Each create hashes a password with scrypt (N=2^15, ~200 ms of CPU): that, not the API, sets this rate.
    report(
      'POST /mailboxes',
      await load(
        seconds,
        () =>
          send(
            agent,
            port,
            key,
            'POST',
            '/api/v1/mailboxes',
            JSON.stringify({ email: `user${n++}@bench.test`, password: 'correct horse battery' }),
          ),
        201,
      ),
    );
  } finally {
    agent.destroy();
    child.send('stop');
    bare.send('stop');
    console.log(`load average after: ${load1()}`);
  }
}

if (process.argv.includes('--serve')) await serve();
else if (process.argv.includes('--serve-bare')) serveBare();
else await main();
