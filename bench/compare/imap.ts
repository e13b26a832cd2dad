// Side by side: Wren Mail's IMAP server and Dovecot (Debian) holding the same 10,000-message INBOX,
// timed with the same imapflow client: SELECT, FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE),
// FETCH BODY.PEEK[] of 1,000 messages, SEARCH TEXT, SEARCH FROM, SORT (DATE); then the server's
// memory with 1,000 idle connections in IDLE. Each command runs BENCH_FLOW_RUNS times: the first
// (Dovecot's fills its cache, it parses headers on demand; Wren parsed everything at delivery) and the
// median of the others are reported. After loading, both servers settle before anything is timed:
// Wren's child builds the full-text runs and compacts LevelDB, Dovecot's maildir is indexed, and then
// the bench waits until neither server's processes use the CPU (settle()). Before any timing, imapflow
// fetches messages 1:100 from each server untimed, so its JIT is warm for both (warmClient).
// Wren runs in a child process (bench/compare/wren-imap-server.ts) so its memory is its own; Dovecot
// gets the same bytes as maildir files, then `doveadm index`, as a delivery would leave it.
// Bounded: every command has a 60 s timeout, the IDLE phase stops opening connections after 180 s
// (then the per-connection figures hold for the connections opened, and the total is extrapolated).
// Needs root and bench/compare/setup.sh. Usage: npx node bench/compare/imap.ts
// Environment: BENCH_MESSAGES (10000), BENCH_IDLE (1000), BENCH_FETCH_BODIES (1000), BENCH_FROM (hotmail),
// BENCH_WIRE_RUNS (3, the raw-socket runs per command), BENCH_FLOW_RUNS (5, the imapflow runs per command),
// BENCH_COLD_RANGES (6, first reads of unread bodies, one range of BENCH_FETCH_BODIES each),
// BENCH_SETTLE=0 (time right after the load, as before: no compaction, no wait); BENCH_CPU_PROF=<dir>
// profiles Wren's serving phase (wren-imap-server.ts; summarise with imap-profile.ts --summary FILE).
import { randomBytes } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import {
  benchImapFlow,
  benchRun,
  machineLine,
  memoryOf,
  raiseOpenFileLimit,
  printTable,
  processTree,
  ratio,
  settle,
  sleep,
  threadCpuMs,
  stopAtCleanup,
  waitUntil,
  type Memory,
} from './common.ts';
import { loadCorpus, requireImapCorpus } from './corpus.ts';
import { RawImap } from './raw-imap.ts';
import { fillInbox, startDovecot } from './dovecot.ts';
import { startWren } from './imap-wren.ts';

requireImapCorpus();
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE ?? 1000);
const FETCH_BODIES = Math.min(MESSAGES, Number(process.env.BENCH_FETCH_BODIES ?? 1000));
const COMMAND_TIMEOUT_MS = 60_000;
const IDLE_PHASE_LIMIT_MS = 180_000;
const TEXT_WORD = 'meeting';
const FROM_WORD = process.env.BENCH_FROM ?? 'hotmail';
const USER = 'bench@wren.test';
const PASSWORD = randomBytes(12).toString('hex');

// Two sockets per idle connection in this process and in Wren's.
raiseOpenFileLimit(IDLE_CONNECTIONS * 2 + 500);

interface Server {
  name: string;
  port: number;
  pids(): number[];
  loadMs: number;
}

function client(port: number): ImapFlow {
  return benchImapFlow(port, USER, PASSWORD, {
    // imapflow turns COMPRESS=DEFLATE on where offered: Wren offers it, Dovecot here does not, and
    // deflating 4 MiB replies (and inflating them) made Wren's imapflow times several times its wire times.
    disableCompression: true,
    connectionTimeout: COMMAND_TIMEOUT_MS,
    socketTimeout: COMMAND_TIMEOUT_MS * 2,
  });
}

