// A real rspamd (Debian package `rspamd`, see tools.ts) for tests and benches: the packaged rules and
// modules from /etc/rspamd, but a private top-level config in a temp dir (its own local.d, database,
// run and log dirs), workers on free ports of 127.0.0.79 (an address of their own: the ports are picked
// before rspamd binds them, and no other test's listener can take one in between), Bayes in SQLite files there (no Redis), and no
// network lookups: the DNS modules are off and the resolver points at a closed loopback port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePortOn } from './ports.ts';

const HOST = '127.0.0.79';
import { tempDir } from './tmp.ts';

export interface Rspamd {
  /** The normal worker: POST /checkv2. */
  url: string;
  /** The controller: /learnspam, /learnham, /stat. */
  controllerUrl: string;
  password: string;
  /** rspamd's log so far (errors), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

// Modules that would ask DNS or the internet (blocklists, SPF/DKIM/DMARC keys, fuzzy hashes at
// rspamd.com, ASN), and those that need Redis, which the test does not run.
const OFF = [
  'multimap',
  'rbl',
  'surbl',
  'spf',
  'dkim',
  'dmarc',
  'arc',
  'asn',
  'fuzzy_check',
  'mx_check',
  'dkim_signing',
  'greylist',
  'ratelimit',
  'neural',
  'replies',
  'reputation',
  'url_redirector',
  'history_redis',
  'rspamd_update',
  'whitelist',
  'dcc',
  'phishing',
  'p0f',
  'emails',
  'bimi',
];

/** Starts rspamd and resolves once both workers answer; `minLearns` is Bayes's minimum per class before it speaks. */
export async function startRspamd(options: { minLearns?: number; fullTldList?: boolean } = {}): Promise<Rspamd> {
  const dir = tempDir('wrenmail-rspamd-');
  const [normal, controller, proxy, closedDns] = [
    await freePortOn(HOST),
    await freePortOn(HOST),
    await freePortOn(HOST),
    await freePortOn(HOST),
  ];
  const password = 'wren-test';
  const local = join(dir.path, 'local');
  mkdirSync(join(local, 'local.d'), { recursive: true });
  for (const d of ['db', 'run', 'log']) mkdirSync(join(dir.path, d));
  const file = (name: string, text: string) => writeFileSync(join(local, 'local.d', name), text);
  // Compiling the full public-suffix list takes rspamd most of a minute on a busy machine: the tests
  // make do with the suffixes their messages use (the bench keeps the full list).
  const tlds = join(dir.path, 'tld.dat');
  writeFileSync(tlds, ['com', 'org', 'net', 'test', 'example', 'invalid', 'uk', 'co.uk', 'de', 'io', ''].join('\n'));
  const tld = options.fullTldList ? '' : `url_tld = "${tlds}";\n`;
  file(
    'options.inc',
    `dns { nameserver = ["${HOST}:${closedDns}"]; timeout = 0.1s; retransmits = 0; }\nfilters = "chartable,regexp";\ndisable_hyperscan = true;\n${tld}`,
  );
  file('logging.inc', `level = "${process.env.RSPAMD_LOG_LEVEL ?? 'error'}";\n`);
  file(
    'classifier-bayes.conf',
    [
      'backend = "sqlite3";',
      // Learns come only from Wren (the tests count them): not rspamd's own autolearn on the messages it scans.
      'autolearn = false;',
      `min_learns = ${options.minLearns ?? 200};`,
      `cache { type = "sqlite3"; file = "${dir.path}/db/learn_cache.sqlite"; }`,
      `statfile { symbol = "BAYES_HAM"; spam = false; path = "${dir.path}/db/bayes.ham.sqlite"; }`,
      `statfile { symbol = "BAYES_SPAM"; spam = true; path = "${dir.path}/db/bayes.spam.sqlite"; }`,
      '',
    ].join('\n'),
  );
  file('redis.conf', 'enabled = false;\n');
  for (const module of OFF) file(`${module}.conf`, 'enabled = false;\n');
  // Our own top level instead of /etc/rspamd/rspamd.conf: its workers bind fixed localhost ports.
  const conf = join(dir.path, 'rspamd.conf');
  writeFileSync(
    conf,
    [
      '.include "$CONFDIR/common.conf"',
      'options {',
      '  pidfile = "$RUNDIR/rspamd.pid";',
      '  .include "$CONFDIR/options.inc"',
      '  .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/options.inc"',
      '}',
      'logging { type = "console"; .include "$CONFDIR/logging.inc"; .include(try=true; priority=1,duplicate=merge) "$LOCAL_CONFDIR/local.d/logging.inc" }',
      `worker "normal" { bind_socket = "${HOST}:${normal}"; .include "$CONFDIR/worker-normal.inc"; count = 1; }`,
      // Not the packaged controller settings: they trust 127.0.0.1 without a password, and Wren must send it.
      `worker "controller" { bind_socket = "${HOST}:${controller}"; count = 1; password = "${password}"; static_dir = "\${WWWDIR}"; }`,
      `worker "rspamd_proxy" { bind_socket = "${HOST}:${proxy}"; .include "$CONFDIR/worker-proxy.inc"; count = 0; }`,
      '',
    ].join('\n'),
  );
  const root = process.getuid?.() === 0;
  if (root) {
    // Workers drop to _rspamd, which must write the database and run dirs.
    chmodSync(dir.path, 0o755);
    for (const d of ['db', 'run', 'log']) chownSync(join(dir.path, d), uid('_rspamd'), gid('_rspamd'));
  }
  const vars = {
    LOCAL_CONFDIR: local,
    DBDIR: join(dir.path, 'db'),
    RUNDIR: join(dir.path, 'run'),
    LOGDIR: join(dir.path, 'log'),
  };
  const args = [
    '-f',
    '-c',
    conf,
    ...Object.entries(vars).map(([k, v]) => `--var=${k}=${v}`),
    ...(root ? ['-u', '_rspamd', '-g', '_rspamd'] : []),
  ];
  const child: ChildProcess = spawn('rspamd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (d: Buffer) => (log = (log + d.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    dir.remove();
  };
  const url = `http://${HOST}:${normal}`;
  const controllerUrl = `http://${HOST}:${controller}`;
  // Compiling the rules (hyperscan) takes a few seconds the first time.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const up = await Promise.all(
      [fetch(`${url}/ping`), fetch(`${controllerUrl}/ping`)].map((p) =>
        p.then(
          (r) => r.ok,
          () => false,
        ),
      ),
    );
    if (up.every(Boolean)) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`rspamd did not start (exit ${child.exitCode}, ${child.signalCode}): ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, controllerUrl, password, log: () => log, stop };
}

const uid = (name: string) => Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
const gid = (name: string) => Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
