// The seed documents (docs/seeds/) as executable examples: their curl commands extracted whole and
// run with curl, their Python run with python3 (the `requests` calls over urllib), only the host and
// the key changed. Code whose line breaks or indentation the document lost is given re-laid-out by
// the test and checked against the document with all whitespace removed (`assertInDocument`).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { repoRoot } from './process.ts';

export const seedText = (file: string): string => readFileSync(join(repoRoot, 'docs/seeds', file), 'utf8');

const squash = (text: string): string => text.replace(/\s+/g, '');

/** `code` is the document's text apart from whitespace (line breaks and indentation it lost). */
export function assertInDocument(document: string, code: string): void {
  assert.ok(squash(document).includes(squash(code)), `not in the document as printed:\n${code}`);
}

/**
 * Every curl command of a text, whole: continuation lines (`\` + newline, or the ` \ ` a flattened
 * page leaves) joined, a quoted argument kept across lines, ended by a newline outside quotes or by
 * text glued to a closing quote (a page that prints the response right after the command).
 */
export function curlCommands(text: string): string[] {
  const out: string[] = [];
  const start = /(^|\s)curl (?=-|"|https?:)/gm;
  for (let m = start.exec(text); m; m = start.exec(text)) {
    let i = m.index + m[1]!.length;
    let cmd = '';
    let quoted = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        cmd += c;
        if (c === "'") {
          quoted = false;
          if (i + 1 < text.length && !/\s/.test(text[i + 1]!)) break;
        }
      } else if (c === "'") {
        quoted = true;
        cmd += c;
      } else if (c === '\\' && (text[i + 1] === '\n' || text[i + 1] === ' ')) {
        cmd += ' ';
        i++;
      } else if (c === '\n') break;
      else cmd += c;
    }
    out.push(cmd.trim());
    start.lastIndex = i;
  }
  return out;
}

export interface CurlReply {
  status: number;
  headers: Record<string, string>;
  text: string;
  // Parsed JSON (undefined when the body is not JSON); `any` keeps assertions short.
  body: any;
}

/** Runs a document's curl command after the replacements (host, key, placeholders); curl's own output options are added. */
export function runCurl(command: string, replacements: [string, string][], maxSeconds = 20): Promise<CurlReply> {
  let cmd = command;
  for (const [from, to] of replacements) cmd = cmd.split(from).join(to);
  const dir = mkdtempSync(join(tmpdir(), 'wrenmail-curl-'));
  const script = `${cmd} -sS --max-time ${maxSeconds} -D ${dir}/headers -o ${dir}/body -w '%{http_code}'`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => {
      try {
        const headers: Record<string, string> = {};
        for (const line of readFileSync(`${dir}/headers`, 'utf8').split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        const text = readFileSync(`${dir}/body`, 'utf8');
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: Number(stdout.trim().slice(-3)), headers, text, body });
      } catch (err) {
        reject(new Error(`curl failed: ${stderr}\n${script}`, { cause: err }));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Runs Python code with the `requests` stand-in importable; bounded in time. */
export function runPython(
  code: string,
  args: string[] = [],
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', code, ...args], {
      env: { ...process.env, PYTHONPATH: join(repoRoot, 'test/helpers/python') },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout, stderr });
    });
  });
}
