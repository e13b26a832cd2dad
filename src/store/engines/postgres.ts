import pg from 'pg';
import type { Engine, EngineLeases, EngineReader, EngineSnapshot, RangeOptions } from '../engine.ts';
import type { Op } from '../tx.ts';

// Range reads too big to hold at once come in pages of this many rows (keyset paging on the key).
const PAGE_ROWS = 500;
// One INSERT carries at most this many value bytes (a group commit of many 1 MiB blob chunks splits),
// and at most this many rows (two parameters a row; the protocol allows 65,535 parameters).
const INSERT_BYTES = 8 << 20;
const INSERT_ROWS = 1000;
// The session advisory lock the writer connection holds while the store is open ("wren" in ASCII).
const STORE_LOCK = 0x7772656e;

/** Live reads and snapshots share nothing with the writer: a slow reader never delays a commit. */
export interface PostgresOptions {
  /** Connections for live reads (default 8). */
  readers?: number;
  /** Connections that snapshots hold for their lifetime (default 16); more open views wait for one. */
  snapshots?: number;
}

type Queryable = Pick<pg.ClientBase, 'query'>;

const toKey = (key: string): Buffer => Buffer.from(key, 'utf8');

/** WHERE, ORDER BY and LIMIT of a range; bytea compares byte-wise, as LevelDB compares its keys. */
function rangeSql(range: RangeOptions, params: unknown[]): string {
  const where: string[] = [];
  const bound = (op: string, key: string | undefined): void => {
    if (key === undefined) return;
    params.push(toKey(key));
    where.push(`key ${op} $${params.length}`);
  };
  bound('>', range.gt);
  bound('>=', range.gte);
  bound('<', range.lt);
  bound('<=', range.lte);
  let sql = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  sql += ` ORDER BY key ${range.reverse ? 'DESC' : 'ASC'}`;
  if (range.limit !== undefined && range.limit >= 0) sql += ` LIMIT ${Math.floor(range.limit)}`;
  return sql;
}

/** Reads through `use`, which lends a connection (the pool's, or the snapshot's own). */
class PgReader implements EngineReader {
  protected readonly use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;

  constructor(use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>) {
    this.use = use;
  }

  async get(key: string): Promise<Buffer | undefined> {
    const { rows } = await this.use((db) =>
      db.query<{ value: Buffer }>('SELECT value FROM kv WHERE key = $1', [toKey(key)]),
    );
    return rows[0]?.value;
  }

  async getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.use((db) =>
      db.query<{ key: Buffer; value: Buffer }>('SELECT key, value FROM kv WHERE key = ANY($1::bytea[])', [
        keys.map(toKey),
      ]),
    );
    const found = new Map(rows.map((row) => [row.key.toString('utf8'), row.value]));
    return keys.map((key) => found.get(key));
  }

  private async rows(columns: string, range: RangeOptions): Promise<{ key: Buffer; value: Buffer }[]> {
    const params: unknown[] = [];
    const sql = `SELECT ${columns} FROM kv${rangeSql(range, params)}`;
    return (await this.use((db) => db.query<{ key: Buffer; value: Buffer }>(sql, params))).rows;
  }

  async keys(range: RangeOptions): Promise<string[]> {
    return (await this.rows('key', range)).map((row) => row.key.toString('utf8'));
  }

  async values(range: RangeOptions): Promise<Buffer[]> {
    return (await this.rows('value', range)).map((row) => row.value);
  }

  async entries(range: RangeOptions): Promise<[string, Buffer][]> {
    return (await this.rows('key, value', range)).map((row) => [row.key.toString('utf8'), row.value]);
  }

  /** Keyset paging: each page starts after the last key of the one before (in a snapshot, one instant). */
  async *iterate(range: RangeOptions): AsyncIterable<[string, Buffer]> {
    let left = range.limit ?? Infinity;
    let page: RangeOptions = { ...range };
    while (left > 0) {
      const rows = await this.entries({ ...page, limit: Math.min(PAGE_ROWS, left) });
      for (const row of rows) yield row;
      left -= rows.length;
      if (rows.length < PAGE_ROWS) return;
      const last = rows.at(-1)![0];
      page = range.reverse ? { ...page, lt: last, lte: undefined } : { ...page, gt: last, gte: undefined };
    }
  }
}

