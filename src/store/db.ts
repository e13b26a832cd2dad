import { EventEmitter } from 'node:events';
import { Committer, type Refresh, StoreConflictError, withRetries } from './committer.ts';
import { DirectoryCache } from './directory.ts';
import type { Engine, EngineReader, EngineSnapshot, RangeOptions } from './engine.ts';
import { LevelEngine } from './engines/leveldb.ts';
import { keys } from './keys.ts';
import { type Tx, decode } from './tx.ts';

export type { RangeOptions };

// After a write failure, writing this much (then deleting it) is the sign the store takes writes again.
const PROBE_BYTES = 256 * 1024;

/**
 * Typed reads, either of the live database or of one snapshot of it. Each call on the live
 * database sees its own instant; reads that must agree with each other (a message record and the
 * blob it points to) go through one snapshot, so a commit in between cannot split them.
 */
export class Reader {
  private readonly reader: EngineReader;

  constructor(reader: EngineReader) {
    this.reader = reader;
  }

  async get<T>(key: string): Promise<T | undefined> {
    return decode<T>(await this.reader.get(key));
  }

  getBytes(key: string): Promise<Buffer | undefined> {
    return this.reader.get(key);
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    return (await this.reader.getMany(keys)).map((v) => decode<T>(v));
  }

  async getManyBytes(keys: string[]): Promise<(Buffer | undefined)[]> {
    if (keys.length === 0) return [];
    return this.reader.getMany(keys);
  }

  // Range reads take the whole range at once: LevelDB hands it over in bulk, about 4x faster than an
  // await per record (a 10,000-message folder lists in ~30 ms instead of ~90 ms).
  async values<T>(range: RangeOptions): Promise<T[]> {
    return (await this.reader.values(range)).map((value) => decode<T>(value)!);
  }

  valuesBytes(range: RangeOptions): Promise<Buffer[]> {
    return this.reader.values(range);
  }

  async entries<T>(range: RangeOptions): Promise<[string, T][]> {
    return (await this.reader.entries(range)).map(([key, value]) => [key, decode<T>(value)!]);
  }

  keys(range: RangeOptions): Promise<string[]> {
    return this.reader.keys(range);
  }

  /** Raw entries of a range too big to hold at once (or one read until a condition stops it). */
  iterate(range: RangeOptions = {}): AsyncIterable<[string, Buffer]> {
    return this.reader.iterate(range);
  }
}

/** A Reader frozen at the moment it was taken; close() it when done (it holds back compaction). */
export class Snapshot extends Reader {
  private readonly snapshot: EngineSnapshot;

  constructor(snapshot: EngineSnapshot) {
    super(snapshot);
    this.snapshot = snapshot;
  }

  close(): Promise<void> {
    return this.snapshot.close();
  }
}

/** Storage shared by the repositories: typed reads and ordered, durable, grouped writes over an engine. */
export class Kv extends Reader {
  readonly engine: Engine;
  readonly committer: Committer;
  /** Accounts, domains, routes, teams, sieve scripts and their lists in memory, in step with every commit. */
  readonly directory: DirectoryCache;

  constructor(engine: Engine, groupCommit: boolean, directoryBytes?: number) {
    super(engine);
    this.engine = engine;
    this.committer = new Committer(engine, groupCommit);
    // On a shared store other nodes' directory writes arrive through the change feed (Store.foreignCommit).
    this.directory = new DirectoryCache(engine, directoryBytes);
    this.committer.onWritten((ops) => this.directory.apply(ops));
  }

  /** Shared store: reloads what a StoreConflictError names before an operation starts again (Store.refresh). */
  refresh?: Refresh;

  /** Runs a whole operation again from the top after a StoreConflictError (shared store, withRetries). */
  retrying<T>(fn: () => Promise<T>): Promise<T> {
    return withRetries(this.refresh, fn);
  }

  /**
   * Shared store: the batch is valid only if `key` holds no record when it commits (a name being
   * taken: an address, a domain). Another node taking it first makes the commit fail with a
   * StoreConflictError, and the operation's retry reads the record and refuses the name.
   */
  expectAbsent(tx: Tx, key: string): void {
    if (this.engine.shared) tx.expect(key, null);
  }

  /** A store on LevelDB in `dir`. */
  static async open(dir: string, groupCommit = true): Promise<Kv> {
    return new Kv(await LevelEngine.open(dir), groupCommit);
  }

  /** Everything committed so far, and nothing committed later, until the snapshot is closed. */
  snapshot(): Snapshot {
    return new Snapshot(this.engine.snapshot());
  }

