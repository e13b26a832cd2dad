import type { Counters } from './counters.ts';
import type { Kv, Notifier } from './db.ts';
import { keys, ranges } from './keys.ts';
import { type Tx, decode } from './tx.ts';
import type { Folder, SpecialUse } from './types.ts';

export const DEFAULT_FOLDERS: { name: string; specialUse: SpecialUse }[] = [
  { name: 'INBOX', specialUse: null },
  { name: 'Drafts', specialUse: '\\Drafts' },
  { name: 'Sent', specialUse: '\\Sent' },
  { name: 'Junk', specialUse: '\\Junk' },
  { name: 'Trash', specialUse: '\\Trash' },
  { name: 'Archive', specialUse: '\\Archive' },
];

/** INBOX is case-insensitive (RFC 3501 5.1); every other name is exact. */
export const normalizeFolderName = (name: string): string => (name.toUpperCase() === 'INBOX' ? 'INBOX' : name);

/**
 * Folders and their counters (UIDNEXT, HIGHESTMODSEQ, message counts), all held in memory: the
 * process owns them and allocates UIDs/MODSEQs synchronously while building a batch, and each batch
 * carries the folder's new snapshot, so what is on disk is always a consistent prefix.
 */
export class Folders {
  private byId = new Map<number, Folder>();
  private byAccount = new Map<string, Map<string, Folder>>();
  /** Subscribed names without a folder, per account (RFC 3501 6.3.4: DELETE does not unsubscribe). */
  private orphans = new Map<string, Set<string>>();
  private readonly kv: Kv;
  private readonly counters: Counters;
  private readonly notifier: Notifier;
  /**
   * Shared store only: per folder, the stored snapshot (`f/…` bytes) memory was derived from, including
   * this node's batches not yet committed. Each batch that saves the folder expects to find it.
   */
  private readonly base: Map<number, Buffer> | undefined;

  constructor(kv: Kv, counters: Counters, notifier: Notifier) {
    this.kv = kv;
    this.counters = counters;
    this.notifier = notifier;
    if (kv.engine.shared) this.base = new Map();
  }

  async load(): Promise<void> {
    for (const [key, bytes] of await this.kv.engine.entries(ranges.allFolders())) this.adopt(key, bytes);
    for (const key of await this.kv.keys(ranges.allSubscriptions())) {
      const rest = key.slice('fs/'.length);
      const slash = rest.indexOf('/');
      this.orphanSet(rest.slice(0, slash)).add(rest.slice(slash + 1));
    }
  }

  private orphanSet(accountId: string): Set<string> {
    let set = this.orphans.get(accountId);
    if (!set) this.orphans.set(accountId, (set = new Set()));
    return set;
  }

  /** Every subscribed name of the account: subscribed folders and subscribed names that have no folder. */
  subscriptions(accountId: string): Set<string> {
    const names = new Set(this.orphans.get(accountId));
    for (const folder of this.byAccount.get(accountId)?.values() ?? []) if (folder.subscribed) names.add(folder.name);
    return names;
  }

  /** SUBSCRIBE/UNSUBSCRIBE by name; a name without a folder may be subscribed (RFC 3501 6.3.6). */
  subscribe(tx: Tx, accountId: string, name: string, subscribed: boolean): void {
    name = normalizeFolderName(name);
    const folder = this.byName(accountId, name);
    if (folder) {
      this.setSubscribed(tx, folder, subscribed);
      return;
    }
    if (subscribed) {
      this.orphanSet(accountId).add(name);
      tx.put(keys.subscription(accountId, name), 1);
    } else {
      this.orphans.get(accountId)?.delete(name);
      tx.del(keys.subscription(accountId, name));
    }
  }

  /**
   * Makes memory what the disk has (after a failed write: Store.recover). Folder objects are updated
   * in place: sessions hold them.
   */
  reset(stored: [string, Buffer][]): void {
    const ids = new Set(stored.map(([, bytes]) => decode<Folder>(bytes)!.id));
    for (const folder of [...this.byId.values()]) if (!ids.has(folder.id)) this.forget(folder);
    for (const [key, bytes] of stored) this.adopt(key, bytes);
  }

