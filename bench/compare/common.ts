// Helpers shared by the side-by-side benches: temp dirs the daemons' users can enter, free loopback
// ports, running Debian's tools, polling with a bound, process memory, and printing a table.
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session as Inspector } from 'node:inspector/promises';
import { connect, createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';

/** A fresh temp dir, mode 0755: Postfix and Dovecot run their workers as unprivileged users. */
export function benchDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(path, 0o755);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A loopback port that was free a moment ago (for daemons that cannot report the port they bound). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** uid and gid of a system user (the packages' postfix and dovecot users). */
export function userIds(name: string): { uid: number; gid: number } {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!entry) throw new Error(`no user ${name}: run bench/compare/setup.sh`);
  const [, , uid, gid] = entry.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Whether a server on the loopback port greets with a line starting with `prefix` (within 1 s). */
export function greets(port: number, prefix: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('data', (d) => done(d.toString('latin1').startsWith(prefix)));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

/** Runs a command to completion; rejects with its output when it exits non-zero or overruns. */
export function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `done()` is true or `timeoutMs` passes; returns whether it became true. */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/** CPU time (ms) the processes have run, every thread counted (/proc/PID/task/TID/schedstat, ns). */
export function threadCpuMs(pids: number[]): number {
  let ns = 0;
  for (const pid of pids) {
    let tids: string[] = [];
    try {
      tids = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {}
    }
  }
  return ns / 1e6;
}

/**
 * Waits until the processes use less than `busy` of one core over a whole `windowMs` (a server's own
 * background work after a bulk load: LevelDB compaction, index builds), at most `timeoutMs`.
 * Returns the time waited (ms) and the CPU the processes used meanwhile.
 */
export async function settle(
  pids: () => number[],
  { busy = 0.03, windowMs = 1000, timeoutMs = 30_000 } = {},
): Promise<{ waitedMs: number; cpuMs: number; quiet: boolean }> {
  const started = performance.now();
  const cpuStart = threadCpuMs(pids());
  let quiet = false;
  while (!quiet && performance.now() - started < timeoutMs) {
    const before = threadCpuMs(pids());
    await sleep(windowMs);
    quiet = threadCpuMs(pids()) - before < busy * windowMs;
  }
  return { waitedMs: performance.now() - started, cpuMs: threadCpuMs(pids()) - cpuStart, quiet };
}

/** Number of entries in a directory (0 when it does not exist yet). */
export function countEntries(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return 0;
  }
}

export interface Memory {
  processes: number;
  rssKiB: number;
  pssKiB: number;
}

/** RSS and PSS (shared pages split between their users) of the given processes, from /proc. */
export function memoryOf(pids: number[]): Memory {
  const total = { processes: 0, rssKiB: 0, pssKiB: 0 };
  for (const pid of pids) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
      total.rssKiB += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      total.pssKiB += Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      total.processes++;
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

/** A process and all its descendants, from /proc (Dovecot's master forks one imap process per client). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone already
    }
  }
  const out: number[] = [];
  for (const queue = [root]; queue.length; ) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Soft limit on open files of this process. */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s{2,}/)[1] ?? 1024);
}

/**
 * Makes sure this process may open `needed` files: when the soft limit is lower, runs this script again
 * under a shell that raises it to the hard limit (Node cannot set rlimits itself) and exits with its
 * status; throws when even the hard limit is too low.
 */
export function raiseOpenFileLimit(needed: number): void {
  if (openFileLimit() < needed && !process.env.WREN_BENCH_ULIMIT_RAISED) {
    const again = spawnSync(
      '/bin/sh',
      [
        '-c',
        'ulimit -n "$(ulimit -Hn)" && exec "$@"',
        'sh',
        process.execPath,
        ...process.execArgv,
        ...process.argv.slice(1),
      ],
      { stdio: 'inherit', env: { ...process.env, WREN_BENCH_ULIMIT_RAISED: '1' } },
    );
    process.exit(again.status ?? 1);
  }
  if (openFileLimit() < needed)
    throw new Error(`open file limit ${openFileLimit()} too low for ${needed} files; raise the hard limit`);
}

