import { mkdirSync, statfsSync } from 'node:fs';
import { Level } from 'level';
import type {
  Engine,
  EngineLeases,
  EngineReader,
  EngineSnapshot,
  EngineWindows,
  RangeOptions,
  WindowCap,
} from '../engine.ts';
import type { Op } from '../tx.ts';

type Db = Level<string, Buffer>;
type LevelSnapshot = ReturnType<Db['snapshot']>;

// Reopening only helps with room for a new log and table: until then reads go on.
const REOPEN_FREE_BYTES = 2 * 1024 * 1024;

/** Reads of the live database, or of one LevelDB snapshot when `options` carries it. */
class LevelReader implements EngineReader {
  protected readonly db: Db;
  private readonly options: { snapshot?: LevelSnapshot };

  constructor(db: Db, snapshot?: LevelSnapshot) {
    this.db = db;
    this.options = snapshot ? { snapshot } : {};
  }

  get(key: string): Promise<Buffer | undefined> {
    return this.db.get(key, this.options);
  }

  getMany(keys: string[]): Promise<(Buffer | undefined)[]> {
    return this.db.getMany(keys, this.options);
  }

  // all(): LevelDB hands over the range in bulk, about 4x faster than an await per record.
  keys(range: RangeOptions): Promise<string[]> {
    return this.db.keys({ ...range, ...this.options }).all();
  }

  values(range: RangeOptions): Promise<Buffer[]> {
    return this.db.values({ ...range, ...this.options }).all();
  }

  entries(range: RangeOptions): Promise<[string, Buffer][]> {
    return this.db.iterator({ ...range, ...this.options }).all();
  }

  iterate(range: RangeOptions): AsyncIterable<[string, Buffer]> {
    return this.db.iterator({ ...range, ...this.options });
  }
}

class LevelSnapshotReader extends LevelReader implements EngineSnapshot {
  private readonly snapshot: LevelSnapshot;

  constructor(db: Db, snapshot: LevelSnapshot) {
    super(db, snapshot);
    this.snapshot = snapshot;
  }

  close(): Promise<void> {
    return this.snapshot.close();
  }
}

/**
 * Leases in this process's memory: LevelDB's lock file makes the process the only node, so claims
 * only have to exclude the runners inside it (each with its own owner id).
 */
export class MemoryLeases implements EngineLeases {
  private readonly held = new Map<string, { owner: string; expiresAt: number }>();

  async acquire(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const lease = this.held.get(name);
    if (lease && lease.owner !== owner && lease.expiresAt > now) return false;
    this.held.set(name, { owner, expiresAt: now + ttlMs });
    return true;
  }

  async release(name: string, owner: string): Promise<void> {
    if (this.held.get(name)?.owner === owner) this.held.delete(name);
  }
}

/**
 * Counted windows in this process's memory: with LevelDB the process is the only node, so its count is
 * the store's. (The login throttles and send budgets keep their own memory on a store of one node and
 * use this only through the interface; a restart forgets it, as it forgets the throttles.)
 */
export class MemoryWindows implements EngineWindows {
  private readonly events = new Map<string, { at: number; until: number }[]>();

  private kept(name: string, now: number): { at: number; until: number }[] {
    const list = (this.events.get(name) ?? []).filter((e) => e.until > now);
    if (list.length) this.events.set(name, list);
    else this.events.delete(name);
    return list;
  }

  private add(name: string, at: number, keepMs: number): void {
    const list = this.kept(name, at);
    list.push({ at, until: at + keepMs });
    list.sort((x, y) => x.at - y.at);
    this.events.set(name, list);
  }

  async hit(names: string[], at: number, keepMs: number): Promise<void> {
    for (const name of names) this.add(name, at, keepMs);
  }

  async take(name: string, at: number, keepMs: number, caps: WindowCap[]) {
    const full = caps.some((cap) => this.kept(name, at).filter((e) => at - e.at < cap.windowMs).length >= cap.limit);
    if (!full) this.add(name, at, keepMs);
    return { taken: !full, times: this.kept(name, at).map((e) => e.at) };
  }

  async reserve(name: string, since: number, at: number, keepMs: number, limit: number, want: number) {
    const count = this.kept(name, at).filter((e) => e.at > since).length;
    const granted = Math.max(0, Math.min(want, limit - count));
    for (let i = 0; i < granted; i++) this.add(name, at, keepMs);
    return { granted, count: count + granted };
  }

  async times(names: string[], since: number): Promise<number[][]> {
    return names.map((name) => (this.events.get(name) ?? []).filter((e) => e.at > since).map((e) => e.at));
  }

  async remove(name: string, at?: number): Promise<void> {
    if (at === undefined) return void this.events.delete(name);
    const list = this.events.get(name) ?? [];
    const i = list.findIndex((e) => e.at === at);
    if (i >= 0) list.splice(i, 1);
  }
}

/** LevelDB through `level` (classic-level): one directory, a lock file keeps other processes out. */
export class LevelEngine extends LevelReader implements Engine {
  readonly kind = 'leveldb';
  readonly leases: EngineLeases = new MemoryLeases();
  readonly windows: EngineWindows = new MemoryWindows();

  static async open(dir: string): Promise<LevelEngine> {
    mkdirSync(dir, { recursive: true });
    const db: Db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    return new LevelEngine(db);
  }

  /** The `level` handle itself, for benchmarks that measure LevelDB (approximateSize). */
  get raw(): Db {
    return this.db;
  }

  get location(): string {
    return this.db.location;
  }

  get directory(): string {
    return this.db.location;
  }

  batch(ops: Op[]): Promise<void> {
    return this.db.batch(ops as never, { sync: true });
  }

  snapshot(): EngineSnapshot {
    return new LevelSnapshotReader(this.db, this.db.snapshot());
  }

  /**
   * Reopening starts a fresh log: a torn record of the failed batch stays at the old log's tail, where
   * recovery drops it, and is never followed by acknowledged records.
   */
  async reopen(): Promise<void> {
    const { bavail, bsize } = statfsSync(this.db.location);
    if (bavail * bsize < REOPEN_FREE_BYTES)
      throw new Error(`still no space where the store is (${bavail * bsize} bytes free)`);
    await this.db.close();
    await this.db.open();
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
