// Records that expire, pruned through an index of their expiry times (`<prefix>/<hex expiresAt>/…`), so a
// pass reads what is due by a range scan, not every record (idempotency.ts, greylist.ts).
import type { Kv, RangeOptions } from './db.ts';
import { Tx } from './tx.ts';

/**
 * Deletes the expiry entries in `due` (at most `batchSize`) and each one's record (`recordOf` the entry's
 * key), unless the record was renewed since: it then has a later entry of its own and stays. Returns how
 * many entries were due.
 */
export async function pruneExpired(
  kv: Kv,
  due: RangeOptions,
  recordOf: (entry: string) => string,
  now: number,
  batchSize = 1000,
): Promise<number> {
  const entries = await kv.keys({ ...due, limit: batchSize });
  if (entries.length === 0) return 0;
  const tx = new Tx();
  for (const entry of entries) {
    tx.del(entry);
    const key = recordOf(entry);
    const record = await kv.get<{ expiresAt: number }>(key);
    if (record && record.expiresAt <= now) tx.del(key);
  }
  await kv.commit(tx);
  return entries.length;
}
