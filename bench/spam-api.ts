// POST /api/v1/spam/classify as a judge sees it (issue 18: p99 < 5 ms through the API): the server (this
// process) apart from the client (a child process), which sends the latency bench's test messages one at
// a time on a keep-alive loopback connection and times each from its first byte sent to the reply's
// last byte read, so its own JSON and socket work is not the server's. Three servers and the
// classifier alone take turns in slices of 50 messages (order rotating, so a burst of load from other
// processes falls on all of them alike), after an uncounted warm-up:
//   - node:http: a bare handler that reads the body, decodes and parses it, and answers `{}`;
//   - bare Koa: the same handler as a Koa middleware;
//   - API: this checkout's HTTP app (bench/api-app.ts: a root key, no rate limit), its store trained
//     on the latency bench's training split (bench/spam-latency.ts: 60% by path hash, uncapped);
//   - classifier alone: services/spam.ts classifyMessage in this process on the bytes the API gets.
// The message is sent as bench/spam-latency.ts sends it: `{"message": <the raw bytes as latin1>}`.
//
// For every request the server's own time from the request event (its head parsed) to the reply's
// 'finish' (its last byte handed to the kernel), wall and the process's CPU, and whether the process lost
// its core meanwhile (involuntary context switches); where that time went, read from a timeline of marks
// (one request is in flight, so each mark is the current one's; the bare servers have the first three):
//   middleware + body read   request event → the request stream's 'end' (auth, rate limit, route, the
//                            bytes read)
//   UTF-8 decode             'end' → JSON.parse of the body (concatenation and decoding of the bytes)
//   JSON.parse               the body's JSON.parse
//   validation               its end → Buffer.from of the message (zod, the handler's entry)
//   copy to bytes            Buffer.from(message, 'utf8')
//   classification           its end → JSON.stringify of the reply's data
//   reply: to res.end()      that → res.end() (serialisation, envelope, headers)
//   reply: res.end()         the call (the socket write)
//   reply: to finish         its return → 'finish'
// The marks come from wrappers this bench puts on JSON.parse, Buffer.from and JSON.stringify, matched by
// the exact lengths of the current message (its JSON body and its text) and the reply's own fields.
//
//   node bench/spam-api.ts [--limit N] [--profile FILE]
//     --limit: at most N test messages (spread over the split; default 2000, as the latency bench's runs)
//     --profile: one more pass each through the API, the classifier alone and bare Koa under V8's
//       sampling profiler (server side): written to FILE, FILE.alone and FILE.koa, heaviest functions listed
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import { onReplies } from './lib/http-replies.ts';

const MESSAGES_DEFAULT = 2000;
const SLICE = 50;
const WARM_UP = 200;
const API_PATH = '/api/v1/spam/classify';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);

// ---------------------------------------------------------------------------------------------- client

interface RunOrder {
  port: number;
  path: string;
  /** Authorization header value, or none. */
  authorization?: string;
  from: number;
  to: number;
}

interface RunResult {
  walls: number[];
  statuses: number[];
}

/** The child: one keep-alive connection per port, each message sent once its predecessor's reply is in. */
async function clientMain(): Promise<void> {
  let bodies: Buffer[] = [];
  const connections = new Map<number, Promise<Connection>>();
  process.on('message', async (order: { bodies?: string; lengths?: number[]; run?: RunOrder; end?: true }) => {
    if (order.bodies && order.lengths) {
      const all = readFileSync(order.bodies);
      let at = 0;
      bodies = order.lengths.map((n) => all.subarray(at, (at += n)));
      process.send!({ ready: true });
    } else if (order.run) {
      const { port } = order.run;
      if (!connections.has(port)) connections.set(port, open(port));
      const connection = await connections.get(port)!;
      process.send!(await connection.send(order.run, bodies));
    } else if (order.end) {
      for (const c of connections.values()) (await c).socket.destroy();
      process.disconnect();
    }
  });
}

