// Sieve scripts per account and the vacation reply records (RFC 5230 §4.2). One script per account
// (`sieve/s/<accountId>`), on or off; replies sent are remembered per account, handle and sender
// (`sieve/v/<accountId>/<hash>`) until their :days run out.
import { createHash } from 'node:crypto';
import type { Kv } from './db.ts';
import { prefixRange } from './keys.ts';
import { Tx } from './tx.ts';

export interface SieveScriptRecord {
  accountId: string;
  script: string;
  active: boolean;
  updatedAt: number;
}

const scriptKey = (accountId: string) => `sieve/s/${accountId}`;
const replyKey = (accountId: string, handle: string, sender: string) =>
  `sieve/v/${accountId}/${createHash('sha256').update(`${handle}\0${sender.toLowerCase()}`).digest('hex').slice(0, 32)}`;

export class SieveScripts {
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  get(accountId: string): Promise<SieveScriptRecord | undefined> {
    return this.kv.directory.get<SieveScriptRecord>(scriptKey(accountId));
  }

  /** The script to run on delivery, if the account has one switched on. */
  async active(accountId: string): Promise<SieveScriptRecord | undefined> {
    const record = await this.get(accountId);
    return record?.active ? record : undefined;
  }

  async put(record: SieveScriptRecord): Promise<void> {
    const tx = new Tx();
    tx.put(scriptKey(record.accountId), record);
    await this.kv.commit(tx);
  }

  /** Removes the script and the account's vacation records. */
  async remove(accountId: string): Promise<boolean> {
    const tx = new Tx();
    const existed = (await this.get(accountId)) !== undefined;
    tx.del(scriptKey(accountId));
    for (const key of await this.kv.keys(prefixRange(`sieve/v/${accountId}/`))) tx.del(key);
    await this.kv.commit(tx);
    return existed;
  }

  /** When a vacation reply for this handle last went to this sender (ms), if still remembered. */
  async lastReply(accountId: string, handle: string, sender: string): Promise<number | undefined> {
    return (await this.kv.get<{ at: number }>(replyKey(accountId, handle, sender)))?.at;
  }

  async recordReply(accountId: string, handle: string, sender: string, at: number): Promise<void> {
    const tx = new Tx();
    tx.put(replyKey(accountId, handle, sender), { at });
    await this.kv.commit(tx);
  }
}

const instances = new WeakMap<Kv, SieveScripts>();
/** The repository over a store's database (one per Kv). */
export const sieveScripts = (kv: Kv): SieveScripts => {
  let repo = instances.get(kv);
  if (!repo) instances.set(kv, (repo = new SieveScripts(kv)));
  return repo;
};
