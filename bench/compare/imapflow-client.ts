// Why one reply costs imapflow more from one server than from another: Wren and Dovecot hold the
// same INBOX (as imap.ts); per server, imapflow runs the FETCH commands of imap.ts REPEATS times
// while this process records the commands imapflow sent (its debug log), the socket chunks it
// received (count, sizes), its own CPU time and the server's per run, and, with BENCH_CPU_PROF=DIR, a CPU profile of the client per server
// (summarise with imap-profile.ts --summary FILE). First, over a raw socket, each server's time to
// the first and the last byte of both replies and the server's CPU time, every thread (6 runs, the
// first cold); BENCH_SAVE=DIR keeps the replies' bytes (for imapflow-replay.ts).
// Needs root and bench/compare/setup.sh. Usage: npx node bench/compare/imapflow-client.ts [REPEATS (3)]
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  benchImapFlow,
  benchRun,
  machineLine,
  processTree,
  startCpuProfile,
  stopAtCleanup,
  threadCpuMs as cpuMs,
} from './common.ts';
import { loadCorpus, requireImapCorpus } from './corpus.ts';
import { fillInbox, startDovecot } from './dovecot.ts';
import { startWren } from './imap-wren.ts';

requireImapCorpus();
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000);
const BODIES = Math.min(MESSAGES, Number(process.env.BENCH_FETCH_BODIES ?? 1000));
const REPEATS = Number(process.argv[2] ?? 3);
const USER = 'bench@wren.test';
const PASSWORD = randomBytes(12).toString('hex');

interface Run {
  sent: string[];
  chunks: number[];
  times: Map<string, number[]>;
  /** Per run: this process's CPU time and the server's (all its threads), ms. */
  clientCpu: Map<string, number[]>;
  serverCpu: Map<string, number[]>;
}

async function measure(name: string, port: number, pids: () => number[]): Promise<Run> {
  const sent: string[] = [];
  const log = (entry: { src?: string; msg?: string }) => {
    if (entry.src === 'c' && entry.msg) sent.push(entry.msg.slice(0, 200));
  };
  const c = benchImapFlow(port, USER, PASSWORD, {
    // Only debug: imapflow formats every FETCH line for a trace logger, which would swamp the profile.
    logger: {
      debug: log,
      info: () => {},
      warn: () => {},
      error: () => {},
      trace: () => {},
      isLevelEnabled: (level: string) => level === 'debug',
    },
    disableCompression: process.env.BENCH_COMPRESS !== '1',
    disableIMAP4rev2: process.env.BENCH_NO_REV2 === '1',
  } as Parameters<typeof benchImapFlow>[3]);
  await c.connect();
  await c.mailboxOpen('INBOX');
  const chunks: number[] = [];
  const socket = (c as unknown as { socket: import('node:net').Socket }).socket;
  const ops: [string, () => Promise<unknown>][] = [
    [
      'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)',
      async () => {
        for await (const m of c.fetch('1:*', { uid: true, flags: true, envelope: true, bodyStructure: true }))
          if (!m.envelope) throw new Error('no envelope');
      },
    ],
    [
      `FETCH ${MESSAGES - BODIES + 1}:${MESSAGES} BODY.PEEK[]`,
      async () => {
        for await (const m of c.fetch(`${MESSAGES - BODIES + 1}:${MESSAGES}`, { source: true }))
          if (!m.source) throw new Error('no source');
      },
    ],
  ];
  const times = new Map<string, number[]>();
  const clientCpu = new Map<string, number[]>();
  const serverCpu = new Map<string, number[]>();
  const stop = await startCpuProfile(`imapflow-client-${name}`);
  for (const [op, fn] of ops) {
    const ms: number[] = [];
    const client: number[] = [];
    const server: number[] = [];
    for (let i = 0; i < REPEATS; i++) {
      const onData = (d: Buffer) => chunks.push(d.length);
      if (i === REPEATS - 1) socket.on('data', onData);
      const serverBefore = cpuMs(pids());
      const cpu = process.cpuUsage();
      const t = performance.now();
      await fn();
      ms.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      client.push((used.user + used.system) / 1000);
      server.push(cpuMs(pids()) - serverBefore);
      socket.off('data', onData);
    }
    times.set(op, ms);
    clientCpu.set(op, client);
    serverCpu.set(op, server);
  }
  await stop();
  await c.logout().catch(() => c.close());
  return { sent, chunks, times, clientCpu, serverCpu };
}