/** One line on the machine and its load, printed with every result so figures can be judged. */
export function machineLine(): string {
  const [one, five, fifteen] = loadavg().map((n) => n.toFixed(2));
  const cpus = readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('processor')).length;
  return `${cpus} CPUs, load average ${one} ${five} ${fifteen} (1/5/15 min), node ${process.version}`;
}

/** Wren's figure over the other's; `higherIsBetter` flips it so that > 1 always means Wren is ahead. */
export function ratio(wren: number, other: number, higherIsBetter: boolean): string {
  if (!(wren > 0) || !(other > 0)) return '-';
  return `${(higherIsBetter ? wren / other : other / wren).toFixed(2)}x`;
}

/** Prints rows as an aligned plain-text table (first column left-aligned, the rest right-aligned). */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

/**
 * Starts the CPU profiler (200 µs samples) when BENCH_CPU_PROF=DIR is set; the returned stop writes
 * DIR/<name>.cpuprofile (summarise with `npx node bench/compare/imap-profile.ts --summary FILE`).
 */
export async function startCpuProfile(name: string): Promise<() => Promise<void>> {
  const dir = process.env.BENCH_CPU_PROF;
  if (!dir) return async () => {};
  mkdirSync(dir, { recursive: true });
  const inspector = new Inspector();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.post('Profiler.start');
  return async () => {
    const { profile } = await inspector.post('Profiler.stop');
    const file = join(dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    inspector.disconnect();
    console.error(`CPU profile written to ${file}`);
  };
}

/** Runs `fn` under the CPU profiler when BENCH_CPU_PROF=DIR is set (startCpuProfile). */
export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const stop = await startCpuProfile(name);
  try {
    return await fn();
  } finally {
    await stop();
  }
}

/** Runs `fn`; also returns the CPU time (user + system, ms) this process spent meanwhile. */
export async function withCpu<T>(fn: () => Promise<T>): Promise<{ result: T; cpuMs: number }> {
  const start = process.cpuUsage();
  const result = await fn();
  const used = process.cpuUsage(start);
  return { result, cpuMs: (used.user + used.system) / 1000 };
}

/** A server started in the background: awaited later, and stopped at cleanup whether or not it came up. */
export function stopAtCleanup<T extends { stop(): Promise<void> }>(
  stops: (() => Promise<void>)[],
  starting: Promise<T>,
): Promise<T> {
  starting.catch(() => undefined); // awaited later: not an unhandled rejection meanwhile
  stops.push(() =>
    starting.then(
      (server) => server.stop(),
      () => undefined,
    ),
  );
  return starting;
}

/**
 * A side-by-side run's temp dir and what to stop at the end: `stops` run newest first, then the
 * dir is removed; Ctrl-C and SIGTERM clean up too.
 */
export function benchRun(prefix: string): {
  path: string;
  stops: (() => Promise<void>)[];
  cleanup: () => Promise<void>;
} {
  const root = benchDir(prefix);
  const stops: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse())
      await stop().catch((err: Error) => console.error(`cleanup: ${err.message}`));
    root.remove();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  return { path: root.path, stops, cleanup };
}

type ImapFlowOptions = ConstructorParameters<typeof ImapFlow>[0];

/**
 * An imapflow client as the benches use it: plain TCP to loopback, no log, no IDLE slipped in between
 * timed commands, and a dropped connection left to the awaited call to report. `options` add or override.
 */
export function benchImapFlow(
  port: number,
  user: string,
  pass: string,
  options: Partial<ImapFlowOptions> = {},
): ImapFlow {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass },
    logger: false,
    disableAutoIdle: true,
    ...options,
  } as ImapFlowOptions);
  c.on('error', () => {});
  return c;
}
