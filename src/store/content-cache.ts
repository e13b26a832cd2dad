/**
 * What is derived from a blob's content and read for many messages at once (SORT keys, header-only
 * SEARCH, ENVELOPE and BODYSTRUCTURE as IMAP sends them), kept in memory by content hash. A blob's
 * content never changes, so an entry can never be stale: no invalidation, nothing to coordinate
 * with writers or snapshots. Whether the message still exists is for the caller to know (message
 * records), never for this cache.
 * Two generations instead of an exact LRU (a reorder per read cost as much as the read): entries
 * read or set go to the young one; when it is full it becomes the old one and the old one is dropped,
 * so at most `max` entries are held and the recently used ones survive.
 */
export class ContentCache<T> {
  private young = new Map<string, T>();
  private old = new Map<string, T>();
  private readonly half: number;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
  }

  get(sha: string): T | undefined {
    const value = this.young.get(sha);
    if (value !== undefined) return value;
    const older = this.old.get(sha);
    if (older !== undefined) this.set(sha, older);
    return older;
  }

  set(sha: string, value: T): void {
    if (this.young.size >= this.half && !this.young.has(sha)) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(sha, value);
  }
}