function bounded<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`${what}: no answer in ${COMMAND_TIMEOUT_MS / 1000} s`)),
        COMMAND_TIMEOUT_MS,
      )),
  );
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** SORT is not in imapflow's API; its command runner sends it and collects the untagged reply. */
async function sortByDate(c: ImapFlow): Promise<number> {
  let n = 0;
  const exec = (
    c as unknown as { exec: (cmd: string, attrs: unknown[], opts: unknown) => Promise<{ next(): void }> }
  ).exec.bind(c);
  const response = await exec(
    'SORT',
    [[{ type: 'ATOM', value: 'DATE' }], { type: 'ATOM', value: 'UTF-8' }, { type: 'ATOM', value: 'ALL' }],
    {
      untagged: { SORT: async (u: { attributes?: unknown[] }) => void (n += u.attributes?.length ?? 0) },
    },
  );
  response.next();
  return n;
}

interface Op {
  name: string;
  command: string;
  run(c: ImapFlow): Promise<string>;
}

/** Sequence numbers each SEARCH found, by server and command: where the servers disagree, the bench names the messages. */
const hits = new Map<string, number[]>();
let lastHits: number[] | null = null;

const ops: Op[] = [
  {
    name: 'SELECT INBOX',
    command: 'SELECT INBOX',
    async run(c) {
      const box = await c.mailboxOpen('INBOX');
      return `${box.exists} exist`;
    },
  },
  {
    name: 'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)',
    command: 'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)',
    async run(c) {
      let n = 0;
      for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true }))
        if (m.envelope && m.bodyStructure) n++;
      return `${n} msgs`;
    },
  },
  {
    name: `FETCH ${MESSAGES - FETCH_BODIES + 1}:${MESSAGES} BODY.PEEK[]`,
    command: `FETCH ${MESSAGES - FETCH_BODIES + 1}:${MESSAGES} BODY.PEEK[]`,
    async run(c) {
      let bytes = 0;
      for await (const m of c.fetch(`${MESSAGES - FETCH_BODIES + 1}:${MESSAGES}`, { source: true }))
        bytes += m.source?.length ?? 0;
      return `${(bytes / 1048576).toFixed(1)} MiB`;
    },
  },
  {
    name: `SEARCH TEXT "${TEXT_WORD}"`,
    command: `SEARCH TEXT "${TEXT_WORD}"`,
    async run(c) {
      const found = await c.search({ text: TEXT_WORD });
      lastHits = found || null;
      return `${found ? found.length : 'failed'} hits`;
    },
  },
  {
    name: `SEARCH FROM "${FROM_WORD}"`,
    command: `SEARCH FROM "${FROM_WORD}"`,
    async run(c) {
      const found = await c.search({ from: FROM_WORD });
      lastHits = found || null;
      return `${found ? found.length : 'failed'} hits`;
    },
  },
  {
    name: 'SORT (DATE) UTF-8 ALL',
    command: 'SORT (DATE) UTF-8 ALL',
    async run(c) {
      if (!c.capabilities.has('SORT')) return 'no SORT';
      return `${await sortByDate(c)} msgs`;
    },
  },
];

interface Timing {
  first: number;
  /** The median of the runs after the first. */
  repeat: number;
  /** The server's CPU time (ms, every thread) in the first run, and the median of the others. */
  firstCpu: number;
  repeatCpu: number;
  result: string;
}

const FLOW_RUNS = Math.max(2, Number(process.env.BENCH_FLOW_RUNS ?? 5));

/** The median of the runs after the first (the middle one, or the mean of the two middle ones). */
function medianAfterFirst(times: number[]): number {
  const rest = times.slice(1).sort((a, b) => a - b);
  const mid = rest.length >> 1;
  return rest.length % 2 ? rest[mid]! : (rest[mid - 1]! + rest[mid]!) / 2;
}

/** Messages the untimed warm-up fetches (of 10,000): the client's parser, not the servers' caches. */
const WARM_UP = 100;

