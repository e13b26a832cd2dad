/** One write of a batch, as LevelDB's batch() takes it. */
export type Op = { type: 'put'; key: string; value: Buffer } | { type: 'del'; key: string };

/**
 * The ops of one atomic write, built synchronously (so in-memory counters and the batch agree), then
 * committed with Store.commit. `afterCommit` callbacks run once the batch is durable: notifications
 * to sessions and streams must never announce something the disk does not have.
 */
export class Tx {
  readonly ops: Op[] = [];
  readonly afterCommit: (() => void)[] = [];

  put(key: string, value: unknown): void {
    this.ops.push({ type: 'put', key, value: Buffer.from(JSON.stringify(value)) });
  }

  putBytes(key: string, value: Buffer): void {
    this.ops.push({ type: 'put', key, value });
  }

  del(key: string): void {
    this.ops.push({ type: 'del', key });
  }

  onCommit(fn: () => void): void {
    this.afterCommit.push(fn);
  }
}

export const decode = <T>(value: Buffer | undefined): T | undefined =>
  value === undefined ? undefined : (JSON.parse(value.toString('utf8')) as T);
