// Starts bench/compare/wren-imap-server.ts in a child process and waits for its port (imap.ts,
// imap-profile.ts). `env` reaches the child (BENCH_CPU_PROF there writes a CPU profile).
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from './common.ts';

export interface WrenChild {
  name: string;
  port: number;
  loadMs: number;
  /** Time the child spent compacting LevelDB after the load (0 with BENCH_SETTLE=0). */
  compactMs: number;
  pids(): number[];
  stop(): Promise<void>;
}

export async function startWren(
  user: string,
  password: string,
  messages: number,
  maxConnections: number,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WrenChild> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      new URL('./wren-imap-server.ts', import.meta.url).pathname,
      user,
      password,
      String(messages),
      String(maxConnections),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env,
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ port: number; messages: number; loadMs: number; compactMs: number }>(
    (resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve(JSON.parse(line) as { port: number; messages: number; loadMs: number; compactMs: number });
      });
      void exited.then(() => reject(new Error('wren-imap-server exited before listening')));
    },
  );
  return {
    name: 'Wren',
    port: ready.port,
    loadMs: ready.loadMs,
    compactMs: ready.compactMs ?? 0,
    pids: () => [child.pid!],
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