  // ---- shared store (docs/ARCHITECTURE.md §4.8): what other nodes committed ----

  /**
   * Makes memory the stored snapshot `bytes` of the folder at `key` (undefined: it is gone); the
   * Folder object is updated in place, since sessions hold it. Returns the folder as it was before.
   */
  adopt(key: string, bytes: Buffer | undefined): { before?: Folder; after?: Folder } {
    const stored = decode<Folder>(bytes);
    const id = stored?.id ?? Number.parseInt(key.slice(key.lastIndexOf('/') + 1), 16);
    const current = this.byId.get(id);
    const before = current && { ...current };
    if (current) this.forget(current);
    if (!stored) {
      this.base?.delete(id);
      return { before };
    }
    if (this.base) this.base.set(id, bytes!);
    const after = current ? Object.assign(current, stored) : stored;
    this.remember(after);
    this.orphans.get(after.accountId)?.delete(after.name);
    return { before, after };
  }

  /**
   * Inside a commit's transaction (Kv.commitBuilt): memory takes the folder's stored snapshot unless it
   * was derived from it. Returns the highest MODSEQ memory had seen when another node had written it.
   */
  sync(folder: Folder, stored: Buffer | undefined): number | undefined {
    if (!stored) throw new StoreError('not_found', `folder ${folder.name} does not exist`);
    if (this.byId.get(folder.id) !== folder) throw new StoreError('not_found', `folder ${folder.name} does not exist`);
    if (this.base?.get(folder.id)?.equals(stored)) return undefined;
    const before = folder.highestModSeq;
    this.adopt(keys.folder(folder.accountId, folder.id), stored);
    return before;
  }

  /** Whether memory is at or ahead of the stored snapshot `stored` (this node wrote it, or a later one). */
  covers(stored: Folder): boolean {
    const current = this.byId.get(stored.id);
    return !!current && current.highestModSeq >= stored.highestModSeq && current.name === stored.name;
  }

  /**
   * Shared store: the batch expects every folder of the account as memory has it, so a check of the
   * account's usage (a COPY's quota) made on memory holds at commit, or the batch conflicts and memory
   * reloads them.
   */
  expectAccount(tx: Tx, accountId: string): void {
    if (!this.base) return;
    for (const folder of this.byAccount.get(accountId)?.values() ?? [])
      tx.expect(keys.folder(accountId, folder.id), this.base.get(folder.id) ?? null);
  }

  /** The batch expects the stored snapshot memory was derived from (none: a new folder). */
  private expectSnapshot(tx: Tx, folder: Folder, next: Buffer | undefined): void {
    if (!this.base) return;
    tx.expect(keys.folder(folder.accountId, folder.id), this.base.get(folder.id) ?? null);
    if (next) this.base.set(folder.id, next);
    else this.base.delete(folder.id);
  }

  private remember(folder: Folder): void {
    this.byId.set(folder.id, folder);
    let names = this.byAccount.get(folder.accountId);
    if (!names) this.byAccount.set(folder.accountId, (names = new Map()));
    names.set(folder.name, folder);
  }

  private forget(folder: Folder): void {
    this.byId.delete(folder.id);
    this.byAccount.get(folder.accountId)?.delete(folder.name);
  }

  get(folderId: number): Folder | undefined {
    return this.byId.get(folderId);
  }

  byName(accountId: string, name: string): Folder | undefined {
    return this.byAccount.get(accountId)?.get(normalizeFolderName(name));
  }

  bySpecialUse(accountId: string, specialUse: SpecialUse): Folder | undefined {
    for (const folder of this.list(accountId)) if (folder.specialUse === specialUse) return folder;
    return undefined;
  }

  /** Accounts with folders in memory. */
  accounts(): string[] {
    return [...this.byAccount.keys()];
  }

