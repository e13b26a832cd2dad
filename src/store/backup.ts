import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Kv } from './db.ts';
import type { Op } from './tx.ts';

const MAGIC = Buffer.from('WRENBAK1');
const BATCH_BYTES = 4 << 20;

/**
 * Writes every record of one snapshot (concurrent deliveries are either wholly in or wholly out) as
 * length-prefixed pairs; keys are the keyspace's UTF-8 strings as bytes.
 */
export async function writeSnapshot(kv: Kv, out: Writable): Promise<{ records: number; bytes: number }> {
  let records = 0;
  let bytes = 0;
  const send = async (chunk: Buffer): Promise<void> => {
    bytes += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  await send(MAGIC);
  const snapshot = kv.snapshot();
  try {
    for await (const [name, value] of snapshot.iterate()) {
      const key = Buffer.from(name, 'utf8');
      const header = Buffer.alloc(8);
      header.writeUInt32BE(key.length, 0);
      header.writeUInt32BE(value.length, 4);
      await send(Buffer.concat([header, key, value]));
      records += 1;
    }
  } finally {
    await snapshot.close();
  }
  return { records, bytes };
}

/** Loads a snapshot into an empty data directory (refuses one that has a store). */
export async function restoreSnapshot(dir: string, input: Readable): Promise<{ records: number }> {
  if (existsSync(dir) && readdirSync(dir).some((name) => name === 'CURRENT')) {
    throw new Error(`${dir} already holds a store; restore needs an empty data directory`);
  }
  const kv = await Kv.open(dir);
  let pending: Buffer = Buffer.alloc(0);
  let sawMagic = false;
  let records = 0;
  let batch: Op[] = [];
  let batchBytes = 0;
  const flush = async (): Promise<void> => {
    if (batch.length) await kv.engine.batch(batch);
    batch = [];
    batchBytes = 0;
  };
  try {
    for await (const chunk of input) {
      pending = pending.length ? Buffer.concat([pending, chunk as Buffer]) : (chunk as Buffer);
      if (!sawMagic) {
        if (pending.length < MAGIC.length) continue;
        if (!pending.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a Wren Mail backup');
        pending = pending.subarray(MAGIC.length);
        sawMagic = true;
      }
      let offset = 0;
      while (pending.length - offset >= 8) {
        const keyLength = pending.readUInt32BE(offset);
        const valueLength = pending.readUInt32BE(offset + 4);
        if (pending.length - offset < 8 + keyLength + valueLength) break;
        const key = pending.subarray(offset + 8, offset + 8 + keyLength);
        const value = pending.subarray(offset + 8 + keyLength, offset + 8 + keyLength + valueLength);
        batch.push({ type: 'put', key: key.toString('utf8'), value: Buffer.from(value) });
        batchBytes += keyLength + valueLength;
        offset += 8 + keyLength + valueLength;
        records += 1;
      }
      pending = pending.subarray(offset);
      if (batchBytes > BATCH_BYTES) await flush();
    }
    if (!sawMagic || pending.length) throw new Error('backup is truncated');
    await flush();
  } finally {
    await kv.close();
  }
  return { records };
}
