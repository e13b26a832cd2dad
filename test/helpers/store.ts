import { createHash } from 'node:crypto';
import type { Engine, EngineReader, RangeOptions } from '../../src/store/engine.ts';
import { LevelEngine } from '../../src/store/engines/leveldb.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { type Account, Store } from '../../src/store/index.ts';
import type { Op } from '../../src/store/tx.ts';
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

/** A team, the address's domain and an account of `address` with `password` in `store`. */
export async function addTestAccount(
  store: Store,
  address: string,
  password: string,
  quotaBytes = 0,
): Promise<Account> {
  const team = await store.teams.create('Team');
  await store.domains.create(team.id, address.split('@')[1]!);
  return store.accounts.create({ teamId: team.id, address, passwordHash: await hashPassword(password), quotaBytes });
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

/**
 * The suite's engine for `dir`, counting the reads that reach it (how many a lookup costs), and able
 * to hold a read's answer back after the engine gave it (`hold`), so a commit can land meanwhile.
 */
export class CountingEngine implements Engine {
  readonly inner: Engine;
  reads = 0;
  /** Reads by key family (the key's first segment: `u`, `a`, `sieve`, ...). */
  readonly families = new Map<string, number>();
  /** While set, each read waits for it after reading; `held` counts the reads that reached it. */
  hold: Promise<void> | null = null;
  held = 0;

  constructor(inner: Engine) {
    this.inner = inner;
  }

  static async open(dir: string): Promise<CountingEngine> {
    return new CountingEngine(
      TEST_ENGINE === 'leveldb'
        ? await LevelEngine.open(dir)
        : await (await import('../../src/store/engines/postgres.ts')).PostgresEngine.open(await testDatabase(dir)),
    );
  }

  get kind() {
    return this.inner.kind;
  }
  get location() {
    return this.inner.location;
  }
  get directory() {
    return this.inner.directory;
  }
  get leases() {
    return this.inner.leases;
  }
  get windows() {
    return this.inner.windows;
  }
  get shared() {
    return this.inner.shared;
  }

  private count(keys: (string | undefined)[]): void {
    this.reads++;
    for (const key of keys) {
      const family = (key ?? '').split('/')[0]!;
      this.families.set(family, (this.families.get(family) ?? 0) + 1);
    }
  }

  private async read<T>(keys: (string | undefined)[], run: (reader: EngineReader) => Promise<T>): Promise<T> {
    this.count(keys);
    const answer = await run(this.inner);
    if (this.hold) {
      this.held++;
      await this.hold;
    }
    return answer;
  }

  get(key: string) {
    return this.read([key], (r) => r.get(key));
  }
  getMany(keys: string[]) {
    return this.read(keys, (r) => r.getMany(keys));
  }
  keys(range: RangeOptions) {
    return this.read([range.gte ?? range.gt], (r) => r.keys(range));
  }
  values(range: RangeOptions) {
    return this.read([range.gte ?? range.gt], (r) => r.values(range));
  }
  entries(range: RangeOptions) {
    return this.read([range.gte ?? range.gt], (r) => r.entries(range));
  }
  iterate(range: RangeOptions) {
    this.count([range.gte ?? range.gt]);
    return this.inner.iterate(range);
  }
  batch(ops: Op[]) {
    return this.inner.batch(ops);
  }
  snapshot() {
    return this.inner.snapshot();
  }
  reopen() {
    return this.inner.reopen();
  }
  close() {
    return this.inner.close();
  }
}
