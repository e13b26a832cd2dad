// \Recent (IMAP4rev1; gone in IMAP4rev2), kept in memory as Dovecot does: per folder, a watermark
// UID up to which some session has already been told about the messages. The first read-write
// session to see messages above it gets them as \Recent and moves it up. Only messages that arrive
// while this process runs can be recent: after a restart nothing is, until new mail comes. On a
// shared store (several nodes) the watermark is agreed in the database (store/recent.ts), so a
// message is recent for one session of one node only.
import type { RecentWatermarks } from '../store/recent.ts';

export class RecentTracker {
  /** folderId → highest UID already claimed; absent: no message has arrived since start. */
  private readonly watermarks = new Map<number, number>();
  private readonly shared: RecentWatermarks | undefined;

  constructor(shared?: RecentWatermarks) {
    this.shared = shared;
  }

  /** A store 'add' change: the first one since start sets where recent messages begin. */
  added(folderId: number, uids: number[]): void {
    if (!this.watermarks.has(folderId) && uids.length)
      this.watermarks.set(folderId, uids.reduce((a, b) => Math.min(a, b)) - 1);
  }

  /**
   * The UIDs among `uids` (ascending) that are recent for a session seeing them now; with `take`
   * (a read-write session), they are recent for it alone from here on.
   */
  async claim(folderId: number, uids: readonly number[], take: boolean): Promise<number[]> {
    const last = uids[uids.length - 1] ?? 0;
    const floor = this.watermarks.get(folderId);
    const watermark = this.shared ? await this.shared.claim(folderId, floor, last, take) : floor;
    if (watermark === undefined) return [];
    if (take && last > watermark) this.watermarks.set(folderId, last);
    return uids.filter((uid) => uid > watermark);
  }

  /** Lowest UID nobody has claimed yet (STATUS RECENT counts from there); null when none can be recent. */
  async unclaimedFrom(folderId: number): Promise<number | null> {
    const floor = this.watermarks.get(folderId);
    const watermark = this.shared ? await this.shared.claim(folderId, floor, 0, false) : floor;
    return watermark === undefined ? null : watermark + 1;
  }

  forget(folderId: number): void {
    this.watermarks.delete(folderId);
  }
}
