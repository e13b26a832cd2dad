import { createHash } from 'node:crypto';
import { Store } from '../../src/store/index.ts';
import { type PostgresCluster, startPostgres } from './postgres.ts';
import { tempDir } from './tmp.ts';

/** The engine the store suites run on: test/run.ts runs them again with TEST_STORE_ENGINE=postgres. */
export const TEST_ENGINE = process.env.TEST_STORE_ENGINE === 'postgres' ? 'postgres' : 'leveldb';

let cluster: Promise<PostgresCluster> | undefined;
const databases = new Map<string, string>();

/**
 * Opens the store of `dir` on the suite's engine: LevelDB in `dir`, or a PostgreSQL database of its own
 * (one per `dir`, so closing and reopening finds the same data) in a private cluster started once per
 * test process and stopped when it exits.
 */
export async function openTestStore(dir: string, options: { groupCommit?: boolean } = {}): Promise<Store> {
  if (TEST_ENGINE === 'leveldb') return Store.open(dir, options);
  return Store.open(dir, { ...options, postgresUrl: await testDatabase(dir) });
}

/** The URL of a PostgreSQL database of `dir`'s own in this process's private cluster (created once). */
export async function testDatabase(dir: string): Promise<string> {
  if (!cluster) {
    cluster = startPostgres();
    const started = await cluster;
    process.once('exit', () => started.stop());
  }
  const pg = await cluster;
  let url = databases.get(dir);
  if (!url) {
    url = pg.createDatabase(`s${createHash('sha256').update(dir).digest('hex').slice(0, 16)}`);
    databases.set(dir, url);
  }
  return url;
}

/** Runs `run` with a store opened in a fresh temp directory, then closes and removes it. */
export async function withTempStore(run: (store: Store) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const store = await openTestStore(dir.path);
  try {
    await run(store);
  } finally {
    await store.close();
    dir.remove();
  }
}
