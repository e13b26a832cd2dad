import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { Level } from 'level';
import { Committer } from './committer.ts';
import { Tx, decode } from './tx.ts';

export type Db = Level<string, Buffer>;

export interface RangeOptions { gt?: string; gte?: string; lt?: string; lte?: string; limit?: number; reverse?: boolean }

/** LevelDB access shared by the repositories: typed reads and ordered, durable, grouped writes. */
export class Kv {
  readonly db: Db;
  readonly committer: Committer;

  constructor(db: Db, groupCommit: boolean) {
    this.db = db;
    this.committer = new Committer(db, groupCommit);
  }

  static async open(dir: string, groupCommit = true): Promise<Kv> {
    mkdirSync(dir, { recursive: true });
    const db: Db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    return new Kv(db, groupCommit);
  }

  async get<T>(key: string): Promise<T | undefined> {
    return decode<T>(await this.db.get(key));
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    return this.db.get(key);
  }

  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    if (keys.length === 0) return [];
    return (await this.db.getMany(keys)).map((v) => decode<T>(v));
  }

  async values<T>(range: RangeOptions): Promise<T[]> {
    const out: T[] = [];
    for await (const value of this.db.values(range)) out.push(decode<T>(value)!);
    return out;
  }

  async entries<T>(range: RangeOptions): Promise<[string, T][]> {
    const out: [string, T][] = [];
    for await (const [key, value] of this.db.iterator(range)) out.push([key, decode<T>(value)!]);
    return out;
  }

  async keys(range: RangeOptions): Promise<string[]> {
    const out: string[] = [];
    for await (const key of this.db.keys(range)) out.push(key);
    return out;
  }

  async commit(tx: Tx): Promise<void> {
    await this.committer.write(tx.ops);
    for (const fn of tx.afterCommit) fn();
  }

  async close(): Promise<void> {
    await this.committer.drain();
    await this.db.close();
  }
}

/** In-process change notifications, emitted only after the change is durable. */
export class Notifier extends EventEmitter {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}
