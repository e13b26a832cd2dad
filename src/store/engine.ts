// The storage engine under the repositories (docs/ARCHITECTURE.md §4.8): an ordered key-value space of
// UTF-8 string keys (compared byte-wise) and byte values, with atomic durable batches and snapshots.
// Everything above it (typed reads, group commit, in-memory counters, notifications) is engine-neutral.
import type { Op, Sequenced } from './tx.ts';

/**
 * A read failed for a reason that passes (the database is unreachable, restarting or out of
 * connections): nothing was changed, and the client is told to try again (IMAP NO [UNAVAILABLE],
 * SMTP 451 4.3.0, API 503), as for a refused write.
 */
export class StoreReadError extends Error {
  override readonly cause: Error;
  constructor(cause: Error) {
    super(`store is temporarily unreadable: ${cause.message}`);
    this.cause = cause;
  }
}

/** A key range: bounds compare in byte order of the keys' UTF-8 encoding. */
export interface RangeOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  limit?: number;
  reverse?: boolean;
}

/** Reads of the live keyspace (each call sees its own instant) or of one snapshot (all see one). */
export interface EngineReader {
  get(key: string): Promise<Buffer | undefined>;
  /** One value (or undefined) per key, in the order asked. */
  getMany(keys: string[]): Promise<(Buffer | undefined)[]>;
  /** A whole range at once, in key order (reverse: descending). */
  keys(range: RangeOptions): Promise<string[]>;
  values(range: RangeOptions): Promise<Buffer[]>;
  entries(range: RangeOptions): Promise<[string, Buffer][]>;
  /** A range too big to hold at once, in pages; stopping early (break) releases it. */
  iterate(range: RangeOptions): AsyncIterable<[string, Buffer]>;
}

/** A reader frozen at one instant; close() it when done (it holds resources: compaction, a connection). */
export interface EngineSnapshot extends EngineReader {
  close(): Promise<void>;
}

/**
 * Time-bounded claims on named work (a queue job, a webhook delivery), so that of several nodes on one
 * database exactly one runs it, and a dead node's claims lapse when their time is up (issue 20).
 */
export interface EngineLeases {
  /**
   * Claims `name` for `owner` for `ttlMs` (extending it when `owner` holds it already). False while
   * another owner holds a lease on it that has not expired; an expired one is taken over.
   */
  acquire(name: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives up `owner`'s lease on `name` (another owner's is left alone). */
  release(name: string, owner: string): Promise<void>;
}

/** At most `limit` events within `windowMs` before the time of the one being counted. */
export interface WindowCap {
  limit: number;
  windowMs: number;
}

/**
 * Sliding windows of timed events per name (login failures, messages sent), counted and added
 * atomically where every node sees them: on a shared store one node's count is every node's (issue 20).
 * Times are milliseconds of the caller's clock; an event is kept `keepMs` after its time, then dropped.
 */
export interface EngineWindows {
  /** Records one event at `at` under each name, unconditionally (a failure happened). */
  hit(names: string[], at: number, keepMs: number): Promise<void>;
  /**
   * Under the name's lock: when every cap has room at `at`, records one event there. Returns whether
   * it did, and the times (ascending) of the name's events kept, including that one.
   */
  take(name: string, at: number, keepMs: number, caps: WindowCap[]): Promise<{ taken: boolean; times: number[] }>;
  /** The times (ascending) of each name's events after `since`, in the order asked. */
  times(names: string[], since: number): Promise<number[][]>;
  /** Removes one event of `name` at `at` (a count given back), or all of its events (a reset). */
  remove(name: string, at?: number): Promise<void>;
  /**
   * Under the name's lock: records up to `want` events at `at`, as many as keep the name's events
   * after `since` within `limit` (a node's share of a limit reserved ahead, so the nodes together never
   * pass it). Returns how many it recorded and the name's count after `since` with them.
   */
  reserve(
    name: string,
    since: number,
    at: number,
    keepMs: number,
    limit: number,
    want: number,
  ): Promise<{ granted: number; count: number }>;
}

/** One batch of a group commit on a shared engine, with what it expects to find (Tx.expected). */
export interface CheckedBatch {
  ops: Op[];
  expected: ReadonlyMap<string, Buffer | null>;
  /** Records that take the next values of a sequence when the batch commits, in commit order (Tx.sequence). */
  sequenced?: readonly Sequenced[];
  /**
   * A batch built inside the transaction: `reads` are locked and read first, then `build` makes the
   * ops from what is stored (a delivery takes the next UID of the folder as stored: it never
   * conflicts). What it expects must be among `reads`.
   */
  reads?: string[];
  build?: (stored: ReadonlyMap<string, Buffer>) => {
    ops: Op[];
    expected: ReadonlyMap<string, Buffer | null>;
    sequenced?: readonly Sequenced[];
  };
}

/**
 * What an engine several servers share offers besides Engine (docs/ARCHITECTURE.md §4.8): optimistic
 * concurrency on commit, blocks of global sequences, and a change feed from the other servers.
 */
export interface SharedEngine {
  /**
   * Commits, in one durable transaction, every batch whose expectations hold (checked in order, each
   * against the database plus the batches accepted before it); per batch, null (committed) or the
   * keys found changed, or the error its `build` threw (nothing of it written).
   */
  commitChecked(batches: CheckedBatch[]): Promise<(string[] | Error | null)[]>;
  /** Reserves `count` values of the sequence stored at `key` (at least `atLeast`); returns the last. */
  reserve(key: string, count: number, atLeast?: number): Promise<number>;
  /**
   * Calls `onChange` with what other servers committed: `+f/…` written, `-f/…` deleted, `~key` directory,
   * `!key` a sequence taken at commit (new records numbered by it), `^fm/…` full-text runs, `*` anything.
   */
  watch(onChange: (keys: string[]) => void): void;
}

export interface Engine extends EngineReader {
  readonly kind: 'leveldb' | 'postgres';
  /** Where the data lives, for logs and metrics (a directory, or a URL without its password). */
  readonly location: string;
  /** The data directory when the engine keeps one on this machine (metrics measure its size). */
  readonly directory: string | undefined;
  /** Set when several servers share the store (`[store] shared`): then every commit goes through it. */
  readonly shared?: SharedEngine;
  /** Applies every op or none, durably (fsync / synchronous commit) before resolving. */
  batch(ops: Op[]): Promise<void>;
  /** Everything committed so far and nothing committed later, until closed. */
  snapshot(): EngineSnapshot;
  /** Leases on work: in memory for LevelDB (one process is the only node), a table for PostgreSQL. */
  readonly leases: EngineLeases;
  /** Counted windows: in memory for LevelDB (one process counts for the store), a table for PostgreSQL. */
  readonly windows: EngineWindows;
  /** After a failed write: make the engine able to write again (or reject while it cannot). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}
