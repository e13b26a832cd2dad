// The API's own CPU per request, steadier than bench/api.ts on a loaded machine: this checkout's HTTP
// app, optionally another checkout's (BENCH_BEFORE=DIR, e.g. a `git worktree add /tmp/x main`) and a
// bare Koa route answering the same bytes all run in THIS process, driven over loopback by a raw
// HTTP/1.1 client (one keep-alive connection each, 8 requests in flight) in alternating slices of 400
// GET /api/v1/mailboxes/{id}. A slice's CPU (process.cpuUsage: server and client, user + system)
// divided by its requests is the figure; the client's share is the same for every server, so the
// differences are the servers'. Slices of each server alternate in changing order, so a burst of
// load from elsewhere falls on all of them alike; the summary gives each one's median and quartiles,
// and the median of the per-round differences between this checkout and each other server.
// Run: node bench/api-cost.ts [seconds, default 20]
import { type Socket, connect } from 'node:net';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import Koa from 'koa';
import Router from '@koa/router';
import { unlimitedApiServer } from './api-app.ts';
import { onReplies } from './lib/http-replies.ts';

const IN_FLIGHT = 8;
const SLICE = 400;

interface Target {
  name: string;
  port: number;
  request: Buffer;
  samples: number[];
  close: () => Promise<void>;
}

/** A raw keep-alive connection: `run(n)` sends n requests (IN_FLIGHT at a time) and resolves when all came back 200. */
function client(port: number, request: Buffer): Promise<{ run: (n: number) => Promise<void>; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let left = 0;
    let sent = 0;
    let done: (() => void) | undefined;
    let fail: ((err: Error) => void) | undefined;
    onReplies(socket, (head) => {
      if (!head.startsWith('HTTP/1.1 200 ')) return fail?.(new Error(`unexpected reply: ${head}`));
      left--;
      if (sent > 0) {
        sent--;
        socket.write(request);
      }
      if (left === 0) done?.();
    });
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        run: (n) =>
          new Promise<void>((ok, ko) => {
            left = n;
            done = ok;
            fail = ko;
            const first = Math.min(n, IN_FLIGHT);
            sent = n - first;
            for (let i = 0; i < first; i++) socket.write(request);
          }),
      }),
    );
  });
}

/** One HTTP request on a fresh connection; the reply's status and body. */
async function call(port: number, method: string, path: string, key: string, body?: string) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** A checkout's HTTP app on a store of its own, with a domain and a mailbox made through its API. */
async function wren(name: string, dir: string): Promise<Target & { reply: string; path: string }> {
  const { createHttpApp } = await import(`${dir}/src/http/app.ts`);
  const { Store } = await import(`${dir}/src/store/index.ts`);
  const { mintKey } = await import(`${dir}/src/services/api-keys.ts`);
  const { tempDir } = await import(`${dir}/test/helpers/tmp.ts`);
  const tmp = tempDir('wrenmail-bench-api-cost-');
  const store = await Store.open(tmp.path);
  const team = await store.teams.create('bench', { maxMailboxes: 1000 });
  const { server, secret } = await unlimitedApiServer({ createHttpApp, mintKey }, store, team.id);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await call(port, 'POST', '/api/v1/domains', secret, JSON.stringify({ domain: 'bench.test' }));
  const made = await call(
    port,
    'POST',
    '/api/v1/mailboxes',
    secret,
    JSON.stringify({ email: 'reader@bench.test', password: 'correct horse battery' }),
  );
  const id = (JSON.parse(made.text) as { data: { mailbox: { id: string } } }).data.mailbox.id;
  const path = `/api/v1/mailboxes/${id}`;
  const reply = (await call(port, 'GET', path, secret)).text;
  return {
    name,
    port,
    path,
    reply,
    request: Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${secret}\r\n\r\n`),
    samples: [],
    close: async () => {
      server.closeAllConnections();
      server.close();
      await store.close();
      tmp.remove();
    },
  };
}

/** The ceiling: an @koa/router route answering the API's reply body. */
async function bareKoa(path: string, body: string): Promise<Target> {
  const app = new Koa();
  const router = new Router();
  router.get('/api/v1/mailboxes/:id', (ctx) => {
    ctx.body = JSON.parse(body) as unknown;
  });
  app.use(router.routes());
  const server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name: 'bare Koa',
    port,
    request: Buffer.from(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`),
    samples: [],
    close: async () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const quantile = (values: number[], q: number): number =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!;

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 20);
  const here = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
  const wrens = [await wren('this checkout', here)];
  if (process.env.BENCH_BEFORE)
    wrens.push(await wren(`BENCH_BEFORE ${process.env.BENCH_BEFORE}`, process.env.BENCH_BEFORE));
  for (const w of wrens.slice(1))
    if (
      w.reply.replace(/"(id|request_id|created_at)":"[^"]*"/g, '') !==
      wrens[0]!.reply.replace(/"(id|request_id|created_at)":"[^"]*"/g, '')
    )
      throw new Error(`the two checkouts answer differently:\n${wrens[0]!.reply}\n${w.reply}`);
  const targets: Target[] = [...wrens, await bareKoa(wrens[0]!.path, wrens[0]!.reply)];
  const clients = await Promise.all(targets.map((t) => client(t.port, t.request)));
  console.log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  // Warm-up, not counted: the JIT's first compilations of each request path.
  for (const c of clients) await c.run(4000);
  const deadline = performance.now() + seconds * 1000;
  for (let round = 0; performance.now() < deadline; round++) {
    for (let i = 0; i < targets.length; i++) {
      const at = (i + round) % targets.length;
      const before = process.cpuUsage();
      await clients[at]!.run(SLICE);
      const cpu = process.cpuUsage(before);
      targets[at]!.samples.push((cpu.user + cpu.system) / SLICE);
    }
  }
  const ceiling = quantile(targets.at(-1)!.samples, 0.5);
  for (const t of targets) {
    const m = quantile(t.samples, 0.5);
    console.log(
      `${t.name.padEnd(40)} ${m.toFixed(1).padStart(6)} µs CPU/request (quartiles ${quantile(t.samples, 0.25).toFixed(1)}–${quantile(t.samples, 0.75).toFixed(1)}, ${t.samples.length} slices of ${SLICE})   ${(m / ceiling).toFixed(2)}× bare Koa`,
    );
  }
  // Paired: each round's slices ran back to back, so their difference is steadier than the medians'.
  for (const t of targets.slice(1)) {
    const diffs = targets[0]!.samples.map((v, i) => v - t.samples[i]!);
    console.log(
      `${targets[0]!.name} minus ${t.name}: median ${quantile(diffs, 0.5).toFixed(1)} µs/request (quartiles ${quantile(diffs, 0.25).toFixed(1)} to ${quantile(diffs, 0.75).toFixed(1)}), per round`,
    );
  }
  console.log(
    `load average after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  for (const c of clients) c.socket.destroy();
  for (const t of targets) await t.close();
}

await main();
