// Where Wren's IMAP server spends its time, command by command: starts wren-imap-server.ts (the
// same INBOX as imap.ts) with a CPU profile of its serving phase, sends each command of imap.ts over
// a raw socket REPEATS times after one untimed warm-up, and prints, per command, the functions with
// the most self time and the most inclusive time in the samples taken while it ran. Profile sample
// times and this process's hrtime are the same monotonic clock, so the windows line up.
// Usage: npx node bench/compare/imap-profile.ts [REPEATS (5)]      (BENCH_MESSAGES as imap.ts)
//        BENCH_COLD=1: no warm-up, each command's first run profiled alone (caches as delivery left them)
//        npx node bench/compare/imap-profile.ts --summary FILE.cpuprofile   (the whole profile)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
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
  const windows: { command: string; from: number; to: number; ms: number[] }[] = [];
  try {
    const c = await RawImap.login(wren.port, 'bench@wren.test', password);
    await c.command('SELECT INBOX');
    const cold = process.env.BENCH_COLD === '1';
    for (const command of COMMANDS.map((s) => s.replace('9001:10000', `${Math.max(1, messages - 999)}:${messages}`))) {
      if (!cold) await c.command(command); // warm-up
      const from = Number(process.hrtime.bigint() / 1000n);
      const ms: number[] = [];
      for (let i = 0; i < (cold ? 1 : repeats); i++) {
        const t = performance.now();
        const r = await c.command(command);
        if (r.status !== 'OK') throw new Error(`${command}: ${r.status}`);
        ms.push(performance.now() - t);
      }
      windows.push({ command, from, to: Number(process.hrtime.bigint() / 1000n), ms });
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
    console.log(`${w.command}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms over ${w.ms.length}`);
    console.log(summarise(profile, w.from, w.to));
  }
  rmSync(dir, { recursive: true, force: true });
}
