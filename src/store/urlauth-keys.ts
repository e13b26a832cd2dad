// URLAUTH mailbox access keys (RFC 4467 7): one random secret per account and mailbox
// (`uak/<accountId>/<folderId>`), made on the first GENURLAUTH for the mailbox and thrown away by
// RESETKEY, which revokes every URL made with it. Keyed by folder id, so a mailbox deleted and
// created again under the same name never honours the old URLs; DELETE drops it (Folders.remove).
import { randomBytes } from 'node:crypto';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { Tx } from './tx.ts';

const keyOf = keys.urlAuthKey;

export class UrlAuthKeys {
  private readonly kv: Kv;
  /** Two sessions asking for a new mailbox's key at once must get the same one. */
  private readonly mutex = new KeyedMutex();

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async get(accountId: string, folderId: number): Promise<Buffer | undefined> {
    const stored = await this.kv.get<string>(keyOf(accountId, folderId));
    return stored === undefined ? undefined : Buffer.from(stored, 'hex');
  }

  /** The mailbox's key, made now when it has none. */
  getOrCreate(accountId: string, folderId: number): Promise<Buffer> {
    return this.mutex.run(keyOf(accountId, folderId), async () => {
      const existing = await this.get(accountId, folderId);
      if (existing) return existing;
      const key = randomBytes(32);
      const tx = new Tx();
      tx.put(keyOf(accountId, folderId), key.toString('hex'));
      await this.kv.commit(tx);
      return key;
    });
  }

  /** Forgets one mailbox's key, or (no folder) every key of the account. */
  async reset(accountId: string, folderId?: number): Promise<void> {
    const tx = new Tx();
    if (folderId !== undefined) tx.del(keyOf(accountId, folderId));
    else for (const key of await this.kv.keys(ranges.accountUrlAuthKeys(accountId))) tx.del(key);
    await this.kv.commit(tx);
  }
}

const instances = new WeakMap<Kv, UrlAuthKeys>();
/** The repository over a store's database (one per Kv). */
export const urlAuthKeys = (kv: Kv): UrlAuthKeys => {
  let repo = instances.get(kv);
  if (!repo) instances.set(kv, (repo = new UrlAuthKeys(kv)));
  return repo;
};
