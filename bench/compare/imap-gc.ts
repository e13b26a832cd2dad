// Full garbage collections and server CPU per FETCH n:m BODY.PEEK[] (issue 17): Wren from one or more
// checkouts, each started under --trace-gc, alternately, over a raw socket (raw-imap.ts).
// `BENCH_WREN_CHECKOUTS=/a,/b BENCH_MESSAGES=3000 BENCH_RUNS=12 npx node bench/compare/imap-gc.ts`
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { RawImap } from './raw-imap.ts';

const checkouts = (process.env.BENCH_WREN_CHECKOUTS ?? new URL('../..', import.meta.url).pathname).split(',');
const messages = Number(process.env.BENCH_MESSAGES ?? 3000);
const runs = Number(process.env.BENCH_RUNS ?? 12);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const range = `${Math.max(1, messages - 999)}:${messages}`;

/** CPU time of every thread of a process, in ms (schedstat is in ns). */
function cpuMs(pid: number): number {
  let ns = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1e6;
}

async function measure(checkout: string): Promise<string> {
  const child = spawn(
    process.execPath,
    ['--trace-gc', `${checkout}/bench/compare/wren-imap-server.ts`, 'u@gc.test', 'pw', String(messages), '10'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setInterval(() => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) {
        clearInterval(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    }, 50);
    child.once('exit', () => reject(new Error('server exited')));
  });
  const client = await RawImap.login(port, 'u@gc.test', 'pw');
  await client.command('SELECT INBOX');
  await client.command(`FETCH ${range} BODY.PEEK[]`); // warm-up, not counted
  const rows: { ms: number; cpu: number; full: number }[] = [];
  for (let i = 0; i < runs; i++) {
    const mark = out.length;
    const cpu = cpuMs(child.pid!);
    const t = performance.now();
    await client.command(`FETCH ${range} BODY.PEEK[]`);
    const ms = performance.now() - t;
    await new Promise((r) => setTimeout(r, 50)); // trace lines of collections finishing after the reply
    const full = (out.slice(mark).match(/Mark-Compact/g) ?? []).length;
    if (process.env.BENCH_GC_LINES)
      for (const l of out.slice(mark).split('\n')) if (/Mark-Compact/.test(l)) console.log(l);
    rows.push({ ms, cpu: cpuMs(child.pid!) - cpu, full });
  }
  client.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return (
    `${checkout}: wall median ${median(rows.map((r) => r.ms)).toFixed(0)} ms, server CPU median ` +
    `${median(rows.map((r) => r.cpu)).toFixed(0)} ms (sum ${rows.reduce((a, r) => a + r.cpu, 0).toFixed(0)}), ` +
    `runs with a Mark-Compact ${rows.filter((r) => r.full).length}/${runs}; ` +
    `per run ms/cpu/full: ${rows.map((r) => `${r.ms.toFixed(0)}/${r.cpu.toFixed(0)}/${r.full}`).join(' ')}`
  );
}

for (let round = 0; round < rounds; round++) {
  for (const checkout of round % 2 ? [...checkouts].reverse() : checkouts) {
    const load = loadavg()[0]!.toFixed(2);
    console.log(
      `round ${round + 1}, load ${load} → ${(await measure(checkout)).replace(/^/, '')} (end load ${loadavg()[0]!.toFixed(2)})`,
    );
  }
}