/** The raw reply of one command (bytes after the command up to and including its tagged line). */
async function rawReply(
  port: number,
  command: string,
  runs = 1,
  pids: () => number[] = () => [],
): Promise<{ bytes: Buffer; chunks: number[]; firstByte: number[]; lastByte: number[]; serverCpu: number[] }> {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  const parts: Buffer[] = [];
  const chunks: number[] = [];
  let waitFor = '';
  let done: (() => void) | null = null;
  let sentAt = 0;
  let firstAt = 0;
  socket.on('data', (d: Buffer) => {
    if (!firstAt) firstAt = performance.now();
    parts.push(d);
    chunks.push(d.length);
    const tail = Buffer.concat(parts.slice(-2)).toString('latin1');
    if (done && new RegExp(`(^|\\r\\n)${waitFor} [A-Z]+ [^\\r\\n]*\\r\\n$`).test(tail)) done();
  });
  const step = (tag: string, line: string | null) =>
    new Promise<void>((resolve) => {
      waitFor = tag;
      done = resolve;
      firstAt = 0;
      sentAt = performance.now();
      if (line) socket.write(`${tag} ${line}\r\n`);
    });
  await new Promise<void>((resolve) => {
    done = resolve;
    waitFor = '\\*';
  });
  await step('a', `LOGIN "${USER}" "${PASSWORD}"`);
  await step('b', 'SELECT INBOX');
  const firstByte: number[] = [];
  const lastByte: number[] = [];
  const serverCpu: number[] = [];
  let bytes = Buffer.alloc(0);
  for (let i = 0; i < runs; i++) {
    parts.length = 0;
    chunks.length = 0;
    const cpuBefore = cpuMs(pids());
    await step(`c${i}`, command);
    lastByte.push(performance.now() - sentAt);
    firstByte.push(firstAt - sentAt);
    serverCpu.push(cpuMs(pids()) - cpuBefore);
    if (!i) bytes = Buffer.concat(parts);
  }
  socket.destroy();
  return { bytes, chunks, firstByte, lastByte, serverCpu };
}

const root = benchRun('wren-imapflow-client-');
const { stops, cleanup } = root;
try {
  console.log(`before: ${machineLine()}`);
  const wrenStarting = stopAtCleanup(stops, startWren(USER, PASSWORD, MESSAGES, 10));
  // BENCH_WREN_BEFORE=CHECKOUT: a second Wren from another checkout (the code before a change), same corpus.
  const beforeDir = process.env.BENCH_WREN_BEFORE;
  const other = beforeDir
    ? ((await import(`${beforeDir}/bench/compare/imap-wren.ts`)) as { startWren: typeof startWren }).startWren
    : null;
  const before = other ? stopAtCleanup(stops, other(USER, PASSWORD, MESSAGES, 10)) : null;
  const dovecot = await startDovecot(`${root.path}/dovecot`, { users: [{ user: USER, password: PASSWORD }] });
  stops.push(dovecot.stop);
  await fillInbox(dovecot, USER, loadCorpus(MESSAGES));
  const w = await wrenStarting;
  const servers: [string, number, () => number[]][] = [['Wren', w.port, w.pids]];
  if (before) {
    const b = await before;
    servers.push(['Wren-before', b.port, b.pids]);
  }
  servers.push(['Dovecot', dovecot.imapPort, () => processTree(dovecot.pid)]);
  {
    const save = process.env.BENCH_SAVE;
    if (save) mkdirSync(save, { recursive: true });
    for (const [name, port, pids] of servers)
      for (const [key, command] of [
        ['envelope', 'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE MODSEQ)'],
        ['bodies', `FETCH ${MESSAGES - BODIES + 1}:${MESSAGES} (BODY.PEEK[] UID MODSEQ)`],
      ] as const) {
        const r = await rawReply(port, command, 6, pids);
        if (save) writeFileSync(join(save, `${name}-${key}.raw`), r.bytes);
        const sizes = [...r.chunks].sort((a, b) => a - b);
        console.log(
          `${name} raw ${key}: first byte ${r.firstByte.map((t) => t.toFixed(1)).join(' / ')} ms, last ${r.lastByte.map((t) => t.toFixed(1)).join(' / ')} ms (the first run cold); server CPU ${r.serverCpu.map((t) => t.toFixed(0)).join(' / ')} ms; ${r.bytes.length} bytes in ${r.chunks.length} reads (median ${sizes[sizes.length >> 1]}, max ${sizes.at(-1)})`,
        );
      }
  }
  // Alternate the servers so the machine's load falls on both alike.
  const runs = new Map<string, Run[]>();
  for (let round = 0; round < 2; round++)
    for (const [name, port, pids] of round ? [...servers].reverse() : servers) {
      const r = await measure(`${name}-${round}`, port, pids);
      runs.set(name, [...(runs.get(name) ?? []), r]);
      const list = (ms: number[]) => ms.map((t) => t.toFixed(0)).join(' / ');
      for (const [op, ms] of r.times)
        console.log(
          `  ${name.padEnd(7)} ${op.padEnd(46)} wall ${list(ms)} ms; client CPU ${list(r.clientCpu.get(op)!)}; server CPU ${list(r.serverCpu.get(op)!)}`,
        );
      const sizes = [...r.chunks].sort((a, b) => a - b);
      console.log(
        `  ${name.padEnd(7)} last run of each: ${r.chunks.length} socket reads (median ${sizes[sizes.length >> 1]} B, max ${sizes.at(-1)} B)`,
      );
      if (!round) console.log(`  ${name} sent:\n    ${r.sent.join('\n    ')}`);
    }
  console.log(`after: ${machineLine()}`);
} finally {
  await cleanup();
}
