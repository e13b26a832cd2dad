// Copying a whole keyspace from one engine to another (`wrenmail migrate-store`, docs/ARCHITECTURE.md
// §4.8), and the checksum both sides are compared by. Engine-neutral: it reads with `iterate` and
// writes with `batch`, so a store of any size moves in bounded memory.
import { createHash } from 'node:crypto';
import type { Engine, EngineReader } from './engine.ts';
import { LevelEngine } from './engines/leveldb.ts';
import type { Op } from './tx.ts';

// A write batch carries at most this many records or this many key and value bytes (a 1 MiB blob
// chunk is one record): memory stays bounded whatever the store's size.
const COPY_RECORDS = 1000;
const COPY_BYTES = 8 << 20;

/** The engine of a store: LevelDB in `dir`, or with `postgresUrl` that PostgreSQL database. */
export async function openEngine(
  dir: string,
  postgresUrl?: string,
  options: { shared?: boolean } = {},
): Promise<Engine> {
  return postgresUrl
    ? // Loaded only when used: a LevelDB server never loads the PostgreSQL client.
      (await import('./engines/postgres.ts')).PostgresEngine.open(postgresUrl, options)
    : LevelEngine.open(dir);
}

/** What a keyspace holds: its record count and a SHA-256 over every (key, value) in key order. */
export interface StoreDigest {
  records: number;
  bytes: number;
  sha256: string;
}

/** Hashes each record as key length, key, value length, value (so no two keyspaces hash alike by framing). */
class Digester {
  private readonly hash = createHash('sha256');
  records = 0;
  bytes = 0;

  add(key: string, value: Buffer): void {
    const name = Buffer.from(key, 'utf8');
    const header = Buffer.alloc(8);
    header.writeUInt32BE(name.length, 0);
    header.writeUInt32BE(value.length, 4);
    this.hash.update(header).update(name).update(value);
    this.records += 1;
    this.bytes += name.length + value.length;
  }

  digest(): StoreDigest {
    return { records: this.records, bytes: this.bytes, sha256: this.hash.digest('hex') };
  }
}

/** The digest of everything `reader` holds, read in key order a page at a time. */
export async function digestStore(reader: EngineReader): Promise<StoreDigest> {
  const digester = new Digester();
  for await (const [key, value] of reader.iterate({})) digester.add(key, value);
  return digester.digest();
}

/** Does the engine hold any record? */
export async function isEmpty(reader: EngineReader): Promise<boolean> {
  return (await reader.keys({ limit: 1 })).length === 0;
}

/** Deletes every record, in bounded batches (`--force` on a destination that has a store). */
export async function clearStore(engine: Engine): Promise<number> {
  let deleted = 0;
  for (;;) {
    const keys = await engine.keys({ limit: COPY_RECORDS });
    if (keys.length === 0) return deleted;
    await engine.batch(keys.map((key) => ({ type: 'del', key })));
    deleted += keys.length;
  }
}

/** Writes puts into `to` in bounded batches; each batch is durable before the next is built. */
export class BatchWriter {
  private readonly to: Engine;
  private ops: Op[] = [];
  private bytes = 0;

  constructor(to: Engine) {
    this.to = to;
  }

  async put(key: string, value: Buffer): Promise<void> {
    this.ops.push({ type: 'put', key, value });
    this.bytes += key.length + value.length;
    if (this.ops.length >= COPY_RECORDS || this.bytes >= COPY_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.ops.length) await this.to.batch(this.ops);
    this.ops = [];
    this.bytes = 0;
  }
}

/**
 * Copies every record of `from` into `to` (which the caller made sure is empty) and returns the
 * digest of what was read; the caller compares it with `digestStore(to)`.
 */
export async function copyStore(
  from: EngineReader,
  to: Engine,
  progress?: (records: number) => void,
): Promise<StoreDigest> {
  const digester = new Digester();
  const writer = new BatchWriter(to);
  for await (const [key, value] of from.iterate({})) {
    digester.add(key, value);
    await writer.put(key, value);
    if (progress && digester.records % 10_000 === 0) progress(digester.records);
  }
  await writer.flush();
  return digester.digest();
}
