// A private PostgreSQL cluster for the tests of the PostgreSQL storage engine: Debian's binaries
// (npm run test:setup installs `postgresql`), a fresh data directory, a loopback port, no service.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, chownSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePortOn } from './ports.ts';
import { tempDir } from './tmp.ts';

export interface PostgresCluster {
  /** A connection URL of a fresh, empty database. */
  url: string;
  /** Creates another empty database in the cluster and returns its URL. */
  createDatabase(name: string): string;
  /**
   * `pg_ctl stop -m fast` (every connection is cut), `downMs` without a server, then start again;
   * resolves when it accepts connections. Asynchronous, so the test's own clients run meanwhile.
   */
  restart(downMs?: number): Promise<void>;
  stop(): void;
}

/** Debian installs PostgreSQL per major version; the newest one present is used. */
function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin/initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error('PostgreSQL is not installed (no initdb): run npm run test:setup');
  return join(root, versions[0]!, 'bin');
}

/**
 * Creates and starts a cluster on 127.0.0.1 (trust authentication, superuser `wren`, fsync on, as in
 * production). PostgreSQL refuses to run as root: then it runs as the `postgres` user, owning its data.
 */
export async function startPostgres(): Promise<PostgresCluster> {
  const bin = binDir();
  const dir = tempDir('wrenmail-pg-');
  const data = join(dir.path, 'data');
  const port = await freePortOn('127.0.0.1');
  const asRoot = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]): string =>
    execFileSync(
      asRoot ? 'runuser' : join(bin, cmd),
      asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args,
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      },
    );
  const runAsync = async (cmd: string, args: string[]): Promise<void> => {
    await promisify(execFile)(
      asRoot ? 'runuser' : join(bin, cmd),
      asRoot ? ['-u', 'postgres', '--', join(bin, cmd), ...args] : args,
      { timeout: 60_000 },
    );
  };
  if (asRoot) {
    const { uid, gid } = { uid: Number(id('-u')), gid: Number(id('-g')) };
    chownSync(dir.path, uid, gid);
    chmodSync(dir.path, 0o700);
  }
  run('initdb', ['-D', data, '-U', 'wren', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = [
    `-c listen_addresses=127.0.0.1`,
    `-c port=${port}`,
    `-c unix_socket_directories=${dir.path}`,
    '-c fsync=on',
    '-c synchronous_commit=on',
    '-c max_connections=200',
    '-c shared_buffers=32MB',
  ].join(' ');
  run('pg_ctl', ['-D', data, '-l', join(dir.path, 'log'), '-o', options, '-w', '-t', '60', 'start']);
  let stopped = false;
  const base = `postgres://wren@127.0.0.1:${port}`;
  const cluster: PostgresCluster = {
    url: `${base}/postgres`,
    createDatabase(name) {
      run('psql', [
        '-h',
        '127.0.0.1',
        '-p',
        String(port),
        '-U',
        'wren',
        '-d',
        'postgres',
        '-qc',
        `CREATE DATABASE "${name}"`,
      ]);
      return `${base}/${name}`;
    },
    async restart(downMs = 0) {
      await runAsync('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await runAsync('pg_ctl', ['-D', data, '-l', join(dir.path, 'log'), '-o', options, '-w', '-t', '60', 'start']);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      } finally {
        dir.remove();
      }
    },
  };
  cluster.url = cluster.createDatabase('wren_test');
  return cluster;

  function id(flag: string): string {
    return execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim();
  }
}