/**
 * A REPEATABLE READ READ ONLY transaction on a connection of its own, held until close(). It begins
 * when the snapshot is taken (the first statement fixes PostgreSQL's snapshot), not at its first read.
 */
class PgSnapshot extends PgReader implements EngineSnapshot {
  readonly client: Promise<pg.PoolClient>;

  constructor(pool: pg.Pool) {
    const client = pool.connect().then(async (c) => {
      try {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT 1');
        return c;
      } catch (err) {
        c.release(err as Error);
        throw err;
      }
    });
    super(async (fn) => fn(await client));
    this.client = client;
    client.catch(() => {}); // reported by the reads that use it
  }

  async close(): Promise<void> {
    let c: pg.PoolClient;
    try {
      c = await this.client;
    } catch {
      return;
    }
    try {
      await c.query('COMMIT');
      c.release();
    } catch (err) {
      c.release(err as Error);
    }
  }
}

/**
 * PostgreSQL as the ordered keyspace: one table `kv(key bytea primary key, value bytea)`. Keys are the
 * keyspace's UTF-8 strings as bytes. Writes go through one dedicated connection with synchronous_commit
 * on, one transaction per batch, in the order they were submitted.
 */
export class PostgresEngine extends PgReader implements Engine {
  readonly kind = 'postgres';
  readonly location: string;
  readonly directory = undefined;
  private readonly url: string;
  private readonly readers: pg.Pool;
  private readonly snapshots: pg.Pool;
  private writer: pg.Client;
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(url: string, readers: pg.Pool, snapshots: pg.Pool, writer: pg.Client) {
    super((fn) => fn(readers));
    this.url = url;
    this.location = redact(url);
    this.readers = readers;
    this.snapshots = snapshots;
    this.writer = writer;
  }

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresEngine> {
    const readers = new pg.Pool({ connectionString: url, max: options.readers ?? 8 });
    const snapshots = new pg.Pool({ connectionString: url, max: options.snapshots ?? 16 });
    // An idle connection that dies is replaced on next use; without a listener it would crash the process.
    for (const pool of [readers, snapshots]) pool.on('error', () => {});
    const writer = await PostgresEngine.connectWriter(url);
    try {
      // One server per database, as LevelDB's lock file has it: the memory of §4.5 is not shared yet.
      const { rows } = await writer.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
        STORE_LOCK,
      ]);
      if (!rows[0]!.locked) throw new Error(`another Wren Mail server has the store open (${redact(url)})`);
      await writer.query('CREATE TABLE IF NOT EXISTS kv (key bytea PRIMARY KEY, value bytea NOT NULL)');
    } catch (err) {
      await Promise.all([writer.end(), readers.end(), snapshots.end()]).catch(() => {});
      throw err;
    }
    return new PostgresEngine(url, readers, snapshots, writer);
  }

  private static async connectWriter(url: string): Promise<pg.Client> {
    const writer = new pg.Client({ connectionString: url });
    writer.on('error', () => {}); // the next batch fails, and recovery (reopen) reconnects
    await writer.connect();
    // Durable before the commit returns, whatever the server's default (docs/ARCHITECTURE.md §4.4).
    await writer.query('SET synchronous_commit = on');
    return writer;
  }

  /** Every op or none, in one transaction; the last op on a key wins, as in a LevelDB batch. */
  batch(ops: Op[]): Promise<void> {
    const run = this.writes.then(() => this.write(ops));
    this.writes = run.catch(() => {});
    return run;
  }

  private async write(ops: Op[]): Promise<void> {
    const last = new Map<string, Op>();
    for (const op of ops) {
      last.delete(op.key);
      last.set(op.key, op);
    }
    const dels: Buffer[] = [];
    const puts: { keys: Buffer[]; values: Buffer[]; bytes: number }[] = [];
    for (const op of last.values()) {
      if (op.type === 'del') {
        dels.push(toKey(op.key));
        continue;
      }
      let group = puts.at(-1);
      if (!group || group.bytes + op.value.length > INSERT_BYTES || group.keys.length === INSERT_ROWS)
        puts.push((group = { keys: [], values: [], bytes: 0 }));
      group.keys.push(toKey(op.key));
      group.values.push(op.value);
      group.bytes += op.value.length;
    }
    const db = this.writer;
    const deleting = dels.length ? 'WITH gone AS (DELETE FROM kv WHERE key = ANY($1::bytea[])) ' : '';
    const insert = (group: (typeof puts)[number], first: number): [string, Buffer[]] => [
      'INSERT INTO kv (key, value) VALUES ' +
        group.keys.map((_, i) => `($${first + 2 * i}::bytea, $${first + 2 * i + 1}::bytea)`).join(', ') +
        ' ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
      // One parameter per key and value: Buffers go over the wire as binary, not as hex text.
      group.keys.flatMap((key, i) => [key, group.values[i]!]),
    ];
    // The usual batch is one statement, atomic on its own: one round trip, one commit (one WAL flush).
    if (puts.length <= 1) {
      if (!puts.length) {
        await db.query('DELETE FROM kv WHERE key = ANY($1::bytea[])', [dels]);
        return;
      }
      const [sql, params] = insert(puts[0]!, deleting ? 2 : 1);
      await db.query(deleting + sql, deleting ? [dels, ...params] : params);
      return;
    }
    await db.query('BEGIN');
    try {
      if (dels.length) await db.query('DELETE FROM kv WHERE key = ANY($1::bytea[])', [dels]);
      for (const group of puts) await db.query(...insert(group, 1));
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /**
   * Writes submitted after this call wait until the snapshot's transaction has begun, so it sees
   * everything committed before and nothing after, as a LevelDB snapshot does. When every snapshot
   * connection is taken, writes do not wait (a view holder may be waiting on a write): that snapshot's
   * instant is when it gets a connection, still one instant for all of its reads.
   */
  snapshot(): EngineSnapshot {
    const pool = this.snapshots;
    const free = pool.idleCount > 0 || pool.totalCount < pool.options.max;
    const snapshot = new PgSnapshot(pool);
    if (free) {
      const started = snapshot.client.catch(() => {});
      this.writes = this.writes.then(() => started);
    }
    return snapshot;
  }

  /** A fresh writer connection (the old one may have died with the failed write). */
  async reopen(): Promise<void> {
    await this.writes;
    // The old connection's end releases the store lock; the new one takes it again.
    await this.writer.end().catch(() => {});
    const writer = await PostgresEngine.connectWriter(this.url);
    const { rows } = await writer.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [STORE_LOCK]);
    if (!rows[0]!.locked) {
      await writer.end().catch(() => {});
      throw new Error(`another Wren Mail server has taken the store (${this.location})`);
    }
    this.writer = writer;
  }

  async close(): Promise<void> {
    await this.writes;
    await Promise.all([this.writer.end(), this.readers.end(), this.snapshots.end()]);
  }

  // ---- Leases (issue 20): claims on queue jobs and webhook deliveries, through the read pool. ----
  private leaseTable: PgLeases | undefined;

  get leases(): EngineLeases {
    this.leaseTable ??= new PgLeases((fn) => fn(this.readers));
    return this.leaseTable;
  }
  // ---- end of leases ----
}

