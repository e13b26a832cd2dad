// The `wrenmail` admin commands run as an operator runs them (a real process, Node 24, the repo's
// entry point) against a server process, with text on stdin when a command reads it.
import { spawn } from 'node:child_process';
import { repoRoot } from './process.ts';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function wrenmail(args: string[], env: Record<string, string>, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${repoRoot}src/main.ts`, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
    // a hung command fails the test instead of blocking it
    setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
  });
}