interface Connection {
  socket: Socket;
  send(order: RunOrder, bodies: Buffer[]): Promise<RunResult>;
}

function open(port: number): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let replied: ((status: number) => void) | undefined;
    onReplies(socket, (head) => replied?.(Number(head.slice(9, 12))));
    socket.once('error', reject);
    socket.once('connect', () =>
      resolve({
        socket,
        async send(order, all) {
          const walls: number[] = [];
          const statuses: number[] = [];
          const auth = order.authorization ? `Authorization: ${order.authorization}\r\n` : '';
          for (let i = order.from; i < order.to; i++) {
            const body = all[i]!;
            const head = `POST ${order.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${auth}Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
            const status = new Promise<number>((ok) => (replied = ok));
            const t0 = performance.now();
            socket.cork();
            socket.write(head);
            socket.write(body);
            socket.uncork();
            statuses.push(await status);
            walls.push(performance.now() - t0);
          }
          return { walls, statuses };
        },
      }),
    );
  });
}

// ---------------------------------------------------------------------------------------------- server

/** The marks of the request in flight (performance.now()), filled as its stages pass. */
interface Timeline {
  start: number;
  cpu: number;
  bodyEnd?: number;
  parseStart?: number;
  parseEnd?: number;
  copyStart?: number;
  copyEnd?: number;
  replyStart?: number;
  /** res.end() called, and its return (the socket write is synchronous when the kernel takes the bytes). */
  endCall?: number;
  endReturn?: number;
  finish?: number;
  /** What identifies the current message's own calls. */
  bodyChars: number;
  messageChars: number;
}

interface ServerRun {
  /** Server wall ms and main-thread CPU ms, request event to 'finish'. */
  wall: number;
  cpu: number;
  /** Of `cpu`, the kernel's; the main thread's (the rest: V8's helpers, libuv's pool). */
  system: number;
  thread: number;
  start: number;
  end: number;
  /** Involuntary context switches of the process while it ran (another process given the core). */
  preempted: number;
  timeline?: Timeline;
}

let current: Timeline | undefined;

/** The marks: wrappers on three built-ins, silent unless an API request is in flight. */
function installMarks(): void {
  const parse = JSON.parse;
  JSON.parse = function markedParse(text: string, reviver?: Parameters<typeof JSON.parse>[1]) {
    const t = current;
    if (!t || t.parseStart !== undefined || typeof text !== 'string' || text.length !== t.bodyChars)
      return parse(text, reviver);
    t.parseStart = performance.now();
    const value = parse(text, reviver);
    t.parseEnd = performance.now();
    return value;
  } as typeof JSON.parse;
  const stringify = JSON.stringify;
  JSON.stringify = function markedStringify(...a: Parameters<typeof JSON.stringify>) {
    const t = current;
    const value = a[0] as { bayes_probability?: unknown } | null;
    if (t && t.replyStart === undefined && value && typeof value === 'object' && 'bayes_probability' in value)
      t.replyStart = performance.now();
    return stringify(...a);
  } as typeof JSON.stringify;
  const from = Buffer.from;
  Buffer.from = function markedFrom(this: typeof Buffer, ...a: unknown[]) {
    const t = current;
    if (!t || t.copyStart !== undefined || typeof a[0] !== 'string' || a[0].length !== t.messageChars)
      return (from as (...x: unknown[]) => Buffer).apply(this, a);
    t.copyStart = performance.now();
    const bytes = (from as (...x: unknown[]) => Buffer).apply(this, a);
    t.copyEnd = performance.now();
    return bytes;
  } as typeof Buffer.from;
}

// The process's CPU: the main thread's (process.threadCpuUsage) moves in steps of a few ms on this machine.
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** The process's kernel CPU ms and the main thread's CPU ms (coarse, but its mean over many requests holds). */
const detailMs = () => {
  const t = process.threadCpuUsage();
  return { system: process.cpuUsage().system / 1000, thread: (t.user + t.system) / 1000 };
};

/** A measure begun now: `done()` gives its wall, CPU and preemptions from `start` (performance.now()) to now. */
function measure(start: number) {
  const cpu = cpuMs();
  const detail = detailMs();
  const switches = process.resourceUsage().involuntaryContextSwitches;
  return {
    cpu,
    done() {
      const end = performance.now();
      const after = detailMs();
      return {
        wall: end - start,
        cpu: cpuMs() - cpu,
        system: after.system - detail.system,
        thread: after.thread - detail.thread,
        start,
        end,
        preempted: process.resourceUsage().involuntaryContextSwitches - switches,
      };
    },
  };
}

/** A server whose requests are timed from the request event to 'finish', and marked. */
async function timedServer(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  sizes: (i: number) => { bodyChars: number; messageChars: number },
): Promise<{ server: Server; port: number; runs: ServerRun[]; expect: (from: number) => void }> {
  const runs: ServerRun[] = [];
  // The client sends the messages of a run in order, one at a time: the n-th request is message from + n.
  let cursor = 0;
  const server = createServer((req, res) => {
    const start = performance.now();
    const measured = measure(start);
    const timeline: Timeline = { start, cpu: measured.cpu, ...sizes(cursor++) };
    current = timeline;
    req.once('end', () => (timeline.bodyEnd = performance.now()));
    const endReply = res.end;
    res.end = function markedEnd(this: ServerResponse, ...a: unknown[]) {
      timeline.endCall = performance.now();
      const r = (endReply as (...x: unknown[]) => ServerResponse).apply(this, a);
      timeline.endReturn = performance.now();
      return r;
    } as typeof res.end;
    res.once('finish', () => {
      const run = measured.done();
      timeline.finish = run.end;
      current = undefined;
      runs.push({ ...run, timeline });
    });
    handler(req, res);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, runs, expect: (from) => void (cursor = from) };
}

/** The bare handlers' whole job: the body's bytes, decoded, parsed. */
async function parsedBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2).padStart(6);
  return `p50 ${f(quantile(s, 0.5))}  p95 ${f(quantile(s, 0.95))}  p99 ${f(quantile(s, 0.99))}  max ${f(s[s.length - 1]!)}`;
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

const STAGES = [
  ['middleware + body read', 'start', 'bodyEnd'],
  ['UTF-8 decode', 'bodyEnd', 'parseStart'],
  ['JSON.parse', 'parseStart', 'parseEnd'],
  ['validation', 'parseEnd', 'copyStart'],
  ['copy to bytes', 'copyStart', 'copyEnd'],
  ['classification', 'copyEnd', 'replyStart'],
  ['reply: to res.end()', 'replyStart', 'endCall'],
  ['reply: res.end()', 'endCall', 'endReturn'],
  ['reply: to finish', 'endReturn', 'finish'],
] as const;

function stageOf(t: Timeline, from: keyof Timeline, to: keyof Timeline): number | undefined {
  const a = t[from];
  const b = t[to];
  return a === undefined || b === undefined ? undefined : b - a;
}

/** Each function's own samples and those with it anywhere on the stack, from a V8 CPU profile. */
function summariseProfile(
  profile: {
    nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
    samples: number[];
    timeDeltas: number[];
  },
  requests: number,
): void {
  const parent = new Map<number, number>();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (id: number) => {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^node:/, '');
    return `${f.functionName || '(anonymous)'} ${file}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let busyUs = 0;
  for (const [i, id] of profile.samples.entries()) {
    const own = label(id);
    if (own.startsWith('(idle)') || own.startsWith('(program)')) continue;
    busy++;
    busyUs += profile.timeDeltas[i + 1] ?? 0;
    self.set(own, (self.get(own) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) seen.add(label(at));
    for (const l of seen) inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([l, k]) => `    ${((100 * k) / busy).toFixed(1).padStart(5)}%  ${l}`)
      .join('\n');
  console.log(
    `  ${busy} busy samples, ${(busyUs / 1000 / requests).toFixed(3)} ms of the main thread a message; heaviest by self time:\n${top(self, 25)}`,
  );
  const named = new Map([...inclusive].filter(([l]) => /src\//.test(l) && !/\(anonymous\)/.test(l)));
  console.log(`  heaviest of src/ with their callees:\n${top(named, 25)}`);
}

async function serverMain(): Promise<void> {
  const { setFlagsFromString } = await import('node:v8');
  const { requireCorpus } = await import('./lib/corpus.ts');
  const { CORPUS_DIR, loadCorpus, spreadOver, withoutSpamHeaders } = await import('./spam-corpus.ts');
  const { watchCollections } = await import('./lib/gc.ts');
  const { unlimitedApiServer } = await import('./api-app.ts');
  const { createHttpApp } = await import('../src/http/app.ts');
  const { mintKey } = await import('../src/services/api-keys.ts');
  const { classifyMessage, spamSettings } = await import('../src/services/spam.ts');
  const { trainMany } = await import('../src/spam/classifier.ts');
  const { Store } = await import('../src/store/index.ts');
  const { tempDir } = await import('../test/helpers/tmp.ts');
  setFlagsFromString('--expose-gc');

  requireCorpus('WRENMAIL_SPAM_CORPUS', join(CORPUS_DIR, 'spam'), join(CORPUS_DIR, 'ham'));
  const limit = Number(option('--limit') ?? MESSAGES_DEFAULT);
  const profileFile = option('--profile');
  const load = () =>
    loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`${new Date().toISOString()}  load average ${load()}`);

  const loaded = await loadCorpus(0.4);
  const samples = loaded.map((s) => ({ ...s, raw: withoutSpamHeaders(s.raw) }));
  const training = samples.filter((s) => !s.test);
  const allTests = samples.filter((s) => s.test);
  const testing = spreadOver(allTests, limit);
  const texts = testing.map((s) => s.raw.toString('latin1'));
  const bodies = texts.map((message) => JSON.stringify({ message }));
  const wire = bodies.map((b) => Buffer.from(b, 'utf8'));
  const kb = wire.map((b) => b.length / 1024).sort((a, b) => a - b);
  console.log(
    `corpus: ${training.length} training, ${testing.length} of ${allTests.length} test messages; request bodies p50 ${quantile(kb, 0.5).toFixed(1)} KB, p99 ${quantile(kb, 0.99).toFixed(1)} KB, max ${kb.at(-1)!.toFixed(1)} KB`,
  );

  const dir = tempDir('wrenmail-bench-spam-api-');
  const store = await Store.open(dir.path);
  const team = await store.teams.create('bench', { maxMailboxes: 1000 });
  const t = performance.now();
  for (let i = 0; i < training.length; i += 200)
    await trainMany(
      store,
      training.slice(i, i + 200).map((s) => ({ input: s.raw, class: s.class })),
      { maxTokens: Infinity },
    );
  console.log(`trained ${training.length} messages in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const { server: apiServer, secret } = await unlimitedApiServer({ createHttpApp, mintKey }, store, team.id);
  const apiHandler = apiServer.listeners('request')[0] as (req: IncomingMessage, res: ServerResponse) => void;
  const sizes = (i: number) => ({ bodyChars: bodies[i]!.length, messageChars: texts[i]!.length });
  const api = await timedServer(apiHandler, sizes);
  const bare = await timedServer((req, res) => {
    parsedBody(req).then(
      () => {
        res.setHeader('Content-Type', 'application/json; charset=utf-8');
        res.setHeader('Content-Length', 2);
        res.end('{}');
      },
      () => {
        res.statusCode = 400;
        res.end();
      },
    );
  }, sizes);
  const koa = new Koa();
  koa.use(async (ctx) => {
    await parsedBody(ctx.req);
    ctx.body = {};
  });
  const bareKoa = await timedServer(koa.callback(), sizes);
  installMarks();

  const settings = spamSettings({ store });
  const alone: ServerRun[] = [];
  const classifyAlone = async (from: number, to: number, into: ServerRun[] | undefined) => {
    for (let i = from; i < to; i++) {
      const measured = measure(performance.now());
      await classifyMessage({ store }, settings, Buffer.from(texts[i]!, 'utf8'));
      into?.push(measured.done());
    }
  };

  const bodiesFile = join(dir.path, 'bodies');
  writeFileSync(bodiesFile, Buffer.concat(wire));
  const client: ChildProcess = fork(fileURLToPath(import.meta.url), ['--client'], { execArgv: process.execArgv });
  const ask = <T>(message: unknown) =>
    new Promise<T>((resolve) => {
      client.once('message', (m) => resolve(m as T));
      client.send(message as object);
    });
  await ask({ bodies: bodiesFile, lengths: wire.map((b) => b.length) });

  interface Target {
    name: string;
    walls: number[];
    statuses: Map<number, number>;
    run(from: number, to: number, counted: boolean): Promise<void>;
  }
  const overHttp = (
    name: string,
    server: Awaited<ReturnType<typeof timedServer>>,
    path: string,
    authorization?: string,
  ): Target => {
    const target: Target = {
      name,
      walls: [],
      statuses: new Map(),
      async run(from, to, counted) {
        const kept = server.runs.length;
        server.expect(from);
        const result = await ask<RunResult>({ run: { port: server.port, path, authorization, from, to } });
        if (!counted) {
          server.runs.length = kept;
          return;
        }
        target.walls.push(...result.walls);
        for (const s of result.statuses) target.statuses.set(s, (target.statuses.get(s) ?? 0) + 1);
      },
    };
    return target;
  };
  const targets: Target[] = [
    overHttp('node:http, parse only', bare, API_PATH),
    overHttp('bare Koa, parse only', bareKoa, API_PATH),
    overHttp('API', api, API_PATH, `Bearer ${secret}`),
    {
      name: 'classifier alone',
      walls: [],
      statuses: new Map(),
      run: (from, to, counted) => classifyAlone(from, to, counted ? alone : undefined),
    },
  ];

  for (const target of targets) await target.run(0, Math.min(WARM_UP, testing.length), false);
  console.log(`load average after the warm-up ${load()}`);
  const collections = watchCollections();
  for (let slice = 0, from = 0; from < testing.length; slice++, from += SLICE) {
    const to = Math.min(testing.length, from + SLICE);
    for (let k = 0; k < targets.length; k++) await targets[(slice + k) % targets.length]!.run(from, to, true);
  }
  const gcs = await collections.stop();

  console.log(`\n${testing.length} messages each, one at a time; ms`);
  const servers = [bare.runs, bareKoa.runs, api.runs, alone];
  for (const [i, target] of targets.entries()) {
    const runs = servers[i]!;
    const statuses = [...target.statuses].map(([k, n]) => `${k} ×${n}`).join(', ');
    console.log(`${target.name}${statuses ? ` (status ${statuses})` : ''}`);
    if (target.walls.length) console.log(`  client wall      ${spread(target.walls)}`);
    console.log(`  server wall      ${spread(runs.map((r) => r.wall))}`);
    console.log(`  server CPU       ${spread(runs.map((r) => r.cpu))}   (process)`);
    const slow = [...runs].sort((a, b) => b.wall - a.wall).slice(0, Math.ceil(runs.length / 100));
    console.log(
      `  preempted (involuntary context switches): ${runs.filter((r) => r.preempted > 0).length} of all, ${slow.filter((r) => r.preempted > 0).length} of the slowest ${slow.length} by server wall`,
    );
  }

  for (const [i, target] of targets.slice(0, 3).entries()) {
    const marked = servers[i]!;
    console.log(
      `\n${target.name}, where the server's time went (wall ms per request; mean is of all ${marked.length})`,
    );
    for (const [name, from, to] of STAGES) {
      const xs = marked.map((r) => stageOf(r.timeline!, from, to)).filter((x): x is number => x !== undefined);
      if (xs.length)
        console.log(
          `  ${name.padEnd(24)} ${spread(xs)}  mean ${mean(xs).toFixed(3)}${xs.length < marked.length ? `  (marks missing in ${marked.length - xs.length})` : ''}`,
        );
    }
  }
  const marked = api.runs;
  // Paired by message: the same message through the API and through the classifier alone.
  const extra = api.runs.map((r, i) => r.wall - alone[i]!.wall);
  console.log(`  API server wall − classifier alone, same message: ${spread(extra)}  mean ${mean(extra).toFixed(3)}`);
  const extraCpu = api.runs.map((r, i) => r.cpu - alone[i]!.cpu);
  console.log(
    `  API server CPU − classifier alone, same message: ${spread(extraCpu)}  mean ${mean(extraCpu).toFixed(3)}`,
  );
  for (const [i, runs] of [bare.runs, bareKoa.runs, api.runs, alone].entries())
    console.log(
      `  mean CPU per request, ${targets[i]!.name}: ${mean(runs.map((r) => r.cpu)).toFixed(3)} ms (kernel ${mean(runs.map((r) => r.system)).toFixed(3)}, main thread ${mean(runs.map((r) => r.thread)).toFixed(3)})`,
    );
  const inside = (r: ServerRun) => gcs.filter((c) => c.start >= r.start && c.start < r.end);
  const top = Math.ceil(marked.length / 100);
  const slowest = [...marked].sort((a, b) => b.wall - a.wall).slice(0, top);
  const stageMeans = STAGES.map(
    ([name, from, to]) => `${name} ${mean(slowest.map((r) => stageOf(r.timeline!, from, to) ?? 0)).toFixed(2)}`,
  ).join(', ');
  const withGc = slowest.filter((r) => inside(r).length > 0);
  console.log(
    `  slowest 1% by server wall (${top}, ${slowest.at(-1)!.wall.toFixed(2)} ms and over), stage means: ${stageMeans}; ${withGc.length} with a collection inside (${mean(withGc.flatMap(inside).map((c) => c.duration)).toFixed(2)} ms mean)`,
  );
  const clean = api.runs.filter((r) => inside(r).length === 0);
  console.log(
    `  API requests without a collection inside (${clean.length}): server wall ${spread(clean.map((r) => r.wall))}`,
  );
  const cleanAlone = alone.filter((r) => inside(r).length === 0);
  console.log(
    `  classifier alone without a collection inside (${cleanAlone.length}): wall ${spread(cleanAlone.map((r) => r.wall))}`,
  );
  const during = gcs.filter((c) => c.start >= api.runs[0]!.start);
  const kinds = new Map<string, number>();
  for (const c of during) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  console.log(`  collections during the measure: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}`);

  if (profileFile) {
    // Each target in turn on the same messages: the classifier alone says what the classification
    // costs outside a request, bare Koa what HTTP and JSON cost, so the API's excess is its own.
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    for (const [target, file] of [
      [targets[2]!, profileFile],
      [targets[3]!, `${profileFile}.alone`],
      [targets[1]!, `${profileFile}.koa`],
    ] as const) {
      await session.post('Profiler.start');
      await target.run(0, testing.length, false);
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      console.log(`\nprofile of one more pass, ${target.name} (server side), in ${file}`);
      summariseProfile(profile as unknown as Parameters<typeof summariseProfile>[0], testing.length);
    }
    session.disconnect();
  }
  console.log(`\nload average at the end ${load()}`);

  const exited = new Promise((resolve) => client.once('exit', resolve));
  client.send({ end: true });
  await exited;
  for (const s of [api, bare, bareKoa]) {
    s.server.closeAllConnections();
    s.server.close();
  }
  await store.close();
  dir.remove();
}

if (args.includes('--client')) await clientMain();
else await serverMain();
