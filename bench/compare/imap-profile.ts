// Where Wren's IMAP server spends its time, command by command: starts wren-imap-server.ts (the
// same INBOX as imap.ts) with a CPU profile of its serving phase, sends each command of imap.ts over
// a raw socket REPEATS times after one untimed warm-up, and prints, per command, the functions with
// the most self time and the most inclusive time in the samples taken while it ran. Profile sample
// times and this process's hrtime are the same monotonic clock, so the windows line up.
// Usage: npx node bench/compare/imap-profile.ts [REPEATS (5)]      (BENCH_MESSAGES as imap.ts)
//        BENCH_COLD=1: no warm-up, each command's first run profiled alone (caches as delivery left them)
//        BENCH_CLIENT=imapflow: the two FETCHes only, each timed over the raw socket as imapflow sends
//          it (after ENABLE CONDSTORE, with MODSEQ UID) and through imapflow, windows alternating, so
//          the server's work for the same reply to either client can be compared
//        npx node bench/compare/imap-profile.ts --summary FILE.cpuprofile   (the whole profile)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ImapFlow } from 'imapflow';
import { benchImapFlow, threadCpuMs } from './common.ts';
import { requireImapCorpus } from './corpus.ts';
import { startWren } from './imap-wren.ts';
import { RawImap } from './raw-imap.ts';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const TOP = Number(process.env.PROFILE_TOP ?? 15);

/** Self and inclusive sample counts per function over the samples whose time lies in [from, to) (µs). */
export function summarise(profile: Profile, from = -Infinity, to = Infinity): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: Node) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|node_modules|bench)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t < from || t >= to) continue;
    const leaf = byId.get(profile.samples[i]!)!;
    const leafName = name(leaf);
    if (leafName.startsWith('(idle)')) continue;
    total++;
    self.set(leafName, (self.get(leafName) ?? 0) + 1);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const k = name(byId.get(id)!);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    }
  }
  const top = (m: Map<string, number>) =>
    [...m]
      .filter(([k]) => !k.startsWith('(root)'))
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP)
      .map(([k, n]) => `    ${((100 * n) / Math.max(1, total)).toFixed(1).padStart(5)}%  ${k}`)
      .join('\n');
  return `  ${total} busy samples\n  self:\n${top(self)}\n  inclusive:\n${top(inclusive)}`;
}

const COMMANDS = [
  'SELECT INBOX',
  'FETCH 1:* (UID FLAGS ENVELOPE BODYSTRUCTURE)',
  'FETCH 9001:10000 BODY.PEEK[]',
  'SEARCH FROM "hotmail"',
  'SORT (DATE) UTF-8 ALL',
];