  list(accountId: string): Folder[] {
    return [...(this.byAccount.get(accountId)?.values() ?? [])].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Bytes stored across the account's folders (for quota). */
  usage(accountId: string): { bytes: number; messages: number } {
    let bytes = 0;
    let messages = 0;
    for (const folder of this.byAccount.get(accountId)?.values() ?? []) {
      bytes += folder.size;
      messages += folder.exists;
    }
    return { bytes, messages };
  }

  /** A new folder; `subscribed` unless told otherwise, and always when its name was still subscribed. */
  create(tx: Tx, accountId: string, name: string, specialUse: SpecialUse = null, subscribed = true): Folder {
    name = normalizeFolderName(name);
    if (this.byName(accountId, name)) throw new StoreError('exists', `folder ${name} exists`);
    if (this.orphans.get(accountId)?.delete(name)) {
      tx.del(keys.subscription(accountId, name));
      subscribed = true;
    }
    const now = Date.now();
    const folder: Folder = {
      id: this.counters.next(tx, 'folder'),
      accountId,
      name,
      specialUse,
      subscribed,
      uidValidity: this.counters.atLeast(tx, 'uidvalidity', Math.floor(now / 1000)) >>> 0,
      uidNext: 1,
      highestModSeq: 1,
      exists: 0,
      unseen: 0,
      size: 0,
      createdAt: now,
    };
    this.remember(folder);
    this.save(tx, folder);
    if (this.base) tx.expect(keys.folderName(accountId, name), null); // another node may have taken the name
    tx.put(keys.folderName(accountId, name), folder.id);
    return folder;
  }

  /** A folder created in a batch that was refused: memory forgets it (a failed write reloads anyway). */
  discard(folder: Folder): void {
    this.adopt(keys.folder(folder.accountId, folder.id), undefined);
  }

  /** Writes the folder's current snapshot into the batch. */
  save(tx: Tx, folder: Folder): void {
    // Shared: another node removed it meanwhile; writing its snapshot again would bring it back.
    if (this.base && this.byId.get(folder.id) !== folder)
      throw new StoreError('not_found', `folder ${folder.name} does not exist`);
    const bytes = Buffer.from(JSON.stringify(folder));
    this.expectSnapshot(tx, folder, bytes);
    tx.putBytes(keys.folder(folder.accountId, folder.id), bytes);
  }

  rename(tx: Tx, folder: Folder, newName: string): void {
    newName = normalizeFolderName(newName);
    if (this.byName(folder.accountId, newName)) throw new StoreError('exists', `folder ${newName} exists`);
    tx.del(keys.folderName(folder.accountId, folder.name));
    this.forget(folder);
    folder.name = newName;
    this.remember(folder);
    if (this.base) tx.expect(keys.folderName(folder.accountId, newName), null);
    tx.put(keys.folderName(folder.accountId, newName), folder.id);
    this.save(tx, folder);
  }

  setSubscribed(tx: Tx, folder: Folder, subscribed: boolean): void {
    folder.subscribed = subscribed;
    this.save(tx, folder);
  }

  /**
   * Removes the folder record; its messages must be removed in the same batch (Messages.removeFolder).
   * A subscribed name stays subscribed unless the whole account goes (`keepSubscription` false).
   */
  remove(tx: Tx, folder: Folder, keepSubscription = true): void {
    this.forget(folder);
    if (folder.subscribed && keepSubscription) {
      this.orphanSet(folder.accountId).add(folder.name);
      tx.put(keys.subscription(folder.accountId, folder.name), 1);
    }
    this.expectSnapshot(tx, folder, undefined);
    tx.del(keys.folder(folder.accountId, folder.id));
    tx.del(keys.folderName(folder.accountId, folder.name));
    tx.del(keys.urlAuthKey(folder.accountId, folder.id)); // URLAUTH URLs to it die with it
    tx.onCommit(() => this.notifier.emit('folder-deleted', folder));
  }

  /** Forgets the subscribed names without folders of an account being removed. */
  dropSubscriptions(tx: Tx, accountId: string): void {
    for (const name of this.orphans.get(accountId) ?? []) tx.del(keys.subscription(accountId, name));
    this.orphans.delete(accountId);
  }
}

export class StoreError extends Error {
  readonly code: 'exists' | 'not_found' | 'quota' | 'conflict' | 'invalid' | 'limit';
  constructor(code: StoreError['code'], message: string) {
    super(message);
    this.code = code;
  }
}
