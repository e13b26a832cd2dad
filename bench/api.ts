// Management API throughput and latency over loopback: GET /api/v1/mailboxes/{id} and POST
// /api/v1/mailboxes with 50 concurrent keep-alive connections for a bounded time each. The server runs
// in a child process (its own event loop), as in production; rate limits are raised so they do not
// cap the measurement. Run: node bench/api.ts [seconds per scenario, default 10]
// A third scenario, alias creation, shows the write path without the password hash that dominates POST /mailboxes.
// Beside the API's GET, a bare Koa route (another child) serves the same bytes: the ratio between the
// two is the API's own overhead (issue 17). The GET rows use `wrk` when installed (Debian package
// `wrk`), so the client takes no CPU from a Node event loop; else the bench's own client.
// Set BENCH_CPU_PROF=DIR to have the API child write a --cpu-prof profile there, BENCH_GET_ONLY=1 for the GET rows alone.
// Each GET row also gives the server child's CPU time per request (user + system, process.cpuUsage()):
// on a shared machine req/s follow the load, CPU per request much less so.
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import Koa from 'koa';
import Router from '@koa/router';
import { Agent, request } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { createHttpApp } from '../src/http/app.ts';
import { mintApiKey } from '../src/security/api-keys.ts';
import { Store } from '../src/store/index.ts';
import { newId } from '../src/store/teams.ts';
import { tempDir } from '../test/helpers/tmp.ts';

const CONNECTIONS = 50;

async function serve(): Promise<void> {
  const dir = tempDir('wrenmail-bench-api-');
  const store = await Store.open(dir.path);
  const team = await store.teams.create('bench', { maxMailboxes: 10_000_000 });
  const minted = mintApiKey('root');
  await store.apiKeys.create(
    {
      id: `key_${newId()}`,
      teamId: team.id,
      type: 'root',
      name: 'bench',
      prefix: minted.prefix,
      permissions: ['*'],
      accountId: null,
      domain: null,
      createdAt: Date.now(),
      lastUsedAt: null,
      revokedAt: null,
      expiresAt: null,
    },
    minted.hash,
  );
  const unlimited = { limit: Number.MAX_SAFE_INTEGER, windowMs: 60_000 };
  const app = createHttpApp({
    store,
    logger: pino({ level: 'silent' }),
    ready: () => true,
    rateLimits: { management: unlimited, sending: unlimited },
  });
  const server = createServer(app.callback());
  server.listen(0, '127.0.0.1', () =>
    process.send!({ port: (server.address() as AddressInfo).port, key: minted.secret }),
  );
  process.on('message', async (m) => {
    if (m === 'cpu') return void process.send!({ cpu: process.cpuUsage() });
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
    server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
    process.on('message', (m) => {
      if (m === 'cpu') return void process.send!({ cpu: process.cpuUsage() });
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

/** wrk's figures for one GET: 2 threads, the same 50 connections; any non-2xx reply counts as an error. */
function wrk(name: string, seconds: number, url: string, headers: string[]): Promise<Row> {
  const args = ['-t2', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', ...headers.flatMap((h) => ['-H', h]), url];
  return new Promise((resolve, reject) =>
    execFile('wrk', args, { timeout: (seconds + 30) * 1000 }, (err, out) => {
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

/** A server child's CPU time so far (µs, user + system). */
const cpuOf = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => {
    const on = (m: unknown) => {
      const cpu = (m as { cpu?: NodeJS.CpuUsage }).cpu;
      if (!cpu) return;
      child.off('message', on);
      resolve(cpu.user + cpu.system);
    };
    child.on('message', on);
    child.send('cpu');
  });

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
  const bare = fork(new URL(import.meta.url).pathname, ['--serve-bare'], { stdio: 'inherit' });
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
      const before = await cpuOf(server);
      const row = await (useWrk
        ? wrk(name, seconds, `http://127.0.0.1:${p}${path}`, headers)
        : load(seconds, () => send(agent, p, key, 'GET', path), 200).then((r) => report(name, r)));
      const cpu = ((await cpuOf(server)) - before) / row.requests;
      console.log(`${''.padEnd(28)} ${cpu.toFixed(0).padStart(7)} µs of server CPU per request`);
      return { ...row, cpu };
    };
    const api = await get('GET /mailboxes/{id}', child, port, [`authorization: Bearer ${key}`]);
    const koa = await get('bare Koa, same JSON', bare, barePort, []);
    console.log(
      `API/bare Koa: ${(api.rate / koa.rate).toFixed(2)}× req/s, ${(api.cpu / koa.cpu).toFixed(2)}× CPU per request   p99 ${api.p99.toFixed(1)} ms vs ${koa.p99.toFixed(1)} ms`,
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
