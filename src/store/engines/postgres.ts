import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import {
  type CheckedBatch,
  type Engine,
  type EngineLeases,
  type EngineReader,
  type EngineSnapshot,
  type EngineWindows,
  type RangeOptions,
  type SharedEngine,
  StoreReadError,
  type WindowCap,
} from '../engine.ts';
import { isDirectoryKey } from '../directory.ts';
import { totalsScope } from '../spam.ts';
import type { Op, Sequenced } from '../tx.ts';

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
  /** Several servers share the database (`[store] shared`): no store lock; checked commits, a change feed. */
  shared?: boolean;
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

/**
 * Whether a failed query may succeed later: no server or connection (a network error, pg's
 * "Connection terminated"), or SQLSTATE class 08 connection exception, 53 insufficient resources,
 * 57 operator intervention (57P01 admin shutdown, 57P03 cannot connect now) or 58 system error.
 * Anything else (a wrong query) is a bug and stays what it is.
 */
function passing(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (!(err instanceof pg.DatabaseError)) return true;
  return ['08', '53', '57', '58'].includes(err.code?.slice(0, 2) ?? '');
}

/** Reads through `use`, which lends a connection (the pool's, or the snapshot's own). */
class PgReader implements EngineReader {
  protected readonly use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;

  constructor(use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>) {
    // A read the database cannot answer now is a temporary refusal, not a server bug (RFC 5530 3).
    this.use = (fn) =>
      use(fn).catch((err: unknown) => {
        throw passing(err) ? new StoreReadError(err as Error) : err;
      });
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
export class PostgresEngine extends PgReader implements Engine, SharedEngine {
  readonly kind = 'postgres';
  readonly shared: SharedEngine | undefined;
  readonly location: string;
  readonly directory = undefined;
  private readonly url: string;
  private readonly readers: pg.Pool;
  private readonly snapshots: pg.Pool;
  private writer: pg.Client;
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(url: string, readers: pg.Pool, snapshots: pg.Pool, writer: pg.Client, shared: boolean) {
    super((fn) => fn(readers));
    this.shared = shared ? this : undefined;
    this.url = url;
    this.location = redact(url);
    this.readers = readers;
    this.snapshots = snapshots;
    this.writer = writer;
  }

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresEngine> {
    const readers = new pg.Pool({ connectionString: url, max: options.readers ?? 8, Client: ListeningClient });
    const snapshots = new pg.Pool({ connectionString: url, max: options.snapshots ?? 16, Client: ListeningClient });
    // An idle connection that dies is replaced on next use; without a listener it would crash the process.
    for (const pool of [readers, snapshots]) pool.on('error', () => {});
    const writer = await PostgresEngine.connectWriter(url);
    const shared = options.shared ?? false;
    try {
      await PostgresEngine.lockStore(writer, shared, `another Wren Mail server has the store open (${redact(url)})`);
      await writer
        .query('CREATE TABLE IF NOT EXISTS kv (key bytea PRIMARY KEY, value bytea NOT NULL)')
        .catch(ifNotConcurrentCreate);
    } catch (err) {
      await Promise.all([writer.end(), readers.end(), snapshots.end()]).catch(() => {});
      throw err;
    }
    return new PostgresEngine(url, readers, snapshots, writer, shared);
  }

  /**
   * One server per database, as LevelDB's lock file has it, unless the servers share it: a single
   * server holds STORE_LOCK exclusively; shared servers hold it shared, so neither kind can join the
   * other (a single server's memory of §4.5 is not checked against anyone's writes).
   */
  private static async lockStore(writer: pg.Client, shared: boolean, refused: string): Promise<void> {
    const lock = shared ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
    const { rows } = await writer.query<{ locked: boolean }>(`SELECT ${lock}($1) AS locked`, [STORE_LOCK]);
    if (!rows[0]!.locked) throw new Error(refused);
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
    try {
      await PostgresEngine.lockStore(
        writer,
        !!this.shared,
        `another Wren Mail server has taken the store (${this.location})`,
      );
    } catch (err) {
      await writer.end().catch(() => {});
      throw err;
    }
    this.writer = writer;
  }

  async close(): Promise<void> {
    await this.writes;
    this.closing = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    await Promise.all([this.writer.end(), this.readers.end(), this.snapshots.end(), this.listener?.end()]);
  }

  // ---- shared store (issue 20, docs/ARCHITECTURE.md §4.8): checked commits, sequences, change feed ----

  /** Tells this node's notes from the others' on the shared channel. */
  private readonly node = randomBytes(6).toString('hex');
  private listener: pg.Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closing = false;

  commitChecked(batches: CheckedBatch[]): Promise<(string[] | Error | null)[]> {
    const run = this.writes.then(() => this.writeChecked(batches));
    this.writes = run.catch(() => {});
    return run;
  }

  /**
   * One transaction: lock every expected key (advisory locks, in one global order, so two nodes never
   * deadlock, and a key that has no row yet is locked too), read them, keep the batches whose
   * expectations hold (each seeing the ones kept before it), write those, and NOTIFY the other nodes
   * of the folders written, which LISTEN sees only once this commits.
   */
  private async writeChecked(batches: CheckedBatch[]): Promise<(string[] | Error | null)[]> {
    const expectedSet = new Set(batches.flatMap((b) => [...b.expected.keys(), ...(b.reads ?? [])]));
    const expectedKeys = [...expectedSet];
    const db = this.writer;
    await db.query('BEGIN');
    try {
      const current = new Map<string, Buffer>();
      if (expectedKeys.length) {
        const locks = [...new Set(expectedKeys.map(lockId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        await db.query('SELECT pg_advisory_xact_lock(l) FROM unnest($1::bigint[]) AS l', [locks.map(String)]);
        const { rows } = await db.query<{ key: Buffer; value: Buffer }>(
          'SELECT key, value FROM kv WHERE key = ANY($1::bytea[])',
          [expectedKeys.map(toKey)],
        );
        for (const row of rows) current.set(row.key.toString('utf8'), row.value);
      }
      const results: (string[] | Error | null)[] = [];
      const accepted: Op[] = [];
      const sequenced: Sequenced[] = [];
      for (const batch of batches) {
        let { ops, expected, sequenced: numbered } = batch;
        if (batch.build) {
          try {
            ({ ops, expected, sequenced: numbered } = batch.build(current));
          } catch (err) {
            results.push(err as Error);
            continue;
          }
          const unread = [...expected.keys()].filter((key) => !expectedSet.has(key));
          if (unread.length) {
            results.push(unread);
            continue;
          }
        }
        const stale = [...expected].filter(([key, value]) => !sameBytes(current.get(key), value)).map(([k]) => k);
        results.push(stale.length ? stale : null);
        if (stale.length) continue;
        if (numbered) sequenced.push(...numbered);
        for (const op of ops) {
          accepted.push(op);
          if (!expectedSet.has(op.key)) continue;
          if (op.type === 'put') current.set(op.key, op.value);
          else current.delete(op.key);
        }
      }
      if (accepted.length) {
        // Rows in key order: two nodes writing overlapping keys take their row locks in one order.
        await this.writeOps(
          db,
          [...lastOps(accepted)].sort((a, b) => Buffer.compare(toKey(a.key), toKey(b.key))),
        );
      }
      // Last, so the sequence's lock is held only for these rows and the commit itself.
      if (sequenced.length) accepted.push(...(await this.writeSequenced(db, sequenced)));
      if (accepted.length)
        for (const payload of notes(this.node, accepted, sequenced))
          await db.query("SELECT pg_notify('wren_changes', $1)", [payload]);
      await db.query('COMMIT');
      return results;
    } catch (err) {
      await db.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }

  /**
   * Numbers the records of Tx.sequence inside the commit's transaction: the sequence's advisory lock
   * is held until COMMIT, so the next transaction to take it reads the value this one stored, and
   * values are in commit order across nodes (a reader of the range sees a gap-free prefix). Nothing
   * else is locked after it, and its rows are new keys, so it waits on no other transaction.
   */
  private async writeSequenced(db: pg.Client, items: Sequenced[]): Promise<Op[]> {
    const names = [...new Set(items.map((item) => item.key))];
    const locks = [...new Set(names.map(lockId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    await db.query('SELECT pg_advisory_xact_lock(l) FROM unnest($1::bigint[]) AS l', [locks.map(String)]);
    const { rows } = await db.query<{ key: Buffer; value: Buffer }>(
      'SELECT key, value FROM kv WHERE key = ANY($1::bytea[])',
      [names.map(toKey)],
    );
    const values = new Map(names.map((name) => [name, 0]));
    for (const row of rows) values.set(row.key.toString('utf8'), Number(row.value.toString('utf8')));
    const ops: Op[] = [];
    for (const item of items) {
      const value = values.get(item.key)! + 1;
      values.set(item.key, value);
      ops.push(...item.build(value));
    }
    for (const [name, value] of values) ops.push({ type: 'put', key: name, value: Buffer.from(JSON.stringify(value)) });
    await this.writeOps(
      db,
      [...lastOps(ops)].sort((a, b) => Buffer.compare(toKey(a.key), toKey(b.key))),
    );
    return ops;
  }

  /** Puts and deletes inside the caller's transaction. */
  private async writeOps(db: pg.Client, ops: Op[]): Promise<void> {
    const dels = ops.filter((op) => op.type === 'del').map((op) => toKey(op.key));
    if (dels.length) await db.query('DELETE FROM kv WHERE key = ANY($1::bytea[])', [dels]);
    let keys: Buffer[] = [];
    let values: Buffer[] = [];
    let bytes = 0;
    const flush = async (): Promise<void> => {
      if (!keys.length) return;
      await db.query(
        'INSERT INTO kv (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ' +
          'ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [keys, values],
      );
      keys = [];
      values = [];
      bytes = 0;
    };
    for (const op of ops) {
      if (op.type !== 'put') continue;
      if (keys.length && (bytes + op.value.length > INSERT_BYTES || keys.length === INSERT_ROWS)) await flush();
      keys.push(toKey(op.key));
      values.push(op.value);
      bytes += op.value.length;
    }
    await flush();
  }

  /** The stored counter at `key` goes up by `count` (from at least `atLeast - 1`), under the key's lock. */
  async reserve(key: string, count: number, atLeast = 0): Promise<number> {
    return lockedTransaction(this.readers, key, async (client) => {
      const { rows } = await client.query<{ value: Buffer }>('SELECT value FROM kv WHERE key = $1', [toKey(key)]);
      const stored = rows[0] ? Number(rows[0].value.toString('utf8')) : 0;
      const end = Math.max(stored, atLeast - 1) + count;
      await client.query(
        'INSERT INTO kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value',
        [toKey(key), Buffer.from(JSON.stringify(end))],
      );
      return end;
    });
  }

  /** LISTEN on a connection of its own; when it drops, it comes back and reports `*` (notes may be lost). */
  watch(onChange: (keys: string[]) => void): void {
    const connect = async (again: boolean): Promise<void> => {
      const listener = new pg.Client({ connectionString: this.url });
      listener.on('error', () => {});
      listener.on('end', () => {
        if (this.closing || this.listener !== listener) return;
        this.listenRetry = setTimeout(() => void connect(true).catch(retry), 500);
      });
      listener.on('notification', (note) => {
        const [node, ...changed] = (note.payload ?? '').split(' ');
        if (node !== this.node && changed.length) onChange(changed);
      });
      this.listener = listener;
      await listener.connect();
      await listener.query('LISTEN wren_changes');
      if (again) onChange(['*']);
    };
    const retry = (): void => {
      if (!this.closing) this.listenRetry = setTimeout(() => void connect(true).catch(retry), 1000);
    };
    void connect(false).catch(retry);
  }

  // ---- Leases (issue 20): claims on queue jobs and webhook deliveries, through the read pool. ----
  private leaseTable: PgLeases | undefined;

  get leases(): EngineLeases {
    this.leaseTable ??= new PgLeases((fn) => fn(this.readers));
    return this.leaseTable;
  }
  // ---- end of leases ----

  private windowTable: PgWindows | undefined;

  get windows(): EngineWindows {
    this.windowTable ??= new PgWindows((fn) => fn(this.readers), this.readers);
    return this.windowTable;
  }
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

  private ready(): Promise<void> {
    this.table ??= createTable(
      this.use,
      'CREATE TABLE IF NOT EXISTS leases (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL)',
    ).catch((err: Error) => {
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

/** Created on first use (every node may race to it: a lost race is a table that exists). */
const CONCURRENT_CREATE = new Set(['23505', '42710', '42P07']);

/**
 * Rethrows all but the error of losing a race of two CREATE … IF NOT EXISTS (two nodes starting on a
 * fresh database): the loser fails on the catalog's unique index (23505) or finds the other's table
 * or row type made meanwhile (42P07 duplicate_table, 42710 duplicate_object). The table is there.
 */
function ifNotConcurrentCreate(err: Error & { code?: string }): void {
  if (!CONCURRENT_CREATE.has(err.code ?? '')) throw err;
}

async function createTable(use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>, ...sql: string[]) {
  await use(async (db) => {
    for (const statement of sql) {
      await db.query(statement).catch(ifNotConcurrentCreate);
    }
  });
}

// Expired events are deleted by every this-many-th hit (a name that is never counted again is not
// left behind); a name's own expired events go whenever it is taken from.
const WINDOW_PRUNE_EVERY = 200;

/**
 * Counted windows as rows of `windows(name, at, until)`: every node inserts and counts in one table,
 * so a login failure or a message sent through any node counts on all of them. `take` serialises on
 * a transaction advisory lock per name, so two nodes cannot both take the last slot.
 */
class PgWindows implements EngineWindows {
  private readonly use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>;
  private readonly pool: pg.Pool;
  private table: Promise<void> | undefined;
  private hits = 0;

  constructor(use: <T>(fn: (db: Queryable) => Promise<T>) => Promise<T>, pool: pg.Pool) {
    this.use = use;
    this.pool = pool;
  }

  private ready(): Promise<void> {
    this.table ??= createTable(
      this.use,
      'CREATE TABLE IF NOT EXISTS windows (name text NOT NULL, at bigint NOT NULL, until bigint NOT NULL)',
      'CREATE INDEX IF NOT EXISTS windows_name_at ON windows (name, at)',
    ).catch((err: Error) => {
      this.table = undefined;
      throw err;
    });
    return this.table;
  }

  async hit(names: string[], at: number, keepMs: number): Promise<void> {
    await this.ready();
    const prune = ++this.hits % WINDOW_PRUNE_EVERY === 0;
    await this.use((db) =>
      db.query(
        (prune ? 'WITH gone AS (DELETE FROM windows WHERE until <= $2) ' : '') +
          'INSERT INTO windows (name, at, until) SELECT unnest($1::text[]), $2, $3',
        [names, at, at + keepMs],
      ),
    );
  }

  async take(name: string, at: number, keepMs: number, caps: WindowCap[]) {
    await this.ready();
    return lockedTransaction(this.pool, `window/${name}`, async (client) => {
      await client.query('DELETE FROM windows WHERE name = $1 AND until <= $2', [name, at]);
      const { rows } = await client.query<{ at: string }>('SELECT at FROM windows WHERE name = $1 ORDER BY at', [name]);
      const times = rows.map((row) => Number(row.at));
      const taken = !caps.some((cap) => times.filter((t) => at - t < cap.windowMs).length >= cap.limit);
      if (taken) {
        await client.query('INSERT INTO windows (name, at, until) VALUES ($1, $2, $3)', [name, at, at + keepMs]);
        times.push(at);
        times.sort((x, y) => x - y);
      }
      return { taken, times };
    });
  }

  async reserve(name: string, since: number, at: number, keepMs: number, limit: number, want: number) {
    await this.ready();
    return lockedTransaction(this.pool, `window/${name}`, async (client) => {
      const { rows } = await client.query<{ count: string }>(
        'SELECT count(*) AS count FROM windows WHERE name = $1 AND at > $2',
        [name, since],
      );
      const count = Number(rows[0]!.count);
      const granted = Math.max(0, Math.min(want, limit - count));
      if (granted)
        await client.query('INSERT INTO windows (name, at, until) SELECT $1, $2, $3 FROM generate_series(1, $4)', [
          name,
          at,
          at + keepMs,
          granted,
        ]);
      return { granted, count: count + granted };
    });
  }

  async times(names: string[], since: number): Promise<number[][]> {
    await this.ready();
    const { rows } = await this.use((db) =>
      db.query<{ name: string; times: string[] }>(
        'SELECT name, array_agg(at ORDER BY at) AS times FROM windows WHERE name = ANY($1::text[]) AND at > $2 GROUP BY name',
        [names, since],
      ),
    );
    const found = new Map(rows.map((row) => [row.name, row.times.map(Number)]));
    return names.map((name) => found.get(name) ?? []);
  }

  async remove(name: string, at?: number): Promise<void> {
    await this.ready();
    await this.use((db) =>
      at === undefined
        ? db.query('DELETE FROM windows WHERE name = $1', [name])
        : db.query('DELETE FROM windows WHERE ctid IN (SELECT ctid FROM windows WHERE name = $1 AND at = $2 LIMIT 1)', [
            name,
            at,
          ]),
    );
  }
}

const ignore = (): void => {};

/**
 * The pools' clients. A client checked out of a pool is no longer the pool's to listen to, and pg
 * emits a connection dropped between two queries (a database restart: 57P01) as 'error' on the
 * client; unheard, that ends the process (a node died in `e2e/store-shared-failures`' restart, about
 * one run in four, whatever code held the client). Heard here, the drop fails the next query instead,
 * and the pool replaces the client when it is released with that error.
 */
class ListeningClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    this.on('error', ignore);
  }
}

/**
 * `fn` in a transaction of its own on a client checked out of `pool`, under the transaction advisory
 * lock of `lockKey`, committed with synchronous_commit on.
 */
async function lockedTransaction<T>(
  pool: pg.Pool,
  lockKey: string,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [String(lockId(lockKey))]);
    const result = await fn(client);
    await client.query('SET LOCAL synchronous_commit = on');
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = err as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release(failed);
  }
}

/** A 64-bit advisory lock id per key (a collision only makes two keys wait for each other). */
function lockId(key: string): bigint {
  return createHash('sha256').update(key).digest().readBigInt64BE(0);
}

const sameBytes = (stored: Buffer | undefined, expected: Buffer | null): boolean =>
  expected === null ? stored === undefined : stored?.equals(expected) === true;

/** The last op per key, as a LevelDB batch applies them. */
function lastOps(ops: Op[]): Iterable<Op> {
  const last = new Map<string, Op>();
  for (const op of ops) last.set(op.key, op);
  return last.values();
}

// NOTIFY payloads must stay under 8,000 bytes.
const NOTE_BYTES = 7000;

/**
 * The folders a commit wrote (`+f/…`) or deleted (`-f/…`), the directory keys (`~key`), full-text run
 * maps (`^fm/…`) and the sequences taken at commit (`!key`), after this node's id, in notes small enough.
 */
function notes(node: string, ops: Op[], sequenced: readonly Sequenced[]): string[] {
  const changed = new Map<string, string>();
  for (const item of sequenced) changed.set(`!${item.key}`, `!${item.key}`);
  for (const op of ops) {
    if (op.key.startsWith('f/')) changed.set(op.key, (op.type === 'put' ? '+' : '-') + op.key);
    // Records other nodes cache: the directory, API keys (another node's revocation must end this node's
    // sessions and cached checks) and a Bayes model's totals (SpamCounts.forgetTotals).
    else if (isDirectoryKey(op.key) || op.key.startsWith('k/') || totalsScope(op.key) !== undefined)
      changed.set(op.key, `~${op.key}`);
    else if (op.key.startsWith('fm/')) changed.set(op.key, `^${op.key}`);
  }
  const out: string[] = [];
  let note = node;
  for (const item of changed.values()) {
    if (note.length + item.length + 1 > NOTE_BYTES) {
      out.push(note);
      note = node;
    }
    note += ` ${item}`;
  }
  if (note !== node) out.push(note);
  return out;
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
