// Many idle IMAP connections (issue 17): N connections over implicit TLS that each LOGIN, SELECT INBOX
// and IDLE, 25 in flight at a time; then the server's memory once they all idle, per connection.
// Wren runs in a child process (this file with --server) so its memory is its own; the load client is
// this process (raw TLS sockets, no IMAP library: it keeps next to nothing per connection).
// Figures: mean TLS handshake, LOGIN and SELECT time per connection (the first LOGINs of an account pay
// scrypt, later ones hit the credential cache), the server's RSS and V8 heap before and after (read
// after a forced GC), KiB per connection. Bounded: BENCH_SECONDS for opening the connections.
// Loopback only. Raises its own open-file limit; connections spread over 127.0.0.1-8 as source addresses.
// Usage: npx node bench/connections.ts
// Environment: BENCH_CONNECTIONS (1000), BENCH_MESSAGES (1000 per INBOX), BENCH_ACCOUNTS (1, connections
// spread evenly), BENCH_SECONDS (300), BENCH_CPU_PROF=<dir> (a CPU profile of the server's serving phase;
// summarise with `bench/compare/imap-profile.ts --summary FILE`), BENCH_HEAP_SNAPSHOT=<file> (a heap
// snapshot of the server with all connections idle).
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { writeHeapSnapshot } from 'node:v8';
import { benchDir, machineLine, raiseOpenFileLimit, sleep, startCpuProfile, waitUntil } from './compare/common.ts';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1000);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 1);
const OPEN_LIMIT_MS = Number(process.env.BENCH_SECONDS ?? 300) * 1000;
const LANES = 25;
const SOURCES = 8;

interface ServerMemory {
  rssKiB: number;
  heapTotalKiB: number;
  heapUsedKiB: number;
  externalKiB: number;
  connections: number;
}

type ToServer = { kind: 'memory' } | { kind: 'snapshot'; file: string };
type FromServer = { kind: 'ready'; port: number } | ({ kind: 'memory' } & ServerMemory);

// ---- the server (child process) ----

async function serve(): Promise<void> {
  const { createImapServer } = await import('../src/imap/server.ts');
  const { LoginService } = await import('../src/security/login.ts');
  const { hashPassword } = await import('../src/security/passwords.ts');
  const { Store } = await import('../src/store/index.ts');
  const { makeSelfSigned } = await import('../src/tls/certificates.ts');
  const password = process.env.BENCH_PASSWORD!;
  const dir = benchDir('wren-bench-connections-');
  const store = await Store.open(dir.path);
  const team = await store.teams.create('bench');
  await store.domains.create(team.id, 'wren.test');
  const passwordHash = await hashPassword(password);
  for (let a = 0; a < ACCOUNTS; a++) {
    const account = await store.accounts.create({ teamId: team.id, address: `user${a}@wren.test`, passwordHash });
    const inbox = store.folders.byName(account.id, 'INBOX')!;
    for (let stored = 0; stored < MESSAGES; stored += 1000) {
      const batch = Array.from({ length: Math.min(1000, MESSAGES - stored) }, (_, i) => ({
        raw: Buffer.from(
          `From: sender${(stored + i) % 97}@example.com\r\nTo: user${a}@wren.test\r\nSubject: message ${stored + i}\r\n` +
            `Date: Sun, 6 Dec 2026 12:00:00 +0000\r\nMessage-ID: <${a}.${stored + i}@example.com>\r\n\r\n` +
            `${'Body text of a small message. '.repeat(20)}\r\n`,
        ),
      }));
      await store.appendMany(inbox, batch);
    }
  }
  const server = createImapServer({
    store,
    login: new LoginService(store),
    tls: await makeSelfSigned('imap.wren.test'),
    hostname: 'imap.wren.test',
    limits: { maxConnectionsPerIp: CONNECTIONS + 10, maxConnectionsPerAccount: CONNECTIONS + 10 },
  });
  const { port } = await server.listen(0, '127.0.0.1', true);
  // The serving phase only: the messages' load above is left out of the profile.
  const stopProfile = await startCpuProfile(`wren-connections-${process.pid}`);
  const send = (m: FromServer) => process.send!(m);
  process.on('message', (m: ToServer) => {
    if (m.kind === 'snapshot') writeHeapSnapshot(m.file);
    // Two collections: the first may leave garbage that finalisers free for the second.
    globalThis.gc!();
    globalThis.gc!();
    const u = process.memoryUsage();
    send({
      kind: 'memory',
      rssKiB: u.rss / 1024,
      heapTotalKiB: u.heapTotal / 1024,
      heapUsedKiB: u.heapUsed / 1024,
      externalKiB: u.external / 1024,
      connections: server.connections,
    });
  });
  process.once('disconnect', () => {
    void (async () => {
      await stopProfile();
      await server.close();
      await store.close();
      dir.remove();
      process.exit(0);
    })();
  });
  send({ kind: 'ready', port });
}