/**
 * Leases as rows of `leases(name, owner, expires_at)`. A claim is one atomic upsert: it inserts the row,
 * or takes it over when it is this owner's or has expired; a concurrent claim waits on the row lock and
 * then sees the winner's row, so exactly one owner holds a name at a time. Expiry is the database's
 * clock, so nodes with skewed clocks agree on it. Nodes are told apart by the owner string alone.
 */
class PgLeases implements EngineLeases {
  private readonly use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;
  private table: Promise<void> | undefined;

  constructor(use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>) {
    this.use = use;
  }

  /** Created on first use (every node may race to it: a lost race is a table that exists). */
  private ready(): Promise<void> {
    this.table ??= this.use(async (db) => {
      try {
        await db.query(
          'CREATE TABLE IF NOT EXISTS leases (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)',
        );
      } catch (err) {
        // Two CREATE … IF NOT EXISTS at once: the loser fails on the catalog's unique index.
        if ((err as { code?: string }).code !== '23505') throw err;
      }
    }).catch((err: Error) => {
      this.table = undefined;
      throw err;
    });
    return this.table;
  }

  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    await this.ready();
    const { rowCount } = await this.use((db) =>
      db.query(
        `INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
         ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
         WHERE leases.owner = EXCLUDED.owner OR leases.expires_at <= clock_timestamp()`,
        [name, owner, Math.max(1, Math.round(ttlMs))],
      ),
    );
    return rowCount === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    await this.ready();
    await this.use((db) => db.query('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner]));
  }
}

/** The URL without its password, for logs and metrics. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres';
  }
}
