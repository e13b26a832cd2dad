// Full-text index for IMAP SEARCH TEXT/BODY and the mailbox API search (issue 17). SEARCH is a
// substring match (RFC 3501 6.4.4), answered from a word index that needs no text to be exact:
// - `ft/<sha>`: per message content, the folded searchable text (mime/fulltext-text.ts), written with
//   the blob at delivery/APPEND and deleted with it (blobs.ts); COPY shares it.
// - Words: the maximal runs of word bytes (ASCII letters and digits, and every byte of a non-ASCII
//   UTF-8 character) of that text. A string made of word bytes only can never straddle a separator,
//   so it occurs in a text exactly when it occurs inside one of the text's words: the messages whose
//   words contain it are the answer, with no text read. A string with separators ("a b", "x@y") is
//   narrowed to the messages having each of its words inside one of theirs, and those are checked on
//   their text.
// - `fr/<folder>/<first uid>`: a run, one binary value: the sorted distinct words of a range of the
//   folder's messages (UID order) and, per word, the UIDs having it (delta varints, a bit saying
//   whether it occurs in the body section, for BODY). Runs are built after delivery, in a background
//   step after the commit, once RUN_MIN messages arrived (the tail), and merged like a binary counter
//   (a run as large as the one before it merges into it, up to RUN_MAX) so a folder has few. Kept in
//   memory, parsed, per folder, up to MEMORY_CAP bytes (least recently searched folders dropped;
//   read back from disk when searched again).
// - `fm/<folder>`: the folder's runs as stored ([first, last, count] each), written with every change
//   to them. On a shared store (several nodes, ARCHITECTURE §4.8) one node at a time changes a
//   folder's runs, under the lease `fulltext/<folder>`; it first makes its memory what `fm/` says
//   (reading only the runs it lacks), and its batch expects `fm/` as it read it, so two nodes' runs
//   can never be written over each other. Other nodes learn of it from the change feed (`^fm/…`) and
//   bring their runs in step at their next search. Their memory between is older, never wrong: a run
//   replaced by a merge or rewrite still names what it did, and what lies above it is the tail.
// The tail (messages above the last run, fewer than RUN_MIN unless imported in bulk) is always checked
// on its text. Expunged messages stay named in a run until a merge or compaction drops them (a run
// that lost half its messages is rewritten without them); searches ask only about live messages.
// Stores written before this existed: blobs without `ft/` get it from their raw bytes when a run is
// built over them. Folders indexed by the trigram layouts (`fv/`/`fw/` watermarks, `fq/`, `fu/`,
// `fx/`, `fp/` keys) have those keys dropped and are indexed again by the first search or delivery.
import type { Kv, Reader } from './db.ts';
import type { Blobs } from './blobs.ts';
import { StoreConflictError } from './committer.ts';
import type { Folders } from './folders.ts';
import { keys, ranges } from './keys.ts';
import { withLease } from './leases.ts';
import { KeyedMutex } from './mutex.ts';
import { Tx } from './tx.ts';
import type { Message } from './types.ts';
import { endianness } from 'node:os';
import { indexMessage } from '../mime/index.ts';
import { foldCase, fulltextText, SECTION_BREAK } from '../mime/fulltext-text.ts';

/** A tail this long becomes a run. */
export const RUN_MIN = 256;
/** Messages per run built from texts at most (bounds a build's memory). */
const BUILD_MAX = 4096;
/** Runs are not merged past this many messages (bounds a merge's time and the rewrite). */
const RUN_MAX = 16_384;
/** Parsed runs kept in memory, all folders together. */
const MEMORY_CAP = 256 * 1024 * 1024;
/** Runs read into memory at startup, in the background, all folders together. */
const PRELOAD_BYTES = 64 * 1024 * 1024;
/** Work between two yields to the event loop in builds and merges (words or messages). */
const YIELD_EVERY = 20_000;
/** UID spans up to this are looked up in a byte array, wider ones (sparse UIDs) in a set. */
const BITMAP_MAX = 1 << 26;

const WORD = /[0-9A-Za-z\x80-\xff]+/g;
const WORD_ONLY = /^[0-9A-Za-z\x80-\xff]+$/;
const NEWLINE = 10;
const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve));

