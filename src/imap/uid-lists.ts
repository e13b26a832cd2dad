// UID lists shared between sessions (issue 17). Every session with a folder selected holds its UIDs in
// sequence-number order, 8 bytes a message: 80 KiB per connection on a 10,000-message INBOX, most of
// an idle connection's memory. Sessions that see the same folder in the same state hold the same list
// instead, frozen: SELECT interns the list it built, and a change (new messages, expunges) takes a
// session from one shared list to the next, built once for all the sessions that make that step.

/** Appended or removed UIDs beyond this many are not memoised (their key would cost more than a copy). */
const MAX_MEMO_KEY_UIDS = 1000;

export type UidList = readonly number[];

export class UidLists {
  /** folderId → the list last interned for it, held weakly: a list no session holds goes. */
  private readonly latest = new Map<number, WeakRef<UidList>>();
  private readonly forgotten = new FinalizationRegistry<number>((folderId) => {
    if (!this.latest.get(folderId)?.deref()) this.latest.delete(folderId);
  });
  /** Steps already taken: a list → (the change → the list after it). */
  private readonly steps = new WeakMap<UidList, Map<string, UidList>>();

  /** The shared list equal to `uids` (frozen), or `uids` itself, frozen and shared from now on. */
  intern(folderId: number, uids: number[]): UidList {
    const known = this.latest.get(folderId)?.deref();
    if (known && sameUids(known, uids)) return known;
    Object.freeze(uids);
    this.latest.set(folderId, new WeakRef(uids));
    this.forgotten.register(uids, folderId);
    return uids;
  }

  /** The UIDs of `messages` (in UID order), as a shared list: compared in place, built only when new. */
  ofMessages(folderId: number, messages: readonly { uid: number }[]): UidList {
    const known = this.latest.get(folderId)?.deref();
    if (known?.length === messages.length) {
      let i = messages.length - 1; // from the end: a new message differs there first
      while (i >= 0 && messages[i]!.uid === known[i]) i--;
      if (i < 0) return known;
    }
    return this.intern(
      folderId,
      messages.map((m) => m.uid),
    );
  }

  /** `uids` followed by `added` (each above the last of `uids`, ascending). */
  append(folderId: number, uids: UidList, added: readonly number[]): UidList {
    if (!added.length) return uids;
    return this.step(folderId, uids, added, '+', () => uids.concat(added));
  }

  /** `uids` without `gone` (ascending). */
  remove(folderId: number, uids: UidList, gone: readonly number[]): UidList {
    if (!gone.length) return uids;
    return this.step(folderId, uids, gone, '-', () => {
      const set = new Set(gone);
      return uids.filter((uid) => !set.has(uid));
    });
  }

  private step(
    folderId: number,
    from: UidList,
    changed: readonly number[],
    kind: string,
    make: () => number[],
  ): UidList {
    if (changed.length > MAX_MEMO_KEY_UIDS) return this.intern(folderId, make());
    const key = kind + changed.join(',');
    let next = this.steps.get(from);
    const known = next?.get(key);
    if (known) return known;
    const list = this.intern(folderId, make());
    if (!next) this.steps.set(from, (next = new Map()));
    next.set(key, list);
    return list;
  }
}

function sameUids(a: UidList, b: UidList): boolean {
  if (a.length !== b.length) return false;
  for (let i = a.length - 1; i >= 0; i--) if (a[i] !== b[i]) return false;
  return true;
}
