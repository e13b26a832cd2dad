// Management API throughput and latency over loopback: GET /api/v1/mailboxes/{id} and POST
// /api/v1/mailboxes with 50 concurrent keep-alive connections for a bounded time each. The server runs
// in a child process (its own event loop), as in production; rate limits are raised so they do not
// cap the measurement. Run: node bench/api.ts [seconds per scenario, default 10]
// A third scenario, alias creation, shows the write path without the password hash that dominates POST /mailboxes.
import { fork } from 'node:child_process';
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
  process.on('message', async () => {
    server.closeAllConnections();
    server.close();
    await store.close();
    dir.remove();
    process.exit(0);
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

function report(name: string, r: Result): void {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1);
  console.log(
    `${name.padEnd(28)} ${(r.requests / r.seconds).toFixed(0).padStart(7)} req/s   p50 ${at(0.5)} ms   p99 ${at(0.99)} ms   ${r.requests} requests, ${r.errors} errors, ${CONNECTIONS} connections, ${r.seconds.toFixed(1)} s`,
  );
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 10);
  const child = fork(new URL(import.meta.url).pathname, ['--serve'], { stdio: 'inherit' });
  const { port, key } = await new Promise<{ port: number; key: string }>((resolve) =>
    child.once('message', (m) => resolve(m as never)),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
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
    report(
      'GET /mailboxes/{id}',
      await load(seconds, () => send(agent, port, key, 'GET', `/api/v1/mailboxes/${id}`), 200),
    );
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
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
