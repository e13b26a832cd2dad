import type { Blobs } from './blobs.ts';
import { MessageListCache, copyMessages } from './message-cache.ts';
import type { Kv, Notifier, Reader } from './db.ts';
import type { Folders } from './folders.ts';
import { StoreError } from './folders.ts';
import { keys, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { Tx } from './tx.ts';
import { type Refresh, withRetries } from './committer.ts';
import { uniqueFlags } from './flags.ts';
import type { Change, Folder, FolderChange, Message } from './types.ts';

const SEEN = '\\Seen';

export type FlagOperation = 'set' | 'add' | 'remove';

export interface FlagUpdate {
  updated: Message[]; // messages whose flags changed (with their new modseq)
  unchanged: Message[]; // matched but already had the flags
  conflicts: number[]; // UIDs refused by UNCHANGEDSINCE
  /** Per updated message (by UID), the flags it did not have before: a keyword a user just set says something. */
  gained: Map<number, string[]>;
}

/**
 * Messages of a folder (`m/<folder>/<uid>`), the folder's change log (`c/<folder>/<modseq>`) and the
 * operations that change them. Appends need no lock (allocation is synchronous); read-modify-write
 * operations (flags, expunge, copy, move) run under a per-folder mutex.
 */
export class Messages {
  private readonly locks = new KeyedMutex();
  private readonly cache = new MessageListCache();
  /** folderId → the list read from disk now, with the cache version it was started at. */
  private readonly reading = new Map<number, { version: number; list: Promise<Message[]> }>();
  private readonly kv: Kv;
  private readonly folders: Folders;
  private readonly blobs: Blobs;
  private readonly notifier: Notifier;
  /** Deletes a removed folder's derived keys (the full-text index) in its batch: folder or account removal. */
  onRemoveFolder?: (tx: Tx, folderId: number) => Promise<void>;
  /** Shared store: reloads what a StoreConflictError names before an operation starts again (Store.refresh). */
  refresh?: Refresh;
  /** Per folder, the highest MODSEQ whose change has been announced (`change`), so none is announced twice. */
  private readonly announced = new Map<number, number>();
  /**
   * Shared store, per folder: reads of other nodes' changes under way (foreignChanges), and this node's
   * own notices held meanwhile. Announced first, a later own change would make the watermark above
   * skip the lower foreign ones for good: a session would never hear of those messages.
   */
  private readonly catchingUp = new Map<number, { readers: number; held: FolderChange[] }>();
  private readonly catchUps = new KeyedMutex();
  /** After a commit that added (or expunged) messages of a folder: the full-text index catches up. */
  onChanged?: (folderId: number, expunged: boolean) => void;

  constructor(kv: Kv, folders: Folders, blobs: Blobs, notifier: Notifier) {
    this.kv = kv;
    this.folders = folders;
    this.blobs = blobs;
    this.notifier = notifier;
  }

  /** Adds a message whose blob is loaded (Blobs.load) and referenced in this same batch. */
  append(tx: Tx, folder: Folder, blob: { sha: string; size: number }, flags: string[], internalDate: number): Message {
    const message: Message = {
      uid: folder.uidNext++,
      blob: blob.sha,
      size: blob.size,
      internalDate,
      savedAt: Date.now(),
      flags: uniqueFlags(flags),
      modseq: ++folder.highestModSeq,
    };
    folder.exists += 1;
    folder.size += blob.size;
    if (!message.flags.includes(SEEN)) folder.unseen += 1;
    tx.put(keys.message(folder.id, message.uid), message);
    const cached = { ...message, flags: [...message.flags] };
    tx.onCommit(() => {
      this.cache.added(folder.id, cached);
      this.onChanged?.(folder.id, false);
    });
    this.recordChange(tx, folder, { modseq: message.modseq, kind: 'add', uids: [message.uid] });
    this.folders.save(tx, folder);
    return message;
  }

  // `from`: a snapshot (Kv.snapshot) when the records must agree with blob reads that follow.

  async get(folderId: number, uid: number, from: Reader = this.kv): Promise<Message | undefined> {
    return from.get<Message>(keys.message(folderId, uid));
  }

  async getMany(folderId: number, uids: number[], from: Reader = this.kv): Promise<(Message | undefined)[]> {
    return from.getMany<Message>(uids.map((uid) => keys.message(folderId, uid)));
  }

  /** Forgets the cached lists: after a failed write they may hold changes the disk does not. */
  forgetCached(): void {
    this.cache.clear();
    this.announced.clear(); // memory's MODSEQs went back to the disk's: they are announced again
  }

  /** Every message of the folder in UID order (what a session needs for its sequence-number map). */
  async list(folderId: number, fromUid = 1): Promise<Message[]> {
    return copyMessages(await this.listShared(folderId), fromUid);
  }

  /**
   * As list(), without copying anything: the list and its records are the cache's own, which it
   * never changes once handed out (MessageListCache: copy on write), so they stay as read; the
   * caller must not change them either.
   * The cache follows commits, so a record may outlive its blob by a moment (until the commit's
   * callbacks run): content read for it may be gone from a snapshot taken meanwhile.
   */
  async listShared(folderId: number): Promise<readonly Message[]> {
    const cached = this.cache.get(folderId);
    if (cached) return cached;
    const version = this.cache.version(folderId); // taken before the read's snapshot: see MessageListCache
    // A read under way since no commit touched the folder serves this caller too: 25 clients selecting
    // a large folder at once (a cold cache) cost one read and decode, not 25 (issue 17).
    const reading = this.reading.get(folderId);
    if (reading?.version === version) return reading.list;
    const entry = { version, list: this.kv.values<Message>(ranges.folderMessages(folderId)) };
    this.reading.set(folderId, entry);
    try {
      const all = await entry.list;
      this.cache.keep(folderId, version, all);
      return all;
    } finally {
      if (this.reading.get(folderId) === entry) this.reading.delete(folderId);
    }
  }

  /** Messages with UIDs in [fromUid, toUid], in UID order: one range scan, cheaper than getMany for dense UID sets. */
  async range(folderId: number, fromUid: number, toUid: number, from: Reader = this.kv): Promise<Message[]> {
    return from.values<Message>({ gte: keys.message(folderId, fromUid), lte: keys.message(folderId, toUid) });
  }

  /** Changes with modseq above `afterModseq`, oldest first (CONDSTORE/QRESYNC, sync APIs). */
  async changesSince(folderId: number, afterModseq: number): Promise<Change[]> {
    return this.kv.values<Change>(ranges.folderChanges(folderId, afterModseq));
  }

  async updateFlags(
    folderId: number,
    uids: number[],
    operation: FlagOperation,
    flags: string[],
    unchangedSince?: number,
  ): Promise<FlagUpdate> {
    return this.locks.run(folderId, () =>
      withRetries(this.refresh, async () => {
        const folder = this.requireFolder(folderId);
        const result: FlagUpdate = { updated: [], unchanged: [], conflicts: [], gained: new Map() };
        const messages = (await this.getMany(folderId, uids)).filter((m): m is Message => m !== undefined);
        const tx = new Tx();
        let modseq = 0;
        for (const message of messages) {
          if (unchangedSince !== undefined && message.modseq > unchangedSince) {
            result.conflicts.push(message.uid);
            continue;
          }
          const next = applyFlags(message.flags, operation, flags);
          if (sameFlags(next, message.flags)) {
            result.unchanged.push(message);
            continue;
          }
          modseq ||= ++folder.highestModSeq;
          const wasSeen = message.flags.includes(SEEN);
          const isSeen = next.includes(SEEN);
          if (wasSeen !== isSeen) folder.unseen += wasSeen ? 1 : -1;
          const before = new Set(message.flags.map((f) => f.toLowerCase()));
          const gained = next.filter((f) => !before.has(f.toLowerCase()));
          if (gained.length) result.gained.set(message.uid, gained);
          message.flags = next;
          message.modseq = modseq;
          tx.put(keys.message(folderId, message.uid), message);
          result.updated.push(message);
        }
        if (result.updated.length) {
          const changed = copyMessages(result.updated, 1);
          tx.onCommit(() => this.cache.changed(folderId, changed));
          this.recordChange(tx, folder, { modseq, kind: 'flags', uids: result.updated.map((m) => m.uid) });
          this.folders.save(tx, folder);
          await this.kv.commit(tx);
        }
        return result;
      }),
    );
  }

  /** Removes the given messages (or every \Deleted one when `uids` is omitted); returns the UIDs removed. */
  async expunge(folderId: number, uids?: number[]): Promise<number[]> {
    return this.locks.run(folderId, () =>
      withRetries(this.refresh, async () => {
        const folder = this.requireFolder(folderId);
        const candidates = uids
          ? (await this.getMany(folderId, uids)).filter((m): m is Message => m !== undefined)
          : (await this.list(folderId)).filter((m) => m.flags.includes('\\Deleted'));
        if (candidates.length === 0) return [];
        for (const message of candidates) await this.blobs.load(message.blob);
        const tx = new Tx();
        this.removeMessages(tx, folder, candidates);
        await this.kv.commit(tx);
        return candidates.map((m) => m.uid);
      }),
    );
  }

  /**
   * Copies messages to another folder (sharing their blobs); with `move`, removes them from the
   * source in the same batch. Returns the UID pairs for COPYUID.
   */
  /** `quotaBytes` (0: none): the target account's quota, which the copies must fit in (StoreError 'quota'). */
  async copy(
    sourceId: number,
    uids: number[],
    targetId: number,
    move = false,
    quotaBytes = 0,
  ): Promise<{ from: number[]; to: number[] }> {
    // Shared store: the target's lock too, so this node has one batch in flight on it (§4.8).
    const locked = this.kv.engine.shared ? [sourceId, targetId] : [sourceId];
    return this.exclusive(locked, () =>
      withRetries(this.refresh, async () => {
        const source = this.requireFolder(sourceId);
        const target = this.requireFolder(targetId);
        const messages = (await this.getMany(sourceId, uids)).filter((m): m is Message => m !== undefined);
        for (const message of messages) await this.blobs.load(message.blob);
        const tx = new Tx();
        if (quotaBytes) {
          const adding = messages.reduce((n, m) => n + m.size, 0);
          if (this.folders.usage(target.accountId).bytes + adding > quotaBytes)
            throw new StoreError('quota', `mailbox ${target.accountId} is over quota`);
          // Shared store: checked on memory, so every folder of the account is expected as it was (§4.8).
          this.folders.expectAccount(tx, target.accountId);
        }
        const mapping = { from: [] as number[], to: [] as number[] };
        for (const message of messages) {
          this.blobs.addRef(tx, message.blob);
          const copy = this.append(
            tx,
            target,
            { sha: message.blob, size: message.size },
            without(message.flags, '\\Recent'),
            message.internalDate,
          );
          mapping.from.push(message.uid);
          mapping.to.push(copy.uid);
        }
        if (move) this.removeMessages(tx, source, messages);
        await this.kv.commit(tx);
        return mapping;
      }),
    );
  }

  /** Deletes every message of a folder being removed, in the caller's batch. */
  async removeAll(tx: Tx, folder: Folder): Promise<void> {
    await this.onRemoveFolder?.(tx, folder.id);
    const messages = await this.list(folder.id);
    for (const message of messages) await this.blobs.load(message.blob);
    for (const message of messages) {
      tx.del(keys.message(folder.id, message.uid));
      this.blobs.release(tx, message.blob, message.size);
    }
    for (const key of await this.kv.keys(ranges.folderChanges(folder.id, 0))) tx.del(key);
    tx.del(keys.recentWatermark(folder.id));
    tx.onCommit(() => this.cache.dropped(folder.id));
  }

  private removeMessages(tx: Tx, folder: Folder, messages: Message[]): void {
    const modseq = ++folder.highestModSeq;
    for (const message of messages) {
      tx.del(keys.message(folder.id, message.uid));
      this.blobs.release(tx, message.blob, message.size);
      folder.exists -= 1;
      folder.size -= message.size;
      if (!message.flags.includes(SEEN)) folder.unseen -= 1;
    }
    const uids = messages.map((m) => m.uid);
    tx.onCommit(() => {
      this.cache.removed(folder.id, uids);
      this.onChanged?.(folder.id, true);
    });
    this.recordChange(tx, folder, { modseq, kind: 'expunge', uids });
    this.folders.save(tx, folder);
  }

  private recordChange(tx: Tx, folder: Folder, change: Change): void {
    tx.put(keys.change(folder.id, change.modseq), change);
    const notice: FolderChange = { accountId: folder.accountId, folderId: folder.id, ...change };
    tx.onCommit(() => this.announce(notice));
  }

  private announce(notice: FolderChange): void {
    const gate = this.catchingUp.get(notice.folderId);
    if (gate) gate.held.push(notice);
    else this.announceOnce(notice);
  }

  private announceOnce(notice: FolderChange): void {
    // Shared store: a change another node's note made this node read (foreignChanges) is not told twice.
    if (notice.modseq <= (this.announced.get(notice.folderId) ?? 0)) return;
    this.announced.set(notice.folderId, notice.modseq);
    this.notifier.emit('change', notice);
  }

  // ---- shared store (docs/ARCHITECTURE.md §4.8): changes other nodes committed ----

  /**
   * Runs `fn` holding the folders' locks (in one order): on a shared store appends take them too, so a
   * node has one batch in flight per folder, and another node's commit fails one batch, not a chain.
   */
  exclusive<T>(folderIds: number[], fn: () => Promise<T>): Promise<T> {
    const [first, ...rest] = [...new Set(folderIds)].sort((a, b) => a - b);
    if (first === undefined) return fn();
    return this.locks.run(first, () => this.exclusive(rest, fn));
  }

  /**
   * The folder changed on another node (a change-feed note, or a conflict's reload): the cached list
   * is dropped, and the changes recorded after those this node announced are announced now, so IDLE
   * and NOOP sessions here tell their clients (EXISTS, EXPUNGE, FETCH FLAGS) as for local ones.
   */
  async foreignChanges(folder: Folder, fromModseq: number, toModseq = folder.highestModSeq): Promise<void> {
    this.cache.dropped(folder.id);
    const gate = this.catchingUp.get(folder.id) ?? { readers: 0, held: [] };
    gate.readers += 1;
    this.catchingUp.set(folder.id, gate);
    try {
      // One read at a time per folder, each from the last change told here (not from where memory
      // was: a read adopted before this one may still be on its way), up to what memory has adopted.
      await this.catchUps.run(folder.id, async () => {
        const after = this.announced.get(folder.id) ?? fromModseq;
        if (after >= toModseq) return;
        for (const change of await this.changesSince(folder.id, after))
          if (change.modseq <= toModseq)
            this.announceOnce({ accountId: folder.accountId, folderId: folder.id, ...change });
      });
    } finally {
      gate.readers -= 1;
      if (gate.readers === 0) {
        this.catchingUp.delete(folder.id);
        for (const notice of gate.held.sort((x, y) => x.modseq - y.modseq)) this.announceOnce(notice);
      }
    }
  }

  /** The folder is gone on another node. */
  foreignRemoval(folderId: number): void {
    this.cache.dropped(folderId);
    this.announced.delete(folderId);
  }

  private requireFolder(folderId: number): Folder {
    const folder = this.folders.get(folderId);
    if (!folder) throw new StoreError('not_found', `folder ${folderId} does not exist`);
    return folder;
  }
}

export function applyFlags(current: string[], operation: FlagOperation, flags: string[]): string[] {
  if (operation === 'set') return uniqueFlags(flags);
  if (operation === 'add') return uniqueFlags([...current, ...flags]);
  const removing = new Set(flags.map((f) => f.toLowerCase()));
  return current.filter((f) => !removing.has(f.toLowerCase()));
}

const sameFlags = (a: string[], b: string[]): boolean =>
  a.length === b.length && a.every((f) => b.some((g) => g.toLowerCase() === f.toLowerCase()));

const without = (flags: string[], flag: string): string[] => flags.filter((f) => f !== flag);
