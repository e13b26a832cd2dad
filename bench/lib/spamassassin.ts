// A private SpamAssassin (Debian's `spamassassin`, `spamc` and `spamd` packages) for the spam benches:
// the packaged default rules (/usr/share/spamassassin) and plugin loaders (/etc/spamassassin/*.pre),
// but its own site config, home and Bayes database in a temp dir: local tests only (no DNS, RBL, Razor,
// Pyzor), Bayes on with exactly the training it is given (sa-learn), nothing learned while testing,
// no markup. spamd keeps the rules compiled between messages; `check` asks it with `spamc -R`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SpamClass } from '../../src/store/spam.ts';
import { tempDir } from '../../test/helpers/tmp.ts';

const SITE_CONFIG = '/etc/spamassassin';
const TOOLS = ['spamd', 'spamc', 'sa-learn'];
const SEARCH = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin'];

/** Where each tool is, or the sentence saying which are not installed. */
function locate(): Record<string, string> | string {
  const found: Record<string, string> = {};
  for (const tool of TOOLS) {
    const at = SEARCH.map((d) => join(d, tool)).find((p) => existsSync(p));
    if (at) found[tool] = at;
  }
  const missing = TOOLS.filter((t) => !found[t]);
  if (missing.length === 0 && existsSync(SITE_CONFIG)) return found;
  return `SpamAssassin is not installed (${[...missing, ...(existsSync(SITE_CONFIG) ? [] : [SITE_CONFIG])].join(', ')} not found; Debian: apt-get install spamassassin spamc spamd)`;
}

/** Why SpamAssassin cannot run here, or undefined when it can. */
export function spamAssassinMissing(): string | undefined {
  const where = locate();
  return typeof where === 'string' ? where : undefined;
}

export interface SpamAssassinVerdict {
  score: number;
  /** SpamAssassin's own required_score (5 by default): junk at or above it. */
  required: number;
  /** The names of the rules that hit, BAYES_* among them. */
  rules: string[];
}

