// \Recent on a shared store (docs/ARCHITECTURE.md §4.8). One node keeps the watermark in memory
// (imap/recent.ts); sessions on several nodes must agree on which one was told of a message first
// (RFC 3501 2.3.2: \Recent for one session only), so there the watermark a read-write session moves
// up is read and written in one database transaction, under the lock Kv.commitBuilt takes on it.
import type { Kv } from './db.ts';
import { keys } from './keys.ts';
import { Tx } from './tx.ts';

const highest = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.max(a, b);

export class RecentWatermarks {
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  /**
   * The folder's watermark: the stored one, raised to this node's `floor` (where this node first saw
   * mail arrive). With `take`, it is stored as at least `last` in the same transaction, so of two
   * sessions claiming at once only one sees the messages above it as recent.
   */
  async claim(folderId: number, floor: number | undefined, last: number, take: boolean): Promise<number | undefined> {
    const key = keys.recentWatermark(folderId);
    const read = highest(await this.kv.get<number>(key), floor);
    // Nothing to claim (most SELECTs): one read, no transaction.
    if (!take || read === undefined || last <= read) return read;
    let watermark: number | undefined;
    await this.kv.commitBuilt([key], (stored) => {
      const raw = stored.get(key);
      watermark = highest(raw ? (JSON.parse(raw.toString('utf8')) as number) : undefined, floor);
      const claim = new Tx();
      if (watermark !== undefined && last > watermark) claim.put(key, last);
      return claim;
    });
    return watermark;
  }
}
