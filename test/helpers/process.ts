import { spawn, type ChildProcess } from 'node:child_process';

export const repoRoot = new URL('../../', import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcess;
  /** Listener name → port, from the "listening" log lines. */
  ports: Map<string, number>;
  logs: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `wrenmail serve` as a real process (Node 24, the repo's entry point) with settings given as
 * WRENMAIL_* environment variables, and waits until it logs "wrenmail ready" (or exits).
 */
export async function startServerProcess(
  env: Record<string, string>,
  args: string[] = ['serve'],
  uid?: number,
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [`${repoRoot}src/main.ts`, ...args], {
    cwd: repoRoot,
    uid,
    gid: uid,
    env: { ...process.env, WRENMAIL_SERVER_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const ports = new Map<string, number>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        try {
          const entry = JSON.parse(line) as { msg?: string; listener?: string; port?: number };
          if (entry.msg?.endsWith(' listening') && entry.listener && entry.port) {
            const name = ports.has(entry.listener)
              ? `${entry.listener}#${[...ports.keys()].filter((k) => k.startsWith(entry.listener!)).length}`
              : entry.listener;
            ports.set(name, entry.port);
          }
          if (entry.msg === 'wrenmail ready') resolve();
        } catch {
          // not a log line (a message printed to the terminal)
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    exited.then((code) => reject(Object.assign(new Error(`server exited with ${code}: ${logs.join('\n')}`), { code })));
    // Generous: on a loaded machine (parallel suites on 2 cores) loading the modules alone takes ~30 s.
    setTimeout(() => reject(new Error(`server did not start in 90 s: ${logs.join('\n')}`)), 90_000).unref();
  });
  return {
    child,
    ports,
    logs,
    exited,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}

/** Runs the wrenmail command to completion. */
export function runCli(
  args: string[],
  env: Record<string, string>,
  uid?: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`${repoRoot}src/main.ts`, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      uid,
      gid: uid,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
