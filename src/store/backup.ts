import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { BatchWriter, isEmpty } from './copy.ts';
import type { Kv } from './db.ts';
import type { Engine } from './engine.ts';

const MAGIC = Buffer.from('WRENBAK1');

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

/**
 * Loads a snapshot into an empty store on either engine (refuses one that holds records); the caller
 * opened `target` (which takes its lock: LevelDB's lock file, PostgreSQL's advisory lock) and closes it.
 */
export async function restoreSnapshot(target: Engine, input: Readable): Promise<{ records: number }> {
  if (!(await isEmpty(target))) {
    throw new Error(`${target.location} already holds a store; restore needs an empty one`);
  }
  const writer = new BatchWriter(target);
  let pending: Buffer = Buffer.alloc(0);
  let sawMagic = false;
  let records = 0;
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
      await writer.put(key.toString('utf8'), Buffer.from(value));
      offset += 8 + keyLength + valueLength;
      records += 1;
    }
    pending = pending.subarray(offset);
  }
  if (!sawMagic || pending.length) throw new Error('backup is truncated');
  await writer.flush();
  return { records };
}