// ---- the load client ----

/** One raw IMAP connection: sends a command, resolves on the line that starts with `until`. */
class Client {
  private buffered = '';
  private waiting: { prefix: string; resolve: () => void; reject: (e: Error) => void } | null = null;
  readonly socket: TLSSocket;
  readonly ready: Promise<void>;

  constructor(port: number, source: string) {
    // The source address is chosen on the TCP socket: ~28,000 ephemeral ports per address pair.
    const tcp = netConnect({ port, host: '127.0.0.1', localAddress: source });
    this.socket = connect({ socket: tcp, rejectUnauthorized: false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => this.onData(d));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
    this.ready = this.expect('* OK');
  }

  private onData(data: string): void {
    this.buffered += data;
    for (let nl = this.buffered.indexOf('\r\n'); nl >= 0; nl = this.buffered.indexOf('\r\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 2);
      const w = this.waiting;
      if (!w || !line.startsWith(w.prefix)) continue;
      this.waiting = null;
      if (/^\S+ (NO|BAD)/.test(line)) w.reject(new Error(line));
      else w.resolve();
    }
  }

  private fail(err: Error): void {
    const w = this.waiting;
    this.waiting = null;
    w?.reject(err);
  }

  private expect(prefix: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting = { prefix, resolve, reject };
    });
  }

  command(tag: string, text: string, until = `${tag} `): Promise<void> {
    const done = this.expect(until);
    this.socket.write(`${tag} ${text}\r\n`);
    return done;
  }
}