/**
 * Runs imapflow's FETCH paths once, untimed, on messages 1:WARM_UP. Without it the first server
 * timed (Wren) paid for the client's JIT compiling its parser: imapflow's CPU for the first
 * FETCH 1:* of the process was 2-3x that of a later one (bench/RESULTS.md, "Through imapflow").
 */
async function warmClient(server: Server): Promise<void> {
  const c = client(server.port);
  await bounded('login', c.connect());
  try {
    await c.mailboxOpen('INBOX');
    const range = `1:${Math.min(WARM_UP, MESSAGES)}`;
    for await (const m of c.fetch(range, { uid: true, flags: true, envelope: true, bodyStructure: true })) void m;
    for await (const m of c.fetch(range, { source: true })) void m;
  } finally {
    await c.logout().catch(() => c.close());
  }
}

/**
 * Runs every op FLOW_RUNS times on each server through imapflow, the servers taking turns run by run
 * (in alternating order) so a change in the machine's load falls on both alike. Each run also
 * records the server's CPU time, every thread (what the server did, apart from the client's parsing).
 */
async function timeCommands(servers: Server[]): Promise<Map<string, Map<string, Timing>>> {
  const clients = servers.map((s) => client(s.port));
  const out = new Map<string, Map<string, Timing>>(servers.map((s) => [s.name, new Map()]));
  try {
    for (const c of clients) await bounded('login', c.connect());
    // Which server goes first in the cold round is drawn per op: with Wren always first, any cost of
    // going first (the machine's state after the previous op) fell on Wren's one cold sample per run.
    for (const op of ops) {
      const flip = Math.random() < 0.5;
      const times = servers.map((): number[] => []);
      const cpu = servers.map((): number[] => []);
      const results = servers.map(() => '');
      for (let i = 0; i < FLOW_RUNS; i++) {
        const order = (i % 2 === 0) === flip ? [...servers.keys()].reverse() : [...servers.keys()];
        for (const k of order) {
          const c = clients[k]!;
          const server = servers[k]!;
          if (op.name.startsWith('SELECT') && c.mailbox) await c.mailboxClose();
          const cpuBefore = threadCpuMs(server.pids());
          const t = performance.now();
          lastHits = null;
          results[k] = await bounded(op.name, op.run(c));
          times[k]!.push(performance.now() - t);
          cpu[k]!.push(threadCpuMs(server.pids()) - cpuBefore);
          if (lastHits) hits.set(`${server.name} ${op.name}`, lastHits);
        }
      }
      servers.forEach((server, k) => {
        out.get(server.name)!.set(op.name, {
          first: times[k]![0]!,
          repeat: medianAfterFirst(times[k]!),
          firstCpu: cpu[k]![0]!,
          repeatCpu: medianAfterFirst(cpu[k]!),
          result: results[k]!,
        });
        const list = (ms: number[]) => ms.map((t) => t.toFixed(0)).join(' / ');
        console.log(
          `  ${server.name.padEnd(7)} ${op.name.padEnd(48)} ${list(times[k]!)} ms (server CPU ${list(cpu[k]!)})  ${results[k]}${k === (flip ? servers.length - 1 : 0) ? ' (first in the cold round)' : ''}`,
        );
      });
    }
  } finally {
    for (const c of clients) await c.logout().catch(() => c.close());
  }
  return out;
}

const COLD_RANGES = Number(process.env.BENCH_COLD_RANGES ?? 6);

/**
 * The first FETCH BODY.PEEK[] of bodies no command has read yet, several times: ranges of
 * FETCH_BODIES messages from 1001 up (1:100 was read by warmClient, the last range by timeCommands),
 * each through imapflow from every server in turn (alternating order). Reports, per server, the
 * median time to the first message, to the last, and the server's CPU; one cold sample per range.
 */
