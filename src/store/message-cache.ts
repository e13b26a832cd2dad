import type { Message } from './types.ts';

/**
 * The message lists of recently used folders, so SELECT, STATUS and POP3 need not decode every
 * record of a large folder each time. Messages.ts is the only writer of messages and updates the
 * cached lists when its batches commit. A list read from disk is kept only if no commit touched
 * that folder while it was being read (the version check), so it cannot go stale.
 * A list once handed out is never changed: readers share it without copying, and the first commit
 * after that edits a copy (copy on write), so each reader keeps the version it was given.
 */
export class MessageListCache {
  private lists = new Map<number, Message[]>(); // insertion order = least recently used first
  private versions = new Map<number, number>();
  /** Folders whose current list some reader holds: the next change copies it first. */
  private shared = new Set<number>();
  private total = 0;
  private readonly maxMessages: number;

  constructor(maxMessages = 200_000) {
    this.maxMessages = maxMessages;
  }

  version(folderId: number): number {
    return this.versions.get(folderId) ?? 0;
  }

  /** The folder's list, shared with every other reader: the cache will not change it from now on. */
  get(folderId: number): readonly Message[] | undefined {
    const list = this.lists.get(folderId);
    if (list) {
      this.lists.delete(folderId);
      this.lists.set(folderId, list);
      this.shared.add(folderId);
    }
    return list;
  }

  /** Keeps a list read from disk, unless the folder changed since `version` was taken. */
  keep(folderId: number, version: number, list: Message[]): void {
    if (this.version(folderId) !== version || list.length > this.maxMessages) return;
    this.forget(folderId);
    this.lists.set(folderId, list);
    this.shared.add(folderId); // its reader returns it to every caller that waited for the read
    this.total += list.length;
    for (const [id, old] of this.lists) {
      if (this.total <= this.maxMessages) break;
      this.lists.delete(id);
      this.shared.delete(id);
      this.total -= old.length;
    }
  }

  /**
   * A disk read may already hold the message: the engine shows a commit to other reads before its
   * callbacks run (PostgreSQL's other connections, a LevelDB iterator opened in between), so a list
   * read then passes the version check and this callback comes after it. The record replaces its
   * own UID rather than standing twice (two nodes' deliveries: FETCH 1:* listed one UID twice).
   */
  added(folderId: number, message: Message): void {
    this.bump(folderId);
    const list = this.writable(folderId);
    if (!list) return;
    const at =
      list.length && list[list.length - 1]!.uid >= message.uid
        ? list.findIndex((m) => m.uid >= message.uid)
        : list.length;
    if (list[at]?.uid === message.uid) {
      list[at] = message;
      return;
    }
    list.splice(at, 0, message);
    this.total += 1;
  }

  changed(folderId: number, messages: Message[]): void {
    this.bump(folderId);
    const list = this.writable(folderId);
    if (!list) return;
    const byUid = new Map(messages.map((m) => [m.uid, m]));
    for (let i = 0; i < list.length; i++) {
      const next = byUid.get(list[i]!.uid);
      if (next) list[i] = next;
    }
  }

  removed(folderId: number, uids: number[]): void {
    this.bump(folderId);
    const list = this.lists.get(folderId);
    if (!list) return;
    const gone = new Set(uids);
    const kept = list.filter((m) => !gone.has(m.uid)); // a new list: no reader holds it yet
    this.total -= list.length - kept.length;
    this.lists.set(folderId, kept);
    this.shared.delete(folderId);
  }

  /** No cached list can be trusted any more (a write failed after some were updated). */
  clear(): void {
    for (const folderId of [...this.lists.keys()]) this.dropped(folderId);
  }

  /** The folder is gone (or its list can no longer be trusted). */
  dropped(folderId: number): void {
    this.bump(folderId);
    this.forget(folderId);
  }

  private forget(folderId: number): void {
    const old = this.lists.get(folderId);
    if (old) this.total -= old.length;
    this.lists.delete(folderId);
    this.shared.delete(folderId);
  }

  /** The folder's list to edit in place: a copy if a reader holds the current one. */
  private writable(folderId: number): Message[] | undefined {
    const list = this.lists.get(folderId);
    if (!list || !this.shared.delete(folderId)) return list;
    const copy = list.slice();
    this.lists.set(folderId, copy);
    return copy;
  }

  private bump(folderId: number): void {
    this.versions.set(folderId, this.version(folderId) + 1);
  }
}

/** Callers get their own copies: a session that edits flags in place must not edit the cache. */
export const copyMessages = (list: readonly Message[], fromUid: number): Message[] =>
  list.filter((m) => m.uid >= fromUid).map((m) => ({ ...m, flags: [...m.flags] }));