async function main(): Promise<void> {
  raiseOpenFileLimit(CONNECTIONS + 500);
  const password = randomBytes(12).toString('hex');
  console.log(
    `${CONNECTIONS} IMAP connections over TLS (LOGIN, SELECT INBOX of ${MESSAGES} messages, IDLE), ${LANES} in flight, ${ACCOUNTS} account(s); Wren alone`,
  );
  console.log(`before: ${machineLine()}`);
  const child: ChildProcess = fork(new URL(import.meta.url).pathname, ['--server'], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, BENCH_PASSWORD: password },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const replies: FromServer[] = [];
  child.on('message', (m: FromServer) => replies.push(m));
  const next = async <K extends FromServer['kind']>(kind: K): Promise<Extract<FromServer, { kind: K }>> => {
    await waitUntil(() => replies.some((r) => r.kind === kind), 600_000, 20);
    return replies.splice(
      replies.findIndex((r) => r.kind === kind),
      1,
    )[0] as Extract<FromServer, { kind: K }>;
  };
  const memory = async (request: ToServer = { kind: 'memory' }) => {
    child.send(request);
    return next('memory');
  };
  const clients: Client[] = [];
  try {
    const { port } = await next('ready');
    // Warm-up, untimed: one burst of logins and SELECTs, closed again, so that what is paid once (the
    // thread pool's scrypt memory, 32 MiB a thread, the folder's message list) is in the baseline.
    const warm = Array.from({ length: LANES }, () => new Client(port, '127.0.0.1'));
    const cold = { login: 0, select: 0 };
    await Promise.all(
      warm.map(async (c, i) => {
        await c.ready;
        let t = performance.now();
        await c.command('a', `LOGIN user${i % ACCOUNTS}@wren.test ${password}`);
        cold.login += performance.now() - t;
        t = performance.now();
        await c.command('b', 'SELECT INBOX');
        cold.select += performance.now() - t;
        await c.command('c', 'LOGOUT');
      }),
    );
    console.log(
      `first burst of ${LANES} (not in the figures below; scrypt and the folder's list cache cold): mean LOGIN ${(cold.login / LANES).toFixed(1)} ms, SELECT ${(cold.select / LANES).toFixed(1)} ms`,
    );
    for (const c of warm) c.socket.destroy();
    await sleep(2000);
    const before = await memory();
    const started = performance.now();
    let pending = CONNECTIONS;
    let failures = 0;
    const times = { tls: 0, login: 0, select: 0 };
    const lane = async () => {
      while (pending > 0 && performance.now() - started < OPEN_LIMIT_MS && failures < 20) {
        const i = CONNECTIONS - pending--;
        let t = performance.now();
        const c = new Client(port, `127.0.0.${1 + (i % SOURCES)}`);
        try {
          await c.ready;
          times.tls += performance.now() - t;
          t = performance.now();
          await c.command('a', `LOGIN user${i % ACCOUNTS}@wren.test ${password}`);
          times.login += performance.now() - t;
          t = performance.now();
          await c.command('b', 'SELECT INBOX');
          times.select += performance.now() - t;
          await c.command('c', 'IDLE', '+');
          clients.push(c);
        } catch (err) {
          if (++failures === 1) console.log(`  connection failed: ${(err as Error).message}`);
          c.socket.destroy();
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, lane));
    const seconds = (performance.now() - started) / 1000;
    await sleep(2000);
    const snapshot = process.env.BENCH_HEAP_SNAPSHOT;
    const after = await memory(snapshot ? { kind: 'snapshot', file: snapshot } : { kind: 'memory' });
    if (snapshot) console.log(`heap snapshot written to ${snapshot}`);
    const n = Math.max(1, clients.length);
    const per = (k: keyof ServerMemory) => ((after[k] - before[k]) / n).toFixed(1);
    console.log(
      `opened ${clients.length} of ${CONNECTIONS} in ${seconds.toFixed(1)} s (${failures} failed); server reports ${after.connections} connections`,
    );
    console.log(
      `mean per connection: TLS handshake+greeting ${(times.tls / n).toFixed(1)} ms, LOGIN ${(times.login / n).toFixed(1)} ms, SELECT ${(times.select / n).toFixed(1)} ms`,
    );
    console.log(
      `server RSS ${(before.rssKiB / 1024).toFixed(1)} -> ${(after.rssKiB / 1024).toFixed(1)} MiB (${per('rssKiB')} KiB per connection); ` +
        `V8 heap ${(before.heapTotalKiB / 1024).toFixed(1)} -> ${(after.heapTotalKiB / 1024).toFixed(1)} MiB (${per('heapTotalKiB')} KiB), used ${(before.heapUsedKiB / 1024).toFixed(1)} -> ${(after.heapUsedKiB / 1024).toFixed(1)} MiB (${per('heapUsedKiB')} KiB); ` +
        `external ${(before.externalKiB / 1024).toFixed(1)} -> ${(after.externalKiB / 1024).toFixed(1)} MiB (${per('externalKiB')} KiB)`,
    );
    console.log(`after: ${machineLine()}`);
  } finally {
    for (const c of clients) c.socket.destroy();
    child.disconnect();
    await Promise.race([exited, sleep(30_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (process.argv.includes('--server')) await serve();
else await main();