async function timeColdBodies(servers: Server[]): Promise<void> {
  const ranges: string[] = [];
  for (let from = 1001; ranges.length < COLD_RANGES && from + FETCH_BODIES - 1 <= MESSAGES - FETCH_BODIES; )
    ranges.push(`${from}:${(from += FETCH_BODIES) - 1}`);
  if (!ranges.length) return;
  const clients = servers.map((s) => client(s.port));
  const samples = servers.map(() => ({ first: [] as number[], last: [] as number[], cpu: [] as number[] }));
  try {
    for (const c of clients) {
      await bounded('login', c.connect());
      await c.mailboxOpen('INBOX');
    }
    for (const [r, range] of ranges.entries()) {
      const order = r % 2 ? [...servers.keys()].reverse() : [...servers.keys()];
      for (const k of order) {
        const cpuBefore = threadCpuMs(servers[k]!.pids());
        const t = performance.now();
        let first = 0;
        const run = async () => {
          for await (const m of clients[k]!.fetch(range, { source: true }))
            if (!first && m.source) first = performance.now();
        };
        await bounded(`FETCH ${range}`, run());
        samples[k]!.first.push(first - t);
        samples[k]!.last.push(performance.now() - t);
        samples[k]!.cpu.push(threadCpuMs(servers[k]!.pids()) - cpuBefore);
      }
    }
  } finally {
    for (const c of clients) await c.logout().catch(() => c.close());
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
  console.log(`first FETCH BODY.PEEK[] of unread bodies through imapflow, ranges ${ranges.join(', ')}:`);
  servers.forEach((server, k) => {
    const { first, last, cpu } = samples[k]!;
    console.log(
      `  ${server.name.padEnd(11)} median first message ${median(first).toFixed(0)} ms, last ${median(last).toFixed(0)} ms, server CPU ${median(cpu).toFixed(0)} ms (first ${list(first)}; last ${list(last)}; CPU ${list(cpu)})`,
    );
  });
}

const WIRE_RUNS = Number(process.env.BENCH_WIRE_RUNS ?? 3); // odd: the median is one of the runs

/** The same commands over a raw socket (no client-side parsing), warm: the median of WIRE_RUNS. */
async function timeWire(server: Server): Promise<Map<string, { ms: number; bytes: number }>> {
  const c = await RawImap.login(server.port, USER, PASSWORD);
  const out = new Map<string, { ms: number; bytes: number }>();
  let selected = false;
  try {
    for (const op of ops) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < WIRE_RUNS; i++) {
        if (op.command.startsWith('SELECT') && selected) await c.command('UNSELECT');
        const t = performance.now();
        const r = await c.command(op.command, COMMAND_TIMEOUT_MS);
        times.push(performance.now() - t);
        if (r.status !== 'OK') throw new Error(`${server.name}: ${op.command}: ${r.status}`);
        selected ||= op.command.startsWith('SELECT');
        bytes = r.bytes;
      }
      times.sort((a, b) => a - b);
      out.set(op.name, { ms: times[Math.floor(WIRE_RUNS / 2)]!, bytes });
    }
  } finally {
    c.close();
  }
  return out;
}

interface IdleResult {
  opened: number;
  seconds: number;
  loginMs: number;
  selectMs: number;
  before: Memory;
  after: Memory;
}

const IDLE_LANES = 25;

/**
 * Opens IDLE_CONNECTIONS sessions (LOGIN, SELECT INBOX, IDLE), IDLE_LANES in flight at a time, and
 * reads the server's memory once they all idle. LOGIN and SELECT times are means per connection.
 */
