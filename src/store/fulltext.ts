// Full-text index for IMAP SEARCH TEXT/BODY and the mailbox API search (issue 17). SEARCH is a
// substring match (RFC 3501 6.4.4), so a word index would change answers; this is a trigram filter
// plus verification:
// - `ft/<sha>`: per message content, the folded searchable text (mime/fulltext-text.ts), written with
//   the blob at delivery/APPEND and deleted with it (blobs.ts); COPY shares it.
// - `fq/<folder>/<bucket>/<first uid>`: posting segments. Every 3-byte window of a message's text is
//   hashed to one of 65,536 buckets; a segment holds, per bucket, the UIDs (delta varints) of a run
//   of consecutive messages of the folder that have it. A string of 3+ bytes can only occur in
//   messages listed under every bucket of its windows, so those are the only ones read and checked.
// - `fu/<folder>/<uid>`: the text again for each message a segment covers, written with the segment
//   and deleted when the message is expunged (messages.ts), so a search reads its candidates in key
//   order, close together on disk, instead of at random content hashes. Copies and moves reach the
//   target's tail and get theirs when the target's segment is built.
// - `fx/<folder>/<first uid>`: a segment's last UID and how many messages it indexed. A segment that
//   lost more than half of them to expunges is rebuilt over the rest (by the next search), so the
//   postings do not keep naming messages long gone.
// - `fv/<folder>`: the watermark, the highest UID the segments cover. Messages above it (the tail)
//   are always candidates. Segments are built off the write path, by the search that finds a tail
//   of SEGMENT_MIN or more messages. (Building them in the background after deliveries made
//   imaptest's stress run report keywords FETCHed before FLAGS announced them: a timing race in the
//   IMAP sessions that the extra commits widened; left to the session code.)
// An expunged message stays in its segment until the segment is compacted: a candidate whose record
// is gone is dropped by the search (UIDs are never reused), so answers stay exact.
// Stores written before this existed: blobs without `ft/` get it from their raw bytes when a segment
// is built over them. Folders indexed by the previous layout (`fp/` postings, `fw/` watermark, no
// per-folder texts) are indexed again from the start by their first search, which drops the old keys.
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

interface Segment {
  first: number;
  last: number;
  /** Messages it indexed when built. */
  count: number;
}

