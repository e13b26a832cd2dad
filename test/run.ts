// Runs every test file in its own Node process (servers and ports stay isolated), two at a time,
// and sums uvu's totals into the closing line that CI reads: "N passed, N failed".
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const FILE_TIMEOUT_MS = 10 * 60_000;
const PARALLEL = Number(process.env.TEST_PARALLEL ?? 2);
// Suites that run once per storage engine: again with TEST_STORE_ENGINE=postgres (test/helpers/store.ts).
const ENGINE_SUITES = [
  'unit/store.test.ts',
  'unit/store-header-fields.test.ts',
  'unit/store-message-cache.test.ts',
  'unit/leases.test.ts',
  'unit/greylist.test.ts',
  'unit/store-windows.test.ts',
  'unit/store-directory.test.ts',
  'unit/store-team-tallies.test.ts',
  'unit/fulltext.test.ts',
  'e2e/mail-flow.test.ts',
];
const POSTGRES = ' [postgres]';

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

// Filters match the path below the checkout (test/e2e/…), so a checkout whose own path contains a
// filter word (a worktree named after it) does not select every file.
const filter = process.argv.slice(2);
const files = findTests(join(root, 'test'))
  .flatMap((f) => (ENGINE_SUITES.some((name) => f.endsWith(`/test/${name}`)) ? [f, f + POSTGRES] : [f]))
  .filter((f) => filter.length === 0 || filter.some((pattern) => relative(root, f).includes(pattern)));

interface FileResult {
  file: string;
  passed: number;
  failed: number;
  output: string;
  ms: number;
}

function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const engine = file.endsWith(POSTGRES) ? { TEST_STORE_ENGINE: 'postgres' } : {};
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file.replace(POSTGRES, '')], {
      cwd: root,
      env: { ...process.env, FORCE_COLOR: '0', ...engine },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[run] timed out after ${FILE_TIMEOUT_MS} ms\n`;
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      let failed = total - passed - Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      // A file that crashed, printed no totals or exited non-zero counts as a failure.
      if (code !== 0 && failed === 0) failed = 1;
      if (total === 0 && failed === 0) failed = 1;
      resolve({ file: relative(root, file), passed, failed, output: clean, ms: Date.now() - started });
    });
  });
}

const results: FileResult[] = [];
const queue = [...files];
async function worker(): Promise<void> {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const result = await runFile(file);
    results.push(result);
    const mark = result.failed ? 'FAIL' : 'ok  ';
    process.stdout.write(
      `${mark} ${result.file}  (${result.passed} passed, ${result.failed} failed, ${result.ms} ms)\n`,
    );
    if (result.failed || process.env.TEST_VERBOSE) process.stdout.write(`${result.output.replace(/^/gm, '    ')}\n`);
  }
}
await Promise.all(Array.from({ length: PARALLEL }, worker));

const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed ? 1 : 0;