async function idleMemory(server: Server): Promise<IdleResult> {
  const before = memoryOf(server.pids());
  const clients: ImapFlow[] = [];
  const started = performance.now();
  const within = () => performance.now() - started < IDLE_PHASE_LIMIT_MS;
  let pending = IDLE_CONNECTIONS;
  let failures = 0;
  let loginMs = 0;
  let selectMs = 0;
  const lane = async () => {
    while (pending > 0 && within() && failures < 20) {
      pending--;
      const c = client(server.port);
      try {
        let t = performance.now();
        await c.connect();
        loginMs += performance.now() - t;
        t = performance.now();
        await c.mailboxOpen('INBOX');
        selectMs += performance.now() - t;
        void c.idle().catch(() => undefined);
        clients.push(c);
      } catch (err) {
        if (++failures === 1) console.log(`  ${server.name}: connection failed: ${(err as Error).message}`);
        c.close();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: IDLE_LANES }, lane));
    const seconds = (performance.now() - started) / 1000;
    await waitUntil(() => clients.every((c) => (c as unknown as { idling: boolean }).idling), 30_000, 100);
    await sleep(2000); // let the server settle (Dovecot's login processes exit after handing over)
    const after = memoryOf(server.pids());
    const n = Math.max(1, clients.length);
    return { opened: clients.length, seconds, loginMs: loginMs / n, selectMs: selectMs / n, before, after };
  } finally {
    for (const c of clients) c.close();
  }
}

const root = benchRun('wren-compare-imap-');
const { stops, cleanup } = root;