/** How many messages of the UID-ordered `sorted` have UIDs ≤ `uid`. */
function upperBound(sorted: readonly Message[], uid: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.uid <= uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * What searches of a folder found for one string: every message with UID ≤ `upTo` that contains it
 * is in `hits`. Content and UIDs never change (UIDs are never reused), so this stays true; an
 * expunged message just stops being asked about.
 */
export interface Confirmed {
  upTo: number;
  hits: ReadonlySet<number>;
}
/** Strings whose confirmed messages are kept (per store, least recently used dropped). */
const CONFIRMED_ENTRIES = 64;

export const isCandidate = (c: Candidates, uid: number): boolean => uid > c.above || c.uids.has(uid);

export class Fulltext {
  private readonly kv: Kv;
  private readonly folders: Folders;
  private readonly blobs: Blobs;
  private readonly locks = new KeyedMutex();
  /** Watermarks as the disk has them (loaded on first use). */
  private readonly marks = new Map<number, number>();
  /** Segment extents per folder, as the disk has them (loaded on first use). */
  private readonly segments = new Map<number, Segment[]>();
  private readonly building = new Set<Promise<void>>();
  private readonly confirmedHits = new Map<string, Confirmed>();
  private readonly list: (folderId: number) => Promise<readonly Message[]>;
  private closed = false;

  /** `list`: the folder's messages in UID order (the message-list cache), to see what expunges left. */
  constructor(kv: Kv, folders: Folders, blobs: Blobs, list: (folderId: number) => Promise<readonly Message[]>) {
    this.kv = kv;
    this.folders = folders;
    this.blobs = blobs;
    this.list = list;
  }

  private async segmentsOf(folderId: number): Promise<Segment[]> {
    let known = this.segments.get(folderId);
    if (!known) {
      const read = await this.kv.values<Segment>(ranges.fulltextSegments(folderId));
      known = this.segments.get(folderId) ?? read;
      this.segments.set(folderId, known);
    }
    return known;
  }

  /** Segments that lost more than half their messages. */
  private async sparse(folderId: number): Promise<Segment[]> {
    const segments = await this.segmentsOf(folderId);
    if (!segments.length) return [];
    const list = await this.list(folderId);
    return segments.filter((s) => (upperBound(list, s.last) - upperBound(list, s.first - 1)) * 2 < s.count);
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

  /**
   * Indexes the folder's tail if it is SEGMENT_MIN messages or more, and rebuilds segments that
   * expunges left mostly empty; one build per folder at a time.
   */
  async catchUp(folderId: number): Promise<void> {
    const due = async () =>
      this.tail(folderId, await this.watermark(folderId)) >= SEGMENT_MIN || (await this.sparse(folderId)).length > 0;
    if (this.closed || !(await due())) return;
    const job = this.locks.run(folderId, async () => {
      if (!(await this.watermark(folderId))) await this.dropLegacy(folderId);
      while (
        !this.closed &&
        this.folders.get(folderId) &&
        this.tail(folderId, await this.watermark(folderId)) >= SEGMENT_MIN
      ) {
        if (!(await this.buildSegment(folderId))) break;
      }
      for (const segment of this.closed || !this.folders.get(folderId) ? [] : await this.sparse(folderId))
        await this.compact(folderId, segment);
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
    const postings = this.postings(messages, texts);
    const tx = new Tx();
    const first = messages[0]!.uid;
    const last = messages[messages.length - 1]!.uid;
    for (let k = 0; k < BUCKETS; k++)
      if (postings[k]) tx.putBytes(keys.fulltextPostings(folderId, k, first), encodeUids(postings[k]!));
    // Texts computed for blobs stored before the index existed; only while the blob is still stored.
    for (const [sha, text] of missing) if (this.blobs.refCount(sha) > 0) tx.putBytes(keys.fulltext(sha), text);
    // A message expunged since the snapshot gets no per-folder text (nothing would delete it).
    const live = new Set((await this.list(folderId)).map((m) => m.uid));
    messages.forEach((m, i) => live.has(m.uid) && tx.putBytes(keys.fulltextText(folderId, m.uid), texts[i]!));
    const segment = { first, last, count: messages.length };
    tx.put(keys.fulltextSegment(folderId, first), segment);
    tx.put(keys.fulltextMark(folderId), last);
    const segments = await this.segmentsOf(folderId);
    tx.onCommit(() => {
      this.marks.set(folderId, Math.max(this.marks.get(folderId) ?? 0, last));
      segments.push(segment);
    });
    await this.kv.commit(tx);
    return true;
  }

  /** Rebuilds a segment over the messages expunges left in it (none: the segment goes). */
  private async compact(folderId: number, segment: Segment): Promise<void> {
    const snapshot = this.kv.snapshot();
    let messages: Message[];
    let texts: Buffer[];
    try {
      messages = await snapshot.values<Message>({
        gte: keys.message(folderId, segment.first),
        lte: keys.message(folderId, segment.last),
      });
      texts = await this.texts(messages, snapshot, new Map(), folderId);
    } finally {
      await snapshot.close();
    }
    const tx = new Tx();
    // Blind deletes of every bucket's key (cheaper than finding which exist); the puts after them win.
    for (let k = 0; k < BUCKETS; k++) tx.del(keys.fulltextPostings(folderId, k, segment.first));
    const postings = this.postings(messages, texts);
    for (let k = 0; k < BUCKETS; k++)
      if (postings[k]) tx.putBytes(keys.fulltextPostings(folderId, k, segment.first), encodeUids(postings[k]!));
    const count = messages.length;
    if (count) tx.put(keys.fulltextSegment(folderId, segment.first), { ...segment, count });
    else tx.del(keys.fulltextSegment(folderId, segment.first));
    const segments = await this.segmentsOf(folderId);
    tx.onCommit(() => {
      const at = segments.indexOf(segment);
      if (at >= 0 && count) segments[at] = { ...segment, count };
      else if (at >= 0) segments.splice(at, 1);
    });
    await this.kv.commit(tx);
  }

  private postings(messages: Message[], texts: Buffer[]): (number[] | undefined)[] {
    const postings: (number[] | undefined)[] = new Array(BUCKETS);
    const seen = new Uint8Array(BUCKETS);
    messages.forEach((m, i) => {
      for (const k of buckets(texts[i]!, seen)) {
        postings[k] ??= [];
        postings[k].push(m.uid);
      }
    });
    return postings;
  }

  /** A folder indexed by the previous layout: its keys are dropped (in chunks) and it is indexed again. */
  private async dropLegacy(folderId: number): Promise<void> {
    if ((await this.kv.get<number>(keys.legacyFulltextMark(folderId))) === undefined) return;
    for (;;) {
      const old = await this.kv.keys({ ...ranges.legacyFulltextFolder(folderId), limit: 50_000 });
      if (!old.length) break;
      const tx = new Tx();
      for (const key of old) tx.del(key);
      await this.kv.commit(tx);
    }
    const tx = new Tx();
    tx.del(keys.legacyFulltextMark(folderId));
    await this.kv.commit(tx);
  }

  /**
   * The stored texts of messages as `from` has them: with `folderId`, those the segments cover from
   * the folder's own keys (UID order), the others by content hash; those stored before the index
   * are computed from their bytes.
   */
  async texts(
    messages: Message[],
    from: Reader,
    computed = new Map<string, Buffer>(),
    folderId?: number,
  ): Promise<Buffer[]> {
    const mark = folderId === undefined ? 0 : (this.marks.get(folderId) ?? 0);
    const covered = mark ? messages.filter((m) => m.uid <= mark) : [];
    const own = covered.length ? await from.getManyBytes(covered.map((m) => keys.fulltextText(folderId!, m.uid))) : [];
    const byUid = new Map<number, Buffer>();
    covered.forEach((m, i) => own[i] && byUid.set(m.uid, own[i]));
    const rest = messages.filter((m) => !byUid.has(m.uid));
    const shared = await from.getManyBytes(rest.map((m) => keys.fulltext(m.blob)));
    const bySha = new Map<string, Buffer>();
    rest.forEach((m, i) => shared[i] && bySha.set(m.blob, shared[i]));
    const out: Buffer[] = [];
    for (let i = 0; i < messages.length; i++) {
      let text = byUid.get(messages[i]!.uid) ?? bySha.get(messages[i]!.blob) ?? computed.get(messages[i]!.blob);
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

  /** What earlier searches confirmed for a (folded) search string in a folder, BODY or TEXT. */
  confirmed(folderId: number, value: string, bodyOnly: boolean): Confirmed | undefined {
    const key = `${folderId}\0${bodyOnly}\0${value}`;
    const found = this.confirmedHits.get(key);
    if (found) {
      this.confirmedHits.delete(key);
      this.confirmedHits.set(key, found);
    }
    return found;
  }

  confirm(folderId: number, value: string, bodyOnly: boolean, found: Confirmed): void {
    const key = `${folderId}\0${bodyOnly}\0${value}`;
    this.confirmedHits.delete(key);
    this.confirmedHits.set(key, found);
    for (const old of this.confirmedHits.keys()) {
      if (this.confirmedHits.size <= CONFIRMED_ENTRIES) break;
      this.confirmedHits.delete(old);
    }
  }

  /** Deletes a removed folder's segments and watermark, in its batch. */
  async removeFolder(tx: Tx, folderId: number): Promise<void> {
    await this.locks.run(folderId, async () => {
      for (const range of ranges.fulltextFolder(folderId)) for (const key of await this.kv.keys(range)) tx.del(key);
      tx.del(keys.fulltextMark(folderId));
      tx.del(keys.legacyFulltextMark(folderId));
      tx.onCommit(() => {
        this.marks.delete(folderId);
        this.segments.delete(folderId);
        for (const key of this.confirmedHits.keys())
          if (key.startsWith(`${folderId}\0`)) this.confirmedHits.delete(key);
      });
    });
  }

  /** After a failed write: watermarks are read from the disk again. */
  forget(): void {
    this.marks.clear();
    this.segments.clear();
  }

  /** Waits for builds under way; none starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.building]);
  }
}