if (process.argv[2] === '--summary') {
  console.log(summarise(JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as Profile));
} else {
  requireImapCorpus();
  const repeats = Number(process.argv[2] ?? 5);
  const messages = Number(process.env.BENCH_MESSAGES ?? 10_000);
  const dir = mkdtempSync(join(tmpdir(), 'wren-imap-profile-'));
  const password = randomBytes(12).toString('hex');
  const wren = await startWren('bench@wren.test', password, messages, 10, { ...process.env, BENCH_CPU_PROF: dir });
  const windows: {
    command: string;
    from: number;
    to: number;
    ms: number[];
    cpu: number[];
    main: number[];
    threads: string[];
    reads: number[];
  }[] = [];
  // The server's main (JavaScript) thread alone; the rest is LevelDB's, libuv's and V8's helper threads.
  const mainThreadMs = () => {
    const pid = wren.pids()[0]!;
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  };
  // CPU ms by thread name (comm: "node" for the main thread and LevelDB's, "libuv-worker", "V8 DefaultWorke").
  const byThreadName = (): Map<string, number> => {
    const pid = wren.pids()[0]!;
    const out = new Map<string, number>();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const name = tid === String(pid) ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
        const ms = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
        out.set(name, (out.get(name) ?? 0) + ms);
      } catch {}
    }
    return out;
  };
  const threadsLine = (before: Map<string, number>) =>
    [...byThreadName()]
      .map(([name, ms]) => [name, ms - (before.get(name) ?? 0)] as const)
      .filter(([, ms]) => ms >= 1)
      .map(([name, ms]) => `${name} ${ms.toFixed(0)}`)
      .join(', ');
  const last = `${Math.max(1, messages - 999)}:${messages}`;
  const cold = process.env.BENCH_COLD === '1';
  const timeRuns = async (command: string, run: () => Promise<number>) => {
    if (!cold) await run(); // warm-up
    const from = Number(process.hrtime.bigint() / 1000n);
    const ms: number[] = [];
    const cpu: number[] = [];
    const main: number[] = [];
    const threads: string[] = [];
    const reads: number[] = [];
    for (let i = 0; i < (cold ? 1 : repeats); i++) {
      const before = threadCpuMs(wren.pids());
      const mainBefore = mainThreadMs();
      const names = byThreadName();
      const t = performance.now();
      reads.push(await run());
      ms.push(performance.now() - t);
      cpu.push(threadCpuMs(wren.pids()) - before);
      main.push(mainThreadMs() - mainBefore);
      threads.push(threadsLine(names));
    }
    windows.push({ command, from, to: Number(process.hrtime.bigint() / 1000n), ms, cpu, main, threads, reads });
  };
  try {
    const c = await RawImap.login(wren.port, 'bench@wren.test', password);
    if (process.env.BENCH_CLIENT === 'imapflow') {
      const flow = benchImapFlow(wren.port, 'bench@wren.test', password, { disableCompression: true });
      await flow.connect();
      await flow.mailboxOpen('INBOX');
      const socket = (flow as unknown as { socket: import('node:net').Socket }).socket;
      await c.command('ENABLE CONDSTORE');
      await c.command('SELECT INBOX');
      const fetches: [string, string, Parameters<ImapFlow['fetch']>[1]][] = [
        [
          'FETCH 1:* (UID FLAGS BODYSTRUCTURE ENVELOPE MODSEQ)',
          '1:*',
          { uid: true, flags: true, envelope: true, bodyStructure: true },
        ],
        [`FETCH ${last} (BODY.PEEK[] MODSEQ UID)`, last, { source: true }],
      ];
      for (const [command, range, query] of fetches) {
        await timeRuns(`raw ${command}`, async () => {
          const r = await c.command(command);
          if (r.status !== 'OK') throw new Error(`${command}: ${r.status}`);
          return 0;
        });
        await timeRuns(`imapflow ${command}`, async () => {
          let reads = 0;
          const onData = () => void reads++;
          socket.on('data', onData);
          for await (const m of flow.fetch(range, query)) void m;
          socket.off('data', onData);
          return reads;
        });
      }
      await flow.logout().catch(() => flow.close());
    } else {
      await c.command('SELECT INBOX');
      for (const command of COMMANDS.map((s) => s.replace('9001:10000', last)))
        await timeRuns(command, async () => {
          const r = await c.command(command);
          if (r.status !== 'OK') throw new Error(`${command}: ${r.status}`);
          return 0;
        });
    }
    c.close();
  } finally {
    await wren.stop();
  }
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  for (const w of windows) {
    const sorted = [...w.ms].sort((a, b) => a - b);
    const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
    console.log(
      `${w.command}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms over ${w.ms.length} (${list(w.ms)} ms; server CPU ${list(w.cpu)} ms, main thread ${list(w.main)} ms${w.reads.some(Boolean) ? `; client socket reads ${list(w.reads)}` : ''})`,
    );
    console.log(`  CPU ms by thread, run by run: ${w.threads.join(' | ')}`);
    console.log(summarise(profile, w.from, w.to));
  }
  rmSync(dir, { recursive: true, force: true });
}