try {
  console.log(
    `IMAP side by side: ${MESSAGES} messages in INBOX (shared/corpus ham+spam, CRLF), imapflow client, ${IDLE_CONNECTIONS} IDLE connections`,
  );
  console.log(`before: ${machineLine()}`);
  // Wren's child loads its store while Dovecot's maildir is written and indexed here.
  const wrenStarting = stopAtCleanup(stops, startWren(USER, PASSWORD, MESSAGES, IDLE_CONNECTIONS + 10));
  // BENCH_WREN_BEFORE=CHECKOUT: a second Wren from another checkout (the code before a change), timed
  // in the same rounds as the others (imapflow and raw socket; not the IDLE phase).
  const beforeDir = process.env.BENCH_WREN_BEFORE;
  const beforeStarting = beforeDir
    ? stopAtCleanup(
        stops,
        ((await import(`${beforeDir}/bench/compare/imap-wren.ts`)) as { startWren: typeof startWren })
          .startWren(USER, PASSWORD, MESSAGES, 20)
          .then((w) => Object.assign(w, { name: 'Wren-before' })),
      )
    : null;
  const dovecot = await startDovecot(`${root.path}/dovecot`, {
    users: [{ user: USER, password: PASSWORD }],
    maxImapConnections: IDLE_CONNECTIONS + 10,
  });
  stops.push(dovecot.stop);
  const t = performance.now();
  await fillInbox(dovecot, USER, loadCorpus(MESSAGES));
  const dovecotServer: Server = {
    name: 'Dovecot',
    port: dovecot.imapPort,
    loadMs: performance.now() - t,
    pids: () => processTree(dovecot.pid),
  };
  const wren = await wrenStarting;
  const before = beforeStarting ? [await beforeStarting] : [];
  console.log(
    `loaded (both at once): Wren ${(wren.loadMs / 1000).toFixed(1)} s (store.deliver one by one: parse, index, fsync each) + LevelDB compaction ${(wren.compactMs / 1000).toFixed(1)} s; Dovecot ${(dovecotServer.loadMs / 1000).toFixed(1)} s (maildir files written without fsync + doveadm index)`,
  );
  if (process.env.BENCH_SETTLE !== '0')
    for (const server of [wren, ...before, dovecotServer]) {
      const s = await settle(() => server.pids());
      console.log(
        `  ${server.name} settled: ${(s.waitedMs / 1000).toFixed(1)} s until < 3% CPU for 1 s (${s.cpuMs.toFixed(0)} ms CPU meanwhile)${s.quiet ? '' : ', never quiet'}`,
      );
    }

  const servers = [wren, dovecotServer];
  const timings = new Map<string, Map<string, Timing>>();
  const idle = new Map<string, IdleResult>();
  console.log(`command timings through imapflow (${FLOW_RUNS} runs each, the first cold):`);
  const timed = [wren, ...before, dovecotServer];
  for (const server of timed) await warmClient(server);
  for (const [name, t] of await timeCommands(timed)) timings.set(name, t);
  await timeColdBodies(timed);
  const wire = new Map<string, Map<string, { ms: number; bytes: number }>>();
  for (const server of timed) wire.set(server.name, await timeWire(server));
  for (const server of servers) {
    const r = await idleMemory(server);
    idle.set(server.name, r);
    console.log(
      `  ${server.name.padEnd(7)} ${r.opened} IDLE connections in ${r.seconds.toFixed(1)} s (per connection: LOGIN ${r.loginMs.toFixed(0)} ms, SELECT ${r.selectMs.toFixed(0)} ms); ${r.before.processes} -> ${r.after.processes} processes, RSS ${(r.before.rssKiB / 1024).toFixed(0)} -> ${(r.after.rssKiB / 1024).toFixed(0)} MiB, PSS ${(r.before.pssKiB / 1024).toFixed(0)} -> ${(r.after.pssKiB / 1024).toFixed(0)} MiB`,
    );
  }

  console.log();
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const rows: string[][] = [];
  for (const op of ops) {
    const w = timings.get('Wren')!.get(op.name)!;
    const d = timings.get('Dovecot')!.get(op.name)!;
    rows.push([
      op.name,
      ms(w.first),
      ms(w.repeat),
      ms(d.first),
      ms(d.repeat),
      ratio(w.first, d.first, false),
      ratio(w.repeat, d.repeat, false),
      `${w.firstCpu.toFixed(0)} / ${w.repeatCpu.toFixed(0)} ms`,
      `${d.firstCpu.toFixed(0)} / ${d.repeatCpu.toFixed(0)} ms`,
      w.result === d.result ? w.result : `${w.result} vs ${d.result}`,
    ]);
  }
  printTable(
    [
      'command',
      'Wren 1st',
      `Wren median 2-${FLOW_RUNS}`,
      'Dovecot 1st',
      `Dovecot median 2-${FLOW_RUNS}`,
      'ratio 1st',
      'ratio median',
      'Wren CPU 1st / median',
      'Dovecot CPU 1st / median',
      'result (Wren vs Dovecot)',
    ],
    rows,
  );
  console.log(
    '(imapflow client, which parses every reply; ratio = Dovecot time / Wren time: above 1 means Wren is faster)',
  );
  const corpus = loadCorpus(MESSAGES); // UIDs and sequence numbers follow the corpus order on both servers
  const fromLine = (seq: number) =>
    /^from[ \t]*:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/im
      .exec(corpus[seq - 1]!.toString('latin1').split('\r\n\r\n')[0]!)?.[0]
      .replace(/\r\n/g, ' ')
      .slice(0, 140) ?? '(no From)';
  for (const op of ops) {
    const w = hits.get(`Wren ${op.name}`);
    const d = hits.get(`Dovecot ${op.name}`);
    if (!w || !d) continue;
    const onlyWren = w.filter((n) => !d.includes(n));
    const onlyDovecot = d.filter((n) => !w.includes(n));
    if (!onlyWren.length && !onlyDovecot.length) continue;
    console.log(`${op.command}: ${onlyWren.length} found by Wren only, ${onlyDovecot.length} by Dovecot only`);
    if (!op.command.includes('FROM')) continue;
    for (const n of onlyWren.slice(0, 10)) console.log(`  Wren only    #${n}: ${fromLine(n)}`);
    for (const n of onlyDovecot.slice(0, 10)) console.log(`  Dovecot only #${n}: ${fromLine(n)}`);
  }
  console.log();
  const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
  printTable(
    ['command (raw socket, warm)', 'Wren', 'Dovecot', 'ratio', 'reply Wren', 'reply Dovecot'],
    ops.map((op) => {
      const w = wire.get('Wren')!.get(op.name)!;
      const d = wire.get('Dovecot')!.get(op.name)!;
      return [op.command, ms(w.ms), ms(d.ms), ratio(w.ms, d.ms, false), kib(w.bytes), kib(d.bytes)];
    }),
  );
  console.log(
    `(median of ${WIRE_RUNS}; time from sending the command to the last byte of its tagged reply, nothing parsed)`,
  );
  console.log();
  const w = idle.get('Wren')!;
  const d = idle.get('Dovecot')!;
  const perConn = (r: IdleResult, k: 'rssKiB' | 'pssKiB') =>
    r.opened ? `${((r.after[k] - r.before[k]) / r.opened).toFixed(0)} KiB` : '-';
  const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
  printTable(
    ['memory with IDLE connections', 'Wren', 'Dovecot', 'Dovecot/Wren'],
    [
      ['connections open', String(w.opened), String(d.opened), ''],
      [
        'time to open (LOGIN+SELECT+IDLE)',
        `${w.seconds.toFixed(1)} s`,
        `${d.seconds.toFixed(1)} s`,
        ratio(w.seconds, d.seconds, false),
      ],
      [`LOGIN, mean (${IDLE_LANES} in flight)`, ms(w.loginMs), ms(d.loginMs), ratio(w.loginMs, d.loginMs, false)],
      [
        `SELECT INBOX, mean (${IDLE_LANES} in flight)`,
        ms(w.selectMs),
        ms(d.selectMs),
        ratio(w.selectMs, d.selectMs, false),
      ],
      ['server processes', String(w.after.processes), String(d.after.processes), ''],
      [
        'RSS total (sum over processes)',
        mib(w.after.rssKiB),
        mib(d.after.rssKiB),
        ratio(w.after.rssKiB, d.after.rssKiB, false),
      ],
      [
        'PSS total (shared pages split)',
        mib(w.after.pssKiB),
        mib(d.after.pssKiB),
        ratio(w.after.pssKiB, d.after.pssKiB, false),
      ],
      [
        'PSS added per connection',
        perConn(w, 'pssKiB'),
        perConn(d, 'pssKiB'),
        ratio(w.after.pssKiB - w.before.pssKiB, d.after.pssKiB - d.before.pssKiB, false),
      ],
      [
        'RSS added per connection',
        perConn(w, 'rssKiB'),
        perConn(d, 'rssKiB'),
        ratio(w.after.rssKiB - w.before.rssKiB, d.after.rssKiB - d.before.rssKiB, false),
      ],
    ],
  );
  for (const [name, r] of idle) {
    if (r.opened >= IDLE_CONNECTIONS || !r.opened) continue;
    const at = r.before.pssKiB + ((r.after.pssKiB - r.before.pssKiB) / r.opened) * IDLE_CONNECTIONS;
    console.log(
      `${name} opened ${r.opened} of ${IDLE_CONNECTIONS} within ${IDLE_PHASE_LIMIT_MS / 1000} s; at ${IDLE_CONNECTIONS}, linearly: ~${mib(at)} PSS`,
    );
  }
  if (before.length) {
    console.log();
    printTable(
      [
        'command',
        'Wren-before 1st / median',
        'Wren 1st / median',
        'raw: Wren-before / Wren',
        'ratio 1st / median / raw',
      ],
      ops.map((op) => {
        const b = timings.get('Wren-before')!.get(op.name)!;
        const w = timings.get('Wren')!.get(op.name)!;
        const bw = wire.get('Wren-before')!.get(op.name)!.ms;
        const ww = wire.get('Wren')!.get(op.name)!.ms;
        return [
          op.name,
          `${ms(b.first)} / ${ms(b.repeat)}`,
          `${ms(w.first)} / ${ms(w.repeat)}`,
          `${ms(bw)} / ${ms(ww)}`,
          `${ratio(w.first, b.first, false)} / ${ratio(w.repeat, b.repeat, false)} / ${ratio(ww, bw, false)}`,
        ];
      }),
    );
    console.log('(ratio = Wren-before time / Wren time: above 1 means the change is faster)');
  }
  console.log(`after: ${machineLine()}`);
} finally {
  await cleanup();
}