  async commit(tx: Tx): Promise<void> {
    // Only a shared engine numbers records at commit; anywhere else they would be dropped.
    if (tx.sequenced.length && !this.engine.shared) throw new Error('Tx.sequence needs a shared store');
    if (tx.expected.size) await this.commitChecked(tx);
    else await this.committer.write(tx.ops, undefined, tx.sequenced.length ? { sequenced: tx.sequenced } : {});
    for (const fn of tx.afterCommit) fn();
  }

  // ---- shared store (docs/ARCHITECTURE.md §4.8): batches in flight per expected key ----

  /** Per expected key: this node's batches not yet settled that expect it. */
  private readonly pending = new Map<string, number>();
  /** Keys being reloaded: batches built on them now were built on what a conflict showed stale. */
  private readonly stale = new Set<string>();
  private readonly settled = new Map<string, (() => void)[]>();
  private readonly reloads = new Map<string, number>();

  /** How many times memory has reloaded `key` (a conflict older than the last reload needs no other). */
  generation(key: string): number {
    return this.reloads.get(key) ?? 0;
  }

  /**
   * Shared store: a batch built inside the commit's transaction from what is stored at `reads`
   * (locked); `build` runs there, synchronously, and returns the Tx. Its afterCommit callbacks are the
   * caller's to run, once it has announced what it learnt of other nodes' changes.
   */
  async commitBuilt(reads: string[], build: (stored: ReadonlyMap<string, Buffer>) => Tx): Promise<Tx> {
    let tx: Tx | undefined;
    await this.tracked(reads, false, () =>
      this.committer.write([], undefined, {
        reads,
        build: (stored) => {
          tx = build(stored);
          return tx;
        },
      }),
    );
    return tx!;
  }

  private commitChecked(tx: Tx): Promise<void> {
    return this.tracked([...tx.expected.keys()], true, () =>
      this.committer.write(tx.ops, tx.expected, { sequenced: tx.sequenced }),
    );
  }

  /** `failFast`: a batch built on memory being reloaded fails at once (a built one syncs in the transaction). */
  private async tracked(keys: string[], failFast: boolean, write: () => Promise<void>): Promise<void> {
    const generations = new Map(keys.map((key) => [key, this.generation(key)]));
    const stale = failFast ? keys.filter((key) => this.stale.has(key)) : [];
    if (stale.length) {
      // Fails fast: its reload is under way (and counts as the one this conflict needs).
      const conflict = new StoreConflictError(stale);
      for (const key of stale) generations.set(key, this.generation(key) - 1);
      conflict.generations = generations;
      throw conflict;
    }
    for (const key of keys) this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    try {
      await write();
    } catch (err) {
      if (err instanceof StoreConflictError) err.generations = generations;
      throw err;
    } finally {
      for (const key of keys) {
        const left = this.pending.get(key)! - 1;
        if (left > 0) {
          this.pending.set(key, left);
          continue;
        }
        this.pending.delete(key);
        for (const wake of this.settled.get(key)?.splice(0) ?? []) wake();
      }
    }
  }

  /**
   * Before memory reloads `key` after a conflict: new batches expecting it fail at once, and this
   * waits until this node's batches in flight on it have settled (built on the stale chain, they
   * fail; reloading before they do would let them undo the reload). Call the returned function right
   * after memory took the stored value, with no await in between.
   */
  async quiesce(key: string): Promise<() => void> {
    this.stale.add(key);
    while (this.pending.has(key)) {
      await new Promise<void>((wake) => {
        let waiting = this.settled.get(key);
        if (!waiting) this.settled.set(key, (waiting = []));
        waiting.push(wake);
      });
    }
    return () => {
      this.stale.delete(key);
      this.reloads.set(key, this.generation(key) + 1);
    };
  }

  /**
   * Makes the database writable again after a failed write: the engine reopens (LevelDB: a fresh log),
   * then a durable probe write shows there is room again.
   */
  async reopen(): Promise<void> {
    await this.engine.reopen();
    await this.engine.batch([{ type: 'put', key: keys.writeProbe(), value: Buffer.alloc(PROBE_BYTES) }]);
    await this.engine.batch([{ type: 'del', key: keys.writeProbe() }]);
  }

  async close(): Promise<void> {
    this.committer.stop();
    await this.committer.drain();
    await this.engine.close();
  }
}

/** In-process change notifications, emitted only after the change is durable. */
export class Notifier extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}