export interface SpamAssassin {
  /** What sa-learn put in the Bayes database, and how long it took. */
  learned: { spam: number; ham: number; seconds: number };
  /** One message through `spamc -R` → spamd; several may be in flight, up to `children`. */
  check(raw: Buffer): Promise<SpamAssassinVerdict>;
  /** spamd's log so far, for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** The messages as one mbox (mboxrd quoting of body lines starting with "From "), LF line ends. */
function mbox(messages: Buffer[]): string {
  return messages
    .map(
      (raw) =>
        `From bench@localhost Thu Jan  1 00:00:00 1970\n${raw
          .toString('latin1')
          .replace(/\r\n/g, '\n')
          .replace(/^(>*From )/gm, '>$1')}\n`,
    )
    .join('');
}

/**
 * sa-learns `train` into a fresh Bayes database, then starts spamd on a Unix socket in the same temp dir
 * and resolves once it answers. `children`: spamd's worker processes (checks in flight at once).
 */
export async function startSpamAssassin(
  train: { raw: Buffer; class: SpamClass }[],
  options: { children?: number } = {},
): Promise<SpamAssassin> {
  const bin = locate();
  if (typeof bin === 'string') throw new Error(bin);
  const dir = tempDir('wrenmail-spamassassin-');
  let spamd: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let spamdLog = '';
  const stop = async () => {
    if (spamd && spamd.exitCode === null && spamd.signalCode === null) {
      spamd.kill('SIGTERM');
      const timer = setTimeout(() => spamd?.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    dir.remove();
  };
  try {
    // A site config replacing /etc/spamassassin: its plugin loaders (*.pre, Bayes among them) copied, then
    // local tests only and our own Bayes. The default rules (/usr/share/spamassassin) stay.
    for (const pre of readdirSync(SITE_CONFIG).filter((f) => f.endsWith('.pre')))
      copyFileSync(join(SITE_CONFIG, pre), join(dir.path, pre));
    writeFileSync(
      join(dir.path, 'local.cf'),
      [
        'report_safe 0',
        'use_bayes 1',
        'bayes_auto_learn 0',
        'bayes_auto_expire 0',
        `bayes_path ${dir.path}/bayes`,
        'skip_rbl_checks 1',
        'use_razor2 0',
        'use_pyzor 0',
        'dns_available no',
        '',
      ].join('\n'),
    );
    const env = { ...process.env, HOME: dir.path };
    const saLearn = (argv: string[]) =>
      spawnSync(bin['sa-learn']!, ['--siteconfigpath', dir.path, '-p', join(dir.path, 'user_prefs'), ...argv], {
        env,
        encoding: 'utf8',
        timeout: 30 * 60_000,
        maxBuffer: 64 << 20,
      });
    const t = performance.now();
    for (const cls of ['spam', 'ham'] as const) {
      const file = join(dir.path, `${cls}.mbox`);
      writeFileSync(file, mbox(train.filter((s) => s.class === cls).map((s) => s.raw)), 'latin1');
      const r = saLearn([`--${cls}`, '--mbox', '--no-sync', file]);
      if (r.status !== 0) throw new Error(`sa-learn --${cls} failed (${r.status}): ${r.stderr?.slice(0, 500)}`);
    }
    const synced = saLearn(['--sync', '--dump', 'magic']);
    if (synced.status !== 0) throw new Error(`sa-learn --sync failed: ${synced.stderr?.slice(0, 500)}`);
    const magic = (name: string) =>
      Number(synced.stdout.match(new RegExp(`(\\d+)\\s+\\S+\\s+non-token data: ${name}`))?.[1] ?? 0);
    const learned = { spam: magic('nspam'), ham: magic('nham'), seconds: (performance.now() - t) / 1000 };

    // As root spamd runs as nobody, who must reach the dir (and own the Bayes files it opens).
    const root = process.getuid?.() === 0;
    if (root) {
      chmodSync(dir.path, 0o711);
      spawnSync('chown', ['-R', 'nobody', dir.path]);
    }
    const socket = join(dir.path, 'spamd.sock');
    const children = String(options.children ?? 1);
    spamd = spawn(
      bin.spamd!,
      [
        '-L',
        '-x',
        '--siteconfigpath',
        dir.path,
        '-H',
        dir.path,
        '--socketpath',
        socket,
        '--min-children',
        children,
        '--max-children',
        children,
        '-s',
        'stderr',
        ...(root ? ['-u', 'nobody'] : []),
      ],
      { env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const child = spamd;
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stderr!.on('data', (d: Buffer) => (spamdLog = (spamdLog + d.toString()).slice(-4000)));
    const spamc = (input: Buffer | string, argv: string[]) =>
      new Promise<{ status: number | null; out: string }>((resolve, reject) => {
        const c = spawn(bin.spamc!, ['-U', socket, '-x', '-s', String(64 << 20), ...argv], {
          stdio: ['pipe', 'pipe', 'ignore'],
        });
        let out = '';
        c.stdout.setEncoding('latin1').on('data', (d: string) => (out += d));
        c.on('error', reject).on('close', (status) => resolve({ status, out }));
        c.stdin.end(input);
      });
    // Compiling the rules takes spamd a while on a busy machine.
    const ready = Date.now() + 180_000;
    while (!existsSync(socket) || (await spamc('', ['-K'])).status !== 0) {
      if (Date.now() > ready || child.exitCode !== null) throw new Error(`spamd did not start: ${spamdLog}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const check = async (raw: Buffer): Promise<SpamAssassinVerdict> => {
      const { status, out } = await spamc(raw, ['-R']);
      // -R: "score/threshold" on the first line, then the report, one hit rule a line.
      const verdict = /^(-?[\d.]+)\/([\d.]+)\r?\n/.exec(out);
      if (status === null || status > 1 || !verdict)
        throw new Error(`spamc failed (${status}): ${out.slice(0, 300)} ${spamdLog}`);
      const rules = [...out.matchAll(/^\s*-?[\d.]+\s+([A-Z][A-Z0-9_]+)\s/gm)].map((m) => m[1]!);
      return { score: Number(verdict[1]), required: Number(verdict[2]), rules };
    };
    return { learned, check, log: () => spamdLog, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
