/**
 * What is derived from a blob's content and read for many messages at once (SORT keys, header-only
 * SEARCH, ENVELOPE and BODYSTRUCTURE as IMAP sends them), kept in memory by content hash. A blob's
 * content never changes, so an entry can never be stale: no invalidation, nothing to coordinate
 * with writers or snapshots. Whether the message still exists is for the caller to know (message
 * records), never for this cache. Least recently used entries go first once `max` is reached.
 */
export class ContentCache<T> {
  private readonly entries = new Map<string, T>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(sha: string): T | undefined {
    const value = this.entries.get(sha);
    if (value !== undefined) {
      this.entries.delete(sha);
      this.entries.set(sha, value);
    }
    return value;
  }

  set(sha: string, value: T): void {
    this.entries.delete(sha);
    this.entries.set(sha, value);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }
}
