/** One write of a batch, as LevelDB's batch() takes it. */
export type Op = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

/** A record whose sequence value is taken at commit (Tx.sequence). */
export interface Sequenced {
  key: string;
  build: (value: number) => Op[];
}

/**
 * The ops of one atomic write, built synchronously (so in-memory counters and the batch agree), then
 * committed with Store.commit. `afterCommit` callbacks run once the batch is durable: notifications
 * to sessions and streams must never announce something the disk does not have.
 */
export class Tx {
  readonly ops: Op[] = [];
  readonly afterCommit: (() => void)[] = [];
  /**
   * Shared engines only (docs/ARCHITECTURE.md §4.8): key → the bytes (null: no record) this batch was
   * derived from. The commit fails with StoreConflictError when another node changed one of them.
   */
  readonly expected = new Map<string, Buffer | null>();
  /**
   * Shared engines only (§4.8): records that take the next value of a sequence at commit, under the
   * sequence's lock, so the values are in commit order across nodes (the event log).
   */
  readonly sequenced: Sequenced[] = [];

  put(key: string, value: unknown): void {
    this.ops.push({ type: 'put', key, value: Buffer.from(JSON.stringify(value)) });
  }

  putBytes(key: string, value: Buffer): void {
    this.ops.push({ type: 'put', key, value });
  }

  del(key: string): void {
    this.ops.push({ type: 'del', key });
  }

  /** The first expectation on a key wins: later ones in the same batch were derived from this batch's own writes. */
  expect(key: string, value: Buffer | null): void {
    if (!this.expected.has(key)) this.expected.set(key, value);
  }

  /** At commit, `build` gets the next value of the sequence stored at `key` and makes the ops that use it. */
  sequence(key: string, build: (value: number) => Op[]): void {
    this.sequenced.push({ key, build });
  }

  onCommit(fn: () => void): void {
    this.afterCommit.push(fn);
  }
}

export const decode = <T>(value: Buffer | undefined): T | undefined =>
  value === undefined ? undefined : (JSON.parse(value.toString('utf8')) as T);