/** One run, parsed: `dict` is its words joined by "\n" (bytes of the stored value, searched as latin1). */
interface Run {
  first: number;
  last: number;
  /** Messages it indexed when written. */
  count: number;
  dict: Buffer;
  /** `dict` as a latin1 string (one char per byte), made when a merge first walks its words. */
  text?: string;
  /** Start of word i in `dict` (and dict.length + 1 at the end). */
  starts: Uint32Array;
  /** Start of word i's postings in `post` (and post.length at the end). */
  offs: Uint32Array;
  post: Buffer;
  /** The run as stored. */
  raw: Buffer;
  bytes: number;
}

/** Per word, its entries in UID order: uid * 2 + 1 when it occurs in the body section, uid * 2 if only in headers. */
type Words = Map<string, number[]>;

function writeVarint(out: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

/** Layout: first, last, count, word count, dict length (u32 LE each), dict, offsets (u32 each), postings. */
function encodeRun(first: number, last: number, count: number, words: Words): Buffer {
  const sorted = [...words.keys()].sort();
  const dict = Buffer.from(sorted.join('\n'), 'latin1');
  let entries = 0;
  for (const list of words.values()) entries += list.length;
  const post = Buffer.allocUnsafe(entries * 6);
  const offs = Buffer.allocUnsafe((sorted.length + 1) * 4);
  let at = 0;
  sorted.forEach((word, i) => {
    offs.writeUInt32LE(at, i * 4);
    let prev = first - 1;
    for (const e of words.get(word)!) {
      const uid = Math.floor(e / 2);
      at = writeVarint(post, at, (uid - prev) * 2 + (e % 2));
      prev = uid;
    }
  });
  offs.writeUInt32LE(at, sorted.length * 4);
  return Buffer.concat([head(first, last, count, sorted.length, dict.length), dict, offs, post.subarray(0, at)]);
}

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * A stored run, ready to search: the words stay the stored bytes (searched with Buffer.indexOf, no
 * string made), the offsets table is used in place when aligned (copied once otherwise); only the
 * word starts are computed. What the first search after a restart pays per run (issue 17).
 */
function parseRun(buf: Buffer): Run {
  const [first, last, count, n, dictLength] = [0, 1, 2, 3, 4].map((i) => buf.readUInt32LE(i * 4)) as number[];
  const dict = buf.subarray(20, 20 + dictLength!);
  const starts = new Uint32Array(n! + 1);
  for (let i = 1, w = 1; i < dict.length && w < n!; i++) if (dict[i - 1] === NEWLINE) starts[w++] = i;
  starts[n!] = dictLength! + 1;
  const offsAt = 20 + dictLength!;
  let offs: Uint32Array;
  if (LITTLE_ENDIAN && (buf.byteOffset + offsAt) % 4 === 0)
    offs = new Uint32Array(buf.buffer, buf.byteOffset + offsAt, n! + 1);
  else if (LITTLE_ENDIAN) {
    offs = new Uint32Array(n! + 1);
    buf.copy(new Uint8Array(offs.buffer), 0, offsAt, offsAt + (n! + 1) * 4);
  } else {
    offs = new Uint32Array(n! + 1);
    for (let i = 0; i <= n!; i++) offs[i] = buf.readUInt32LE(offsAt + i * 4);
  }
  const post = buf.subarray(offsAt + (n! + 1) * 4);
  return {
    first: first!,
    last: last!,
    count: count!,
    dict,
    starts,
    offs,
    post,
    raw: buf,
    bytes: buf.length + starts.byteLength,
  };
}

/** The run's words as one latin1 string (merges slice words out of it). */
const dictText = (run: Run): string => (run.text ??= run.dict.toString('latin1'));

/** Calls `each(uid, inBody)` for every entry of word `w`. */
function forEntry(run: Run, w: number, each: (uid: number, inBody: boolean) => void): void {
  const { post } = run;
  let uid = run.first - 1;
  for (let i = run.offs[w]!, end = run.offs[w + 1]!; i < end; ) {
    let d = 0;
    let shift = 1;
    let b: number;
    do {
      b = post[i++]!;
      d += (b & 0x7f) * shift;
      shift *= 128;
    } while (b & 0x80);
    uid += Math.floor(d / 2);
    each(uid, d % 2 === 1);
  }
}

/** The word of `run` at dict offset `at`. */
function wordAt(run: Run, at: number): number {
  let lo = 0;
  let hi = run.starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (run.starts[mid]! <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Calls `mark` for the UIDs of `run` with a word containing `part` (word bytes only, latin1). */
function lookupRun(run: Run, part: Buffer, bodyOnly: boolean, mark: (uid: number) => void): void {
  const each = bodyOnly ? (uid: number, inBody: boolean) => inBody && mark(uid) : mark;
  for (let at = run.dict.indexOf(part); at !== -1; ) {
    const w = wordAt(run, at);
    forEntry(run, w, each);
    at = run.dict.indexOf(part, run.starts[w + 1]!);
  }
}

/**
 * lookupRun into a byte array, the postings decoded in place (no call per entry): sets
 * marks[uid - base] for each UID found; returns how many were not set yet. A string in most
 * messages ("the": 86,903 of 100,000) walks the postings of thousands of words (issue 17).
 */
function markRun(run: Run, part: Buffer, bodyOnly: boolean, marks: Uint8Array, base: number): number {
  const { dict, starts, offs, post } = run;
  let added = 0;
  for (let at = dict.indexOf(part); at !== -1; ) {
    const w = wordAt(run, at);
    let i = run.offs[w]!;
    const end = offs[w + 1]!;
    let at0 = run.first - 1 - base; // the UID as an index into marks
    while (i < end) {
      let b = post[i++]!;
      let d = b & 0x7f;
      for (let shift = 128; b & 0x80; shift *= 128) {
        b = post[i++]!;
        d += (b & 0x7f) * shift;
      }
      at0 += Math.floor(d / 2);
      if (bodyOnly && d % 2 === 0) continue;
      if (marks[at0] === 0) {
        marks[at0] = 1;
        added++;
      }
    }
    at = dict.indexOf(part, starts[w + 1]!);
  }
  return added;
}

/** UIDs having a word that contains `part`: marked in an array (words' postings overlap), kept as marked. */
function lookup(runs: Run[], part: string, bodyOnly: boolean): UidSet {
  const needle = Buffer.from(part, 'latin1');
  const base = runs[0]?.first ?? 0;
  const span = (runs.at(-1)?.last ?? 0) - base + 1;
  if (span > BITMAP_MAX) {
    const found = new Set<number>();
    for (const run of runs) lookupRun(run, needle, bodyOnly, (uid) => found.add(uid));
    return found;
  }
  const marks = new Uint8Array(Math.max(span, 0));
  let size = 0;
  for (const run of runs) size += markRun(run, needle, bodyOnly, marks, base);
  return new UidMarks(base, marks, size);
}

/** Word bytes (WORD's class) by value: the tokenizer's byte loop is twice as fast as matchAll. */
const IS_WORD = Uint8Array.from({ length: 256 }, (_, b) =>
  (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b >= 0x80 ? 1 : 0,
);

/** Adds a message's words to `words` (distinct per message; the body bit wins over headers). */
function addWords(words: Words, uid: number, text: Buffer): void {
  const s = text.toString('latin1');
  const body = text.indexOf(SECTION_BREAK);
  const own = new Map<string, number>();
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    if (i < text.length && IS_WORD[text[i]!]) {
      if (start < 0) start = i;
      continue;
    }
    if (start < 0) continue;
    const word = s.slice(start, i);
    const inBody = body >= 0 && start > body ? 1 : 0;
    const had = own.get(word);
    if (had === undefined || had < inBody) own.set(word, inBody);
    start = -1;
  }
  for (const [word, inBody] of own) {
    let list = words.get(word);
    if (!list) words.set(word, (list = []));
    list.push(uid * 2 + inBody);
  }
}

/**
 * Consecutive runs (UID order) as one, keeping only messages in `live`: their sorted word lists are
 * merged and each word's UIDs re-encoded straight from theirs (no text read, no per-word arrays).
 */
async function mergeRuns(runs: Run[], live: Set<number>, count: number): Promise<Buffer> {
  const first = runs[0]!.first;
  let bound = 0;
  for (const run of runs) bound += run.post.length + 5 * (run.starts.length - 1);
  const post = Buffer.allocUnsafe(bound);
  const words: string[] = [];
  const offs: number[] = [];
  const next = runs.map(() => 0); // the next word of each run
  const wordOf = (r: number) => {
    const run = runs[r]!;
    const w = next[r]!;
    return w + 1 < run.starts.length ? dictText(run).slice(run.starts[w], run.starts[w + 1]! - 1) : null;
  };
  const heads = runs.map((_, r) => wordOf(r));
  let at = 0;
  let work = 0;
  for (;;) {
    let word: string | null = null;
    for (const h of heads) if (h !== null && (word === null || h < word)) word = h;
    if (word === null) break;
    const start = at;
    let prev = first - 1;
    heads.forEach((h, r) => {
      if (h !== word) return;
      forEntry(runs[r]!, next[r]!, (uid, inBody) => {
        if (!live.has(uid)) return;
        at = writeVarint(post, at, (uid - prev) * 2 + (inBody ? 1 : 0));
        prev = uid;
      });
      next[r]!++;
      heads[r] = wordOf(r);
    });
    if (at > start) {
      words.push(word);
      offs.push(start);
    }
    if (++work % YIELD_EVERY === 0) await yieldNow();
  }
  offs.push(at);
  const dict = Buffer.from(words.join('\n'), 'latin1');
  const offsBytes = Buffer.allocUnsafe(offs.length * 4);
  offs.forEach((o, i) => offsBytes.writeUInt32LE(o, i * 4));
  return Buffer.concat([
    head(first, runs.at(-1)!.last, count, words.length, dict.length),
    dict,
    offsBytes,
    post.subarray(0, at),
  ]);
}

function head(first: number, last: number, count: number, words: number, dictLength: number): Buffer {
  const out = Buffer.allocUnsafe(20);
  [first, last, count, words, dictLength].forEach((n, i) => out.writeUInt32LE(n, i * 4));
  return out;
}

/** UIDs found by the index: a Set, or the marks a lookup made (UidMarks); iterated in ascending order. */
export interface UidSet extends Iterable<number> {
  readonly size: number;
  has(uid: number): boolean;
}

/**
 * The UIDs of [base, base + marks.length) whose byte is 1: the lookup's own array kept as the answer,
 * so a string in most messages costs no set of them (86,903 UIDs for "the" in 100,000, issue 17).
 */
export class UidMarks implements UidSet {
  readonly base: number;
  readonly marks: Uint8Array;
  readonly size: number;

  constructor(base: number, marks: Uint8Array, size: number) {
    this.base = base;
    this.marks = marks;
    this.size = size;
  }

  has(uid: number): boolean {
    return this.marks[uid - this.base] === 1; // undefined outside the array
  }

  *[Symbol.iterator](): Iterator<number> {
    const { marks, base } = this;
    for (let i = marks.indexOf(1); i !== -1; i = marks.indexOf(1, i + 1)) yield base + i;
  }
}

/** Messages that may contain a string: the listed UIDs, and every UID above `above` (not indexed yet). */
export interface Candidates {
  uids: UidSet;
  above: number;
  /** The listed UIDs are exactly the messages up to `above` that contain it: no text to check. */
  exact: boolean;
}

export const isCandidate = (c: Candidates, uid: number): boolean => uid > c.above || c.uids.has(uid);

/** Whether the text of message `uid` must be read to know if it matches (not decided by the index). */
export const needsText = (c: Candidates, uid: number): boolean => uid > c.above || (!c.exact && c.uids.has(uid));

interface FolderIndex {
  /** Consecutive, in UID order; replaced (never changed in place) on commit. */
  runs: Run[];
  /** `fm/` as these runs were read or written (null: none stored, the runs were read from their keys). */
  map: Buffer | null;
  /** Shared store: another node changed the folder's runs (a change-feed note); sync before use. */
  stale?: boolean;
}

/** `fm/` of a list of runs. */
const mapOf = (runs: Run[]): Buffer => Buffer.from(JSON.stringify(runs.map((r) => [r.first, r.last, r.count])));

export class Fulltext {
  private readonly kv: Kv;
  private readonly folders: Folders;
  private readonly blobs: Blobs;
  private readonly locks = new KeyedMutex();
  /** Parsed runs per folder, least recently used first (Map order). */
  private readonly loaded = new Map<number, FolderIndex>();
  private readonly building = new Set<Promise<void>>();
  private readonly scheduled = new Set<number>();
  /** The last UID each folder's runs cover, kept when its runs leave memory (to judge its tail). */
  private readonly marks = new Map<number, number>();
  private readonly list: (folderId: number) => Promise<readonly Message[]>;
  private closed = false;
  /** Several nodes on one database: runs are changed under a lease, with `fm/` expected. */
  private readonly shared: boolean;

  /** `list`: the folder's messages in UID order (the message-list cache), to see what expunges left. */
  constructor(kv: Kv, folders: Folders, blobs: Blobs, list: (folderId: number) => Promise<readonly Message[]>) {
    this.kv = kv;
    this.folders = folders;
    this.blobs = blobs;
    this.list = list;
    this.shared = kv.engine.shared !== undefined;
  }

  /** The folder's runs, read from disk when not in memory; under the folder's lock. */
  private async loadLocked(folderId: number): Promise<FolderIndex> {
    let index = this.loaded.get(folderId);
    if (index) {
      this.loaded.delete(folderId);
      this.loaded.set(folderId, index);
      return index;
    }
    await this.dropLegacy(folderId);
    const map = this.shared ? ((await this.kv.getBytes(keys.fulltextMap(folderId))) ?? null) : null;
    const runs = (await this.kv.valuesBytes(ranges.fulltextRuns(folderId))).map(parseRun);
    // Read after the map: a change between makes the map older than the runs, so the next sync reads again.
    index = { runs, map };
    this.loaded.set(folderId, index);
    this.marks.set(folderId, runs.at(-1)?.last ?? 0);
    this.trim();
    return index;
  }

  private async index(folderId: number): Promise<FolderIndex> {
    const index = this.loaded.get(folderId);
    if (index?.stale)
      return this.locks.run(folderId, async () => {
        const current = await this.loadLocked(folderId);
        await this.sync(folderId, current);
        return current;
      });
    if (index) {
      this.loaded.delete(folderId);
      this.loaded.set(folderId, index);
      return index;
    }
    return this.locks.run(folderId, () => this.loadLocked(folderId));
  }

  /** Drops the least recently searched folders' runs from memory past MEMORY_CAP (not the last one). */
  private trim(): void {
    let total = 0;
    for (const index of this.loaded.values()) for (const run of index.runs) total += run.bytes;
    for (const [id, index] of this.loaded) {
      if (total <= MEMORY_CAP || this.loaded.size <= 1) break;
      for (const run of index.runs) total -= run.bytes;
      this.loaded.delete(id);
    }
  }

  /**
   * Shared store: makes the folder's runs in memory what `fm/` says is stored, reading only the runs
   * memory lacks (a run is known by its first, last and count: UIDs are never reused, so a range with
   * as many live messages has the same ones). Without `fm/` (runs written before it) every run is read.
   */
  private async sync(folderId: number, index: FolderIndex): Promise<void> {
    index.stale = false;
    const map = (await this.kv.getBytes(keys.fulltextMap(folderId))) ?? null;
    if (map && index.map && map.equals(index.map)) return;
    let runs: Run[];
    if (!map) runs = (await this.kv.valuesBytes(ranges.fulltextRuns(folderId))).map(parseRun);
    else {
      const have = new Map(index.runs.map((r) => [`${r.first},${r.last},${r.count}`, r]));
      const wanted = JSON.parse(map.toString('utf8')) as [number, number, number][];
      const missing = wanted.filter(([f, l, c]) => !have.has(`${f},${l},${c}`));
      const read = await this.kv.getManyBytes(missing.map(([first]) => keys.fulltextRun(folderId, first)));
      for (const [i, bytes] of read.entries()) {
        const run = bytes && parseRun(bytes);
        // Changed again since the map was read: the next sync (the next note) reads it again.
        if (run) have.set(`${missing[i]![0]},${missing[i]![1]},${missing[i]![2]}`, run);
      }
      runs = wanted.flatMap(([f, l, c]) => have.get(`${f},${l},${c}`) ?? []);
      if (runs.length !== wanted.length) {
        index.stale = true;
        runs = runs.filter((r, i) => i === 0 || r.first > runs[i - 1]!.last); // keep them consecutive
      }
    }
    index.runs = runs;
    index.map = map;
    this.marks.set(folderId, runs.at(-1)?.last ?? 0);
    this.trim();
  }

  /** Shared store: another node changed the folder's runs; the next search brings memory in step. */
  foreign(folderId: number | '*'): void {
    for (const [id, index] of this.loaded) if (folderId === '*' || id === folderId) index.stale = true;
    if (folderId === '*') this.marks.clear();
    else this.marks.delete(folderId);
  }

  /** Puts `fm/` for `runs` in `tx`, expecting it as memory has it on a shared store. */
  private writeMap(tx: Tx, folderId: number, index: FolderIndex, runs: Run[]): Buffer {
    const map = mapOf(runs);
    if (this.shared) tx.expect(keys.fulltextMap(folderId), index.map);
    tx.putBytes(keys.fulltextMap(folderId), map);
    return map;
  }

  /** The folder's messages for merges and rewrites: on a shared store as stored (the list cache may lag). */
  private live(folderId: number): Promise<readonly Message[]> {
    return this.shared ? this.kv.values<Message>(ranges.folderMessages(folderId)) : this.list(folderId);
  }

  private tail(folderId: number, index: FolderIndex): number {
    return this.tailAbove(folderId, index.runs.at(-1)?.last ?? 0);
  }

  private tailAbove(folderId: number, mark: number): number {
    const folder = this.folders.get(folderId);
    return folder ? folder.uidNext - 1 - mark : 0;
  }

  /**
   * After a commit that added or expunged messages of a folder: a background step (one per folder
   * at a time) indexes its tail once RUN_MIN messages long and rewrites runs expunges emptied.
   */
  changed(folderId: number, expunged = false): void {
    if (this.closed || this.scheduled.has(folderId)) return;
    const mark = this.marks.get(folderId);
    if (!expunged && mark !== undefined && this.tailAbove(folderId, mark) < RUN_MIN) return;
    this.scheduled.add(folderId);
    setImmediate(() => {
      this.scheduled.delete(folderId);
      this.catchUp(folderId).catch(() => {}); // a failed build is retried by the next change or search
    });
  }

  /**
   * Indexes the folder's tail if it is RUN_MIN messages or more, merges runs and rewrites those
   * expunges left half empty; one build per folder at a time.
   */
  async catchUp(folderId: number): Promise<void> {
    if (this.closed) return;
    const work = async () => {
      const index = await this.loadLocked(folderId);
      if (this.shared) await this.sync(folderId, index); // under the lease: what the last holder wrote
      while (!this.closed && this.folders.get(folderId) && this.tail(folderId, index) >= RUN_MIN)
        if (!(await this.buildRun(folderId, index))) break;
      if (!this.closed && this.folders.get(folderId)) await this.compact(folderId, index);
    };
    // Shared store: one node at a time changes a folder's runs; a node that finds the lease held skips
    // (the holder builds what is there, and a search meanwhile reads the tail's texts).
    const job = this.locks.run(folderId, async () => {
      if (!this.shared) return work();
      const { leases } = this.kv.engine;
      try {
        await withLease({ leases }, `fulltext/${folderId}`, work);
      } catch (err) {
        // Another node changed the runs though this one held the lease (it lapsed): in step at the next try.
        if (!(err instanceof StoreConflictError)) throw err;
        const index = this.loaded.get(folderId);
        if (index) index.stale = true;
      }
    });
    this.building.add(job);
    try {
      await job;
    } finally {
      this.building.delete(job);
    }
  }

  /** One run over the next BUILD_MAX messages above the last run, then merges; false when fewer than RUN_MIN are there. */
  private async buildRun(folderId: number, index: FolderIndex): Promise<boolean> {
    const mark = index.runs.at(-1)?.last ?? 0;
    const snapshot = this.kv.snapshot();
    const missing = new Map<string, Buffer>();
    const words: Words = new Map();
    let messages: Message[];
    try {
      messages = await snapshot.values<Message>({
        gte: keys.message(folderId, mark + 1),
        lt: ranges.folderMessages(folderId).lt,
        limit: BUILD_MAX,
      });
      // UIDNEXT counts messages of batches not committed yet, and expunged ones: no run smaller than RUN_MIN.
      if (messages.length < RUN_MIN) return false;
      for (let i = 0; i < messages.length; i += 64) {
        const slice = messages.slice(i, i + 64);
        const texts = await this.texts(slice, snapshot, missing);
        slice.forEach((m, j) => addWords(words, m.uid, texts[j]!));
        await yieldNow();
      }
    } finally {
      await snapshot.close();
    }
    for (const sha of missing.keys()) await this.blobs.load(sha);
    const tx = new Tx();
    // Texts computed for blobs stored before the index existed; only while the blob is still stored.
    for (const [sha, text] of missing) if (this.blobs.refCount(sha) > 0) tx.putBytes(keys.fulltext(sha), text);
    const first = mark + 1;
    const last = messages.at(-1)!.uid;
    const built = parseRun(encodeRun(first, last, messages.length, words));
    const runs = [...index.runs, built];
    // Binary counter: a run at least as large as the one before it merges into it.
    let live: Set<number> | undefined;
    while (runs.length >= 2) {
      const [a, b] = [runs.at(-2)!, runs.at(-1)!];
      if (a.count > b.count || a.count + b.count > RUN_MAX) break;
      const list = await this.live(folderId);
      live ??= new Set(list.map((m) => m.uid));
      const count = upperBound(list, b.last) - upperBound(list, a.first - 1);
      tx.del(keys.fulltextRun(folderId, b.first));
      runs.splice(-2, 2, parseRun(await mergeRuns([a, b], live, count))); // expunged messages are left out
    }
    const top = runs.at(-1)!;
    tx.putBytes(keys.fulltextRun(folderId, top.first), top.raw);
    const map = this.writeMap(tx, folderId, index, runs);
    tx.onCommit(() => {
      index.runs = runs;
      index.map = map;
      this.marks.set(folderId, runs.at(-1)!.last);
      this.trim();
    });
    await this.kv.commit(tx);
    return true;
  }

  /** Rewrites runs that lost more than half their messages to expunges without them (none left: dropped). */
  private async compact(folderId: number, index: FolderIndex): Promise<void> {
    if (!index.runs.length) return;
    const list = await this.live(folderId);
    const liveIn = (run: Run) => upperBound(list, run.last) - upperBound(list, run.first - 1);
    const sparse = index.runs.filter((run) => liveIn(run) * 2 < run.count);
    if (!sparse.length) return;
    const live = new Set(list.map((m) => m.uid));
    const tx = new Tx();
    const runs = [...index.runs];
    for (const run of sparse) {
      const at = runs.indexOf(run);
      const count = liveIn(run);
      if (count === 0 && at < runs.length - 1) {
        tx.del(keys.fulltextRun(folderId, run.first));
        runs.splice(at, 1);
        continue;
      }
      // The last run stays, even empty: it holds the folder's watermark.
      const rewritten = parseRun(await mergeRuns([run], live, count));
      tx.putBytes(keys.fulltextRun(folderId, run.first), rewritten.raw);
      runs[at] = rewritten;
    }
    const map = this.writeMap(tx, folderId, index, runs);
    tx.onCommit(() => {
      index.runs = runs;
      index.map = map;
    });
    await this.kv.commit(tx);
  }

  /** A folder indexed by a trigram layout: its keys are dropped (in chunks) and it is indexed again. */
  private async dropLegacy(folderId: number): Promise<void> {
    const marks = keys.legacyFulltextMarks(folderId);
    const found = await this.kv.getManyBytes(marks);
    if (found.every((v) => v === undefined)) return;
    for (const range of ranges.legacyFulltextFolder(folderId))
      for (;;) {
        const old = await this.kv.keys({ ...range, limit: 50_000 });
        if (!old.length) break;
        const tx = new Tx();
        for (const key of old) tx.del(key);
        await this.kv.commit(tx);
      }
    const tx = new Tx();
    for (const key of marks) tx.del(key);
    await this.kv.commit(tx);
  }

  /** The stored texts of messages as `from` has them; those stored before the index are computed from their bytes. */
  async texts(messages: Message[], from: Reader, computed = new Map<string, Buffer>()): Promise<Buffer[]> {
    const stored = await from.getManyBytes(messages.map((m) => keys.fulltext(m.blob)));
    const out: Buffer[] = [];
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      let text = stored[i] ?? computed.get(m.blob);
      if (!text) {
        const raw = await this.blobs.read(m.blob, m.size, 0, m.size, from);
        text = fulltextText(raw, indexMessage(raw).root);
        computed.set(m.blob, text);
      }
      out.push(text);
    }
    return out;
  }

  /**
   * Messages of a folder that may contain every one of `strings` (search strings, folded here; in
   * the body section with `bodyOnly`), or null when none has a word byte to look up (every message
   * is a candidate). Exact when every string is made of word bytes only.
   */
  async candidates(folderId: number, strings: string[], bodyOnly = false): Promise<Candidates | null> {
    let index = await this.index(folderId);
    // A tail left by a bulk import or an older store: indexed now rather than read text by text.
    if (this.tail(folderId, index) >= RUN_MIN) {
      await this.catchUp(folderId);
      index = await this.index(folderId);
    }
    const runs = index.runs; // one consistent list: a build commits a new one
    const above = runs.at(-1)?.last ?? 0;
    let uids: UidSet | null = null;
    let exact = true;
    for (const s of strings) {
      const needle = Buffer.from(foldCase(s), 'utf8').toString('latin1');
      const parts = WORD_ONLY.test(needle) ? [needle] : (needle.match(WORD) ?? []);
      if (parts.length !== 1 || parts[0] !== needle) exact = false;
      for (const part of parts) {
        const found = lookup(runs, part, bodyOnly);
        uids = uids ? intersect(uids, found) : found;
      }
    }
    return uids ? { uids, above, exact } : null;
  }

  /**
   * At startup, in the background: reads the runs of the largest folders (by message count) into
   * memory until PRELOAD_BYTES are held, so that the first search after a restart finds them parsed
   * (reading a 100,000-message folder's 41 MiB of runs took 1.6–4.7 s at load 18). A search of the
   * folder being read waits for that read (the folder's lock) rather than reading it again. Resolves
   * when done; never rejects.
   */
  preload(): Promise<void> {
    const job = (async () => {
      const folders = this.folders
        .accounts()
        .flatMap((id) => this.folders.list(id))
        .filter((f) => f.exists >= RUN_MIN)
        .sort((a, b) => b.exists - a.exists);
      let held = 0;
      for (const folder of folders) {
        if (this.closed || held >= PRELOAD_BYTES) break;
        const index = await this.locks.run(folder.id, () => this.loadLocked(folder.id));
        for (const run of index.runs) held += run.bytes;
        await yieldNow();
      }
    })().catch(() => {}); // what was not read is read by the first search, as before
    this.building.add(job);
    void job.finally(() => this.building.delete(job));
    return job;
  }

  /** Deletes a removed folder's runs (and any older layout's keys), in its batch. */
  async removeFolder(tx: Tx, folderId: number): Promise<void> {
    await this.locks.run(folderId, async () => {
      for (const range of ranges.fulltextFolder(folderId)) for (const key of await this.kv.keys(range)) tx.del(key);
      for (const key of keys.legacyFulltextMarks(folderId)) tx.del(key);
      tx.del(keys.fulltextMap(folderId));
      tx.onCommit(() => {
        this.loaded.delete(folderId);
        this.marks.delete(folderId);
      });
    });
  }

  /** After a failed write: runs are read from the disk again. */
  forget(): void {
    this.loaded.clear();
    this.marks.clear();
  }

  /** Waits for builds under way; none starts afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.building]);
  }
}

function intersect(a: UidSet, b: UidSet): UidSet {
  if (a instanceof UidMarks && b instanceof UidMarks && a.base === b.base && a.marks.length === b.marks.length) {
    const marks = new Uint8Array(a.marks.length);
    let size = 0;
    for (let i = 0; i < marks.length; i++) size += marks[i] = a.marks[i]! & b.marks[i]!;
    return new UidMarks(a.base, marks, size);
  }
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  const out = new Set<number>();
  for (const uid of small) if (large.has(uid)) out.add(uid);
  return out;
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
