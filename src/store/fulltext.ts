// Full-text index for IMAP SEARCH TEXT/BODY and the mailbox API search (issue 17). SEARCH is a
// substring match (RFC 3501 6.4.4), so a word index would change answers; this is a trigram filter
// plus verification:
// - `ft/<sha>`: per message content, the folded searchable text (mime/fulltext-text.ts), written with
//   the blob at delivery/APPEND and deleted with it (blobs.ts); COPY shares it.
// - `fp/<folder>/<bucket>/<first uid>`: posting segments. Every 3-byte window of a message's text is
//   hashed to one of 65,536 buckets; a segment holds, per bucket, the UIDs (delta varints) of a run
//   of consecutive messages of the folder that have it. A string of 3+ bytes can only occur in
//   messages listed under every bucket of its windows, so those are the only ones read and checked.
// - `fw/<folder>`: the watermark, the highest UID the segments cover. Messages above it (the tail)
//   are always candidates. Segments are built off the write path, by the search that finds a tail
//   of SEGMENT_MIN or more messages. (Building them in the background after deliveries made
//   imaptest's stress run report keywords FETCHed before FLAGS announced them: a timing race in the
//   IMAP sessions that the extra commits widened; left to the session code.)
// Expunged messages stay in their segments until the folder is deleted: a candidate whose record is
// gone is dropped by the search (UIDs are never reused), so answers stay exact.
// Stores written before this existed: blobs without `ft/` get it from their raw bytes when a segment
// is built over them (the first search of the folder), so no migration.
import type { Kv, Reader } from './db.ts';
import type { Blobs } from './blobs.ts';
import type { Folders } from './folders.ts';
import { keys, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { Tx } from './tx.ts';
import type { Message } from './types.ts';
import { indexMessage } from '../mime/index.ts';
import { foldCase, fulltextText } from '../mime/fulltext-text.ts';

/** A tail this long gets a segment of its own. */
export const SEGMENT_MIN = 256;
/** At most this many messages per segment (bounds the memory of a build). */
const SEGMENT_MAX = 2000;
const BUCKETS = 1 << 16;

/** The bucket of the 3 bytes at `i`. */
const bucketAt = (b: Buffer, i: number): number =>
  Math.imul((b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!, 0x9e3779b1) >>> 16;

/** Distinct buckets of a text's 3-byte windows. */
export function buckets(text: Buffer, seen = new Uint8Array(BUCKETS)): number[] {
  const out: number[] = [];
  for (let i = 0; i + 3 <= text.length; i++) {
    const k = bucketAt(text, i);
    if (!seen[k]) {
      seen[k] = 1;
      out.push(k);
    }
  }
  for (const k of out) seen[k] = 0;
  return out;
}

function encodeUids(uids: number[]): Buffer {
  const out = Buffer.allocUnsafe(uids.length * 5);
  let n = 0;
  let last = 0;
  for (const uid of uids) {
    let d = uid - last;
    last = uid;
    while (d >= 0x80) {
      out[n++] = (d & 0x7f) | 0x80;
      d = Math.floor(d / 128);
    }
    out[n++] = d;
  }
  return out.subarray(0, n);
}

function decodeUids(buf: Buffer, into: number[]): void {
  let last = 0;
  for (let i = 0; i < buf.length; ) {
    let d = 0;
    let shift = 1;
    let b: number;
    do {
      b = buf[i++]!;
      d += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    last += d;
    into.push(last);
  }
}

/** Sorted `a` ∩ sorted `b`. */
function intersect(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let i = 0, j = 0; i < a.length && j < b.length; ) {
    if (a[i]! < b[j]!) i++;
    else if (a[i]! > b[j]!) j++;
    else {
      out.push(a[i]!);
      i++;
      j++;
    }
  }
  return out;
}

/** Messages that may contain a string: the listed UIDs, and every UID above `above` (not indexed yet). */
export interface Candidates {
  uids: Set<number>;
  above: number;
}

export const isCandidate = (c: Candidates, uid: number): boolean => uid > c.above || c.uids.has(uid);

export class Fulltext {
  private readonly kv: Kv;
  private readonly folders: Folders;
  private readonly blobs: Blobs;
  private readonly locks = new KeyedMutex();
  /** Watermarks as the disk has them (loaded on first use). */
  private readonly marks = new Map<number, number>();
  private readonly building = new Set<Promise<void>>();
  private closed = false;

  constructor(kv: Kv, folders: Folders, blobs: Blobs) {
    this.kv = kv;
    this.folders = folders;
    this.blobs = blobs;
  }

  private async watermark(folderId: number): Promise<number> {
    let mark = this.marks.get(folderId);
    if (mark === undefined) {
      mark = (await this.kv.get<number>(keys.fulltextMark(folderId))) ?? 0;
      mark = this.marks.get(folderId) ?? mark;
      this.marks.set(folderId, mark);
    }
    return mark;
  }

  private tail(folderId: number, mark: number): number {
    const folder = this.folders.get(folderId);
    return folder ? folder.uidNext - 1 - mark : 0;
  }

  /** Indexes the folder's tail if it is SEGMENT_MIN messages or more; one build per folder at a time. */
  async catchUp(folderId: number): Promise<void> {
    if (this.closed || this.tail(folderId, await this.watermark(folderId)) < SEGMENT_MIN) return;
    const job = this.locks.run(folderId, async () => {
      while (
        !this.closed &&
        this.folders.get(folderId) &&
        this.tail(folderId, await this.watermark(folderId)) >= SEGMENT_MIN
      ) {
        if (!(await this.buildSegment(folderId))) break;
      }
    });
    this.building.add(job);
    try {
      await job;
    } finally {
      this.building.delete(job);
    }
  }

  /** One segment over the next SEGMENT_MAX messages above the watermark; false when there were none. */
  private async buildSegment(folderId: number): Promise<boolean> {
    const mark = await this.watermark(folderId);
    const snapshot = this.kv.snapshot();
    let messages: Message[];
    let texts: Buffer[];
    const missing = new Map<string, Buffer>();
    try {
      messages = await snapshot.values<Message>({
        gte: keys.message(folderId, mark + 1),
        lt: ranges.folderMessages(folderId).lt,
        limit: SEGMENT_MAX,
      });
      if (messages.length === 0) return false;
      texts = await this.texts(messages, snapshot, missing);
    } finally {
      await snapshot.close();
    }
    for (const sha of missing.keys()) await this.blobs.load(sha);
    const postings: (number[] | undefined)[] = new Array(BUCKETS);
    const seen = new Uint8Array(BUCKETS);
    messages.forEach((m, i) => {
      for (const k of buckets(texts[i]!, seen)) {
        postings[k] ??= [];
        postings[k].push(m.uid);
      }
    });
    const tx = new Tx();
    const first = messages[0]!.uid;
    const last = messages[messages.length - 1]!.uid;
    for (let k = 0; k < BUCKETS; k++)
      if (postings[k]) tx.putBytes(keys.fulltextPostings(folderId, k, first), encodeUids(postings[k]!));
    // Texts computed for blobs stored before the index existed; only while the blob is still stored.
    for (const [sha, text] of missing) if (this.blobs.refCount(sha) > 0) tx.putBytes(keys.fulltext(sha), text);
    tx.put(keys.fulltextMark(folderId), last);
    tx.onCommit(() => this.marks.set(folderId, Math.max(this.marks.get(folderId) ?? 0, last)));
    await this.kv.commit(tx);
    return true;
  }

  /** The stored texts of messages as `from` has them; those stored before the index are computed from their bytes. */
  async texts(messages: Message[], from: Reader, computed = new Map<string, Buffer>()): Promise<Buffer[]> {
    const found = await from.getManyBytes(messages.map((m) => keys.fulltext(m.blob)));
    const out: Buffer[] = [];
    for (let i = 0; i < messages.length; i++) {
      let text = found[i] ?? computed.get(messages[i]!.blob);
      if (!text) {
        const m = messages[i]!;
        const raw = await this.blobs.read(m.blob, m.size, 0, m.size, from);
        text = fulltextText(raw, indexMessage(raw).root);
        computed.set(m.blob, text);
      }
      out.push(text);
    }
    return out;
  }

  /**
   * Messages of a folder that may contain every one of `strings` (search strings, folded here), or
   * null when one is shorter than 3 bytes (no window to look up: every message is a candidate).
   */
  async candidates(folderId: number, strings: string[]): Promise<Candidates | null> {
    const needles = strings.map((s) => Buffer.from(foldCase(s), 'utf8'));
    if (needles.some((n) => n.length < 3)) return null;
    await this.catchUp(folderId);
    // The watermark before the postings: a segment committed in between only adds candidates.
    const above = await this.watermark(folderId);
    const wanted = [...new Set(needles.flatMap((n) => buckets(n)))];
    const lists = await Promise.all(
      wanted.map(async (k) => {
        const uids: number[] = [];
        for (const value of await this.kv.valuesBytes(ranges.fulltextBucket(folderId, k))) decodeUids(value, uids);
        return uids;
      }),
    );
    lists.sort((a, b) => a.length - b.length);
    let uids = lists[0] ?? [];
    for (const list of lists.slice(1)) {
      if (uids.length === 0) break;
      uids = intersect(uids, list);
    }
    return { uids: new Set(uids), above };
  }

  /** Deletes a removed folder's segments and watermark, in its batch. */
  async removeFolder(tx: Tx, folderId: number): Promise<void> {
    await this.locks.run(folderId, async () => {
      for (const key of await this.kv.keys(ranges.fulltextFolder(folderId))) tx.del(key);
      tx.del(keys.fulltextMark(folderId));
      tx.onCommit(() => this.marks.delete(folderId));
    });
  }

  /** After a failed write: watermarks are read from the disk again. */
  forget(): void {
    this.marks.clear();
  }

  /** Waits for builds under way; none starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.building]);
  }
}
