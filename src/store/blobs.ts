import { createHash } from 'node:crypto';
import type { Kv, Reader } from './db.ts';
import { ContentCache } from './content-cache.ts';
import { StoreConflictError } from './committer.ts';
import { keys } from './keys.ts';
import type { Tx } from './tx.ts';
import type { MessageIndex, SearchFields } from '../mime/types.ts';
import { bodyStructureToImap } from '../mime/bodystructure.ts';
import { envelopeToImap } from '../mime/envelope.ts';
import { fulltextText } from '../mime/fulltext-text.ts';
import { extractText } from '../mime/search-text.ts';

/** What FETCH needs (tree, ENVELOPE); kept apart from the search fields, which can be large. */
export type MessageStructure = Omit<MessageIndex, 'search'>;

/** The search fields without body text, header block and attachments: all SORT and THREAD use, and most SEARCH keys. */
export type HeaderFields = Omit<SearchFields, 'text' | 'headers' | 'attachments'>;

// Kept beside the full search fields so header-only searches and sorts do not decode every body's
// text. Blobs stored before it existed have none; headerFields() falls back to the full record.

function pickHeaderFields(f: SearchFields): HeaderFields {
  return {
    from: f.from,
    to: f.to,
    cc: f.cc,
    bcc: f.bcc,
    subject: f.subject,
    date: f.date,
    dateOffset: f.dateOffset,
    messageId: f.messageId,
    inReplyTo: f.inReplyTo,
    references: f.references,
  };
}

/**
 * A `bs/` record keeps the body text whole up to SEARCH_TEXT_KEPT characters; past that only its first
 * SEARCH_TEXT_KEPT characters, marked `textCut`. The whole text is a function of the blob's bytes and
 * structure (extractText), both stored, so it is extracted from them again when a reader wants it all
 * (Blobs.searchFields): writing it a second time cost a third of a large message's commit, and the
 * full-text record (`ft/`) already holds the words SEARCH looks for. Records stored before the cut
 * hold the whole text, and read as they are.
 */
export const SEARCH_TEXT_KEPT = 4096;
/** A cut text, blanks collapsed (collapseBlanks), is at least this long in UTF-8: previews up to it are exact. */
export const SEARCH_TEXT_PREFIX_BYTES = 1024;

/** Runs of white space as one space, none at either end: how previews and snippets show body text. */
export const collapseBlanks = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** Search fields as `bs/` stores them: `text` is only a prefix of the body text when `textCut`. */
export type StoredSearchFields = SearchFields & { textCut?: true };

function storedSearchFields(search: SearchFields): StoredSearchFields {
  if (search.text.length <= SEARCH_TEXT_KEPT) return search;
  const high = search.text.charCodeAt(SEARCH_TEXT_KEPT - 1);
  const text = search.text.slice(0, high >= 0xd800 && high <= 0xdbff ? SEARCH_TEXT_KEPT - 1 : SEARCH_TEXT_KEPT);
  // A prefix that is mostly blank would not give a preview: such a text is kept whole.
  if (Buffer.byteLength(collapseBlanks(text), 'utf8') < SEARCH_TEXT_PREFIX_BYTES) return search;
  return { ...search, text, textCut: true };
}

/** ENVELOPE and BODYSTRUCTURE (extended) exactly as FETCH sends them. */
export interface FetchItems {
  envelope: string;
  bodyStructure: string;
}

// Formatting them was most of a first FETCH 1:* ENVELOPE BODYSTRUCTURE (bench/RESULTS.md), so they
// are formatted once, when the content is stored, and kept in one record: the ENVELOPE's UTF-8
// length (4 bytes, big-endian), its UTF-8 bytes, then the BODYSTRUCTURE's. Blobs stored before the
// record existed have none; FETCH formats theirs from the structure as it did before.

export function fetchItemsOf(structure: MessageStructure): FetchItems {
  return { envelope: envelopeToImap(structure.envelope), bodyStructure: bodyStructureToImap(structure.root, true) };
}

function packFetchItems(items: FetchItems): Buffer {
  const envelope = Buffer.from(items.envelope, 'utf8');
  const bodyStructure = Buffer.from(items.bodyStructure, 'utf8');
  const out = Buffer.allocUnsafe(4 + envelope.length + bodyStructure.length);
  out.writeUInt32BE(envelope.length, 0);
  envelope.copy(out, 4);
  bodyStructure.copy(out, 4 + envelope.length);
  return out;
}

function unpackFetchItems(record: Buffer): FetchItems {
  const end = 4 + record.readUInt32BE(0);
  return { envelope: record.toString('utf8', 4, end), bodyStructure: record.toString('utf8', end) };
}

/** Header fields kept in memory (a few hundred bytes each): a 100,000-message folder sorts without a disk read. */
const HEADER_CACHE_ENTRIES = 100_000;

/**
 * Zero counts of freed blobs kept in memory once their deleting batch is durable: the newest this
 * many, so a process that frees millions of blobs does not keep an entry for each.
 */
export const FREED_COUNTS_KEPT = 10_000;

/** Raw messages are stored once per content (sha256) in chunks, so a byte range reads only what it needs. */
export const BLOB_CHUNK = 1 << 20;

export const blobHash = (raw: Buffer): string => createHash('sha256').update(raw).digest('hex');

/**
 * Deduplicated, reference-counted message bodies plus their parsed index (MIME tree, ENVELOPE,
 * search fields), written once when the content first arrives. Reference counts are owned in memory
 * (loaded per blob on first use) and written in the batch that changes them; the last release deletes
 * the blob in that same batch, so no garbage collector has to race with deliveries.
 */
export class Blobs {
  private refs = new Map<string, number>();
  /** Blobs at count 0 whose deleting batch is durable, least recently freed or loaded first. */
  private freed = new Set<string>();
  /** Batches that free the blob and are not durable yet, per blob. */
  private freeing = new Map<string, number>();
  private readonly kv: Kv;
  private readonly freedKept: number;
  private readonly headerCache = new ContentCache<HeaderFields>(HEADER_CACHE_ENTRIES);

  /** Shared store: each batch that changes a count expects the stored count it was derived from. */
  private readonly shared: boolean;

  constructor(kv: Kv, freedKept = FREED_COUNTS_KEPT) {
    this.kv = kv;
    this.freedKept = freedKept;
    this.shared = kv.engine.shared !== undefined;
  }

  /** Shared store: another node changed the count (StoreConflictError); memory takes the stored one. */
  async reload(sha: string, adopted: () => void): Promise<void> {
    try {
      this.take(sha, (await this.kv.get<number>(keys.blobRefs(sha))) ?? 0);
    } finally {
      adopted(); // at once: no batch may be built between the read and Kv.quiesce's end
    }
  }

  /** On a shared store memory may just be behind another node: reload and retry rather than fail. */
  private stale(sha: string, message: string): Error {
    return this.shared ? new StoreConflictError([keys.blobRefs(sha)]) : new Error(message);
  }

  /** Inside a commit's transaction (Kv.commitBuilt): memory takes the stored count. */
  sync(sha: string, stored: Buffer | undefined): void {
    this.take(sha, stored ? (JSON.parse(stored.toString('utf8')) as number) : 0);
  }

  /** Memory takes a stored count; a blob referenced again is no longer among the freed (never evicted). */
  private take(sha: string, count: number): void {
    this.refs.set(sha, count);
    if (count !== 0) this.freed.delete(sha);
  }

  private expectCount(tx: Tx, sha: string, count: number): void {
    if (this.shared) tx.expect(keys.blobRefs(sha), count === 0 ? null : Buffer.from(JSON.stringify(count)));
  }

  /** Must be awaited before addRef/release on `sha` in a transaction. */
  async load(sha: string): Promise<number> {
    let count = this.refs.get(sha);
    if (count === 0 && this.freed.delete(sha)) this.freed.add(sha); // in use again: evicted last
    if (count === undefined) {
      count = (await this.kv.get<number>(keys.blobRefs(sha))) ?? 0;
      // another caller may have loaded and changed it while we awaited
      count = this.refs.get(sha) ?? count;
      this.refs.set(sha, count);
      // Not stored (nothing pending touches a count memory does not hold): bounded as freed counts
      // are, so loads of content that is then never stored (an APPEND over quota) leave nothing.
      if (count === 0 && !this.freeing.has(sha)) this.durablyFreed(sha, false);
    }
    return count;
  }

  /** The blobs whose reference counts are held in memory. */
  loaded(): string[] {
    return [...this.refs.keys()];
  }

  /** Replaces the counts held in memory with the disk's (after a failed write: Store.recover). */
  reset(shas: string[], counts: (number | undefined)[]): void {
    this.refs = new Map(shas.map((sha, i) => [sha, counts[i] ?? 0]));
    this.freed = new Set(shas.filter((sha) => this.refs.get(sha) === 0)); // the disk's: durable
    this.freeing.clear(); // a failed write runs no commit callbacks
  }

  refCount(sha: string): number {
    const count = this.refs.get(sha);
    if (count === undefined) throw new Error(`blob ${sha} used before Blobs.load`);
    return count;
  }

  /** Adds one reference; writes the content and its index when this is the first one. */
  addRef(tx: Tx, sha: string, content?: { raw: Buffer; index: MessageIndex }): void {
    const count = this.refCount(sha);
    this.expectCount(tx, sha, count);
    if (count === 0) {
      if (!content) throw this.stale(sha, `blob ${sha} is not stored and no content was given`);
      for (let chunk = 0; chunk * BLOB_CHUNK < content.raw.length || chunk === 0; chunk++) {
        tx.putBytes(keys.blobChunk(sha, chunk), content.raw.subarray(chunk * BLOB_CHUNK, (chunk + 1) * BLOB_CHUNK));
      }
      const { search, ...structure } = content.index;
      tx.put(keys.blobIndex(sha), structure);
      tx.putBytes(keys.blobFetchItems(sha), packFetchItems(fetchItemsOf(structure)));
      tx.put(keys.blobSearch(sha), storedSearchFields(search));
      const headers = pickHeaderFields(search);
      tx.put(keys.blobHeaders(sha), headers);
      this.headerCache.set(sha, headers); // by content: right whether or not this batch commits
      tx.putBytes(keys.fulltext(sha), fulltextText(content.raw, content.index.root)); // fulltext.ts
    }
    this.refs.set(sha, count + 1);
    this.freed.delete(sha);
    tx.put(keys.blobRefs(sha), count + 1);
  }

  release(tx: Tx, sha: string, size: number): void {
    this.expectCount(tx, sha, this.refCount(sha));
    const count = this.refCount(sha) - 1;
    if (count < 0) throw this.stale(sha, `blob ${sha} released more often than it was referenced`);
    if (count > 0) {
      this.refs.set(sha, count);
      tx.put(keys.blobRefs(sha), count);
      return;
    }
    // The count stays in memory at 0: memory is the truth until the batch is durable (a load() in
    // between would read the disk's old count), and a caller that loaded this blob and has not used
    // it yet (an APPEND of the same content racing an EXPUNGE of its last copy) must still find it
    // loaded. Once durable it joins `freed`, whose oldest entries are dropped past FREED_COUNTS_KEPT
    // (a load() then reads the disk's count, which is 0 too).
    this.refs.set(sha, 0);
    this.freed.delete(sha);
    this.freeing.set(sha, (this.freeing.get(sha) ?? 0) + 1);
    tx.onCommit(() => this.durablyFreed(sha));
    tx.del(keys.blobRefs(sha));
    tx.del(keys.blobIndex(sha));
    tx.del(keys.blobSearch(sha));
    tx.del(keys.blobHeaders(sha));
    tx.del(keys.blobFetchItems(sha));
    tx.del(keys.fulltext(sha));
    for (let chunk = 0; chunk * BLOB_CHUNK < size || chunk === 0; chunk++) tx.del(keys.blobChunk(sha, chunk));
  }

  /**
   * Adds a count that is 0 on disk too to `freed`, dropping the oldest there past FREED_COUNTS_KEPT.
   * Only a caller that loaded a blob and then waited while that many others were freed after it
   * would find its count gone (refCount throws): callers use counts right after loading them.
   */
  private durablyFreed(sha: string, committed = true): void {
    const freeing = (this.freeing.get(sha) ?? 0) - (committed ? 1 : 0);
    if (freeing > 0) this.freeing.set(sha, freeing);
    else this.freeing.delete(sha);
    // Referenced again meanwhile, or freed again by a batch still on its way: not durable at 0.
    if (this.refs.get(sha) !== 0 || freeing > 0) return;
    this.freed.add(sha);
    for (const old of this.freed) {
      if (this.freed.size <= this.freedKept) break;
      this.freed.delete(old);
      this.refs.delete(old);
    }
  }

  /** Reference counts held in memory (what `FREED_COUNTS_KEPT` bounds). */
  get countsHeld(): number {
    return this.refs.size;
  }

  // Reads take `from`, a snapshot, when they must agree with a message record read from it: a blob
  // can be freed by an expunge committed between two live reads.

  /** Bytes [start, end) of a blob of `size` bytes. */
  async read(sha: string, size: number, start = 0, end = size, from: Reader = this.kv): Promise<Buffer> {
    end = Math.min(end, size);
    if (start >= end) return Buffer.alloc(0);
    const first = Math.floor(start / BLOB_CHUNK);
    const last = Math.floor((end - 1) / BLOB_CHUNK);
    const chunkKeys = [];
    for (let chunk = first; chunk <= last; chunk++) chunkKeys.push(keys.blobChunk(sha, chunk));
    const chunks = await from.getManyBytes(chunkKeys);
    if (chunks.some((c) => c === undefined)) throw new Error(`blob ${sha} is missing chunks`);
    const joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks as Buffer[]);
    const offset = first * BLOB_CHUNK;
    return joined.subarray(start - offset, end - offset);
  }

  /**
   * Whole blobs, each in one read (every blob here is at most one chunk long); undefined for a
   * blob the reader does not have (freed: its message is gone from that reader too).
   */
  async readSmall(blobs: { sha: string; size: number }[], from: Reader = this.kv): Promise<(Buffer | undefined)[]> {
    if (blobs.some((b) => b.size > BLOB_CHUNK)) throw new Error('readSmall takes blobs of one chunk');
    return from.getManyBytes(blobs.map((b) => keys.blobChunk(b.sha, 0)));
  }

  /** As structures(), with undefined for a blob the reader does not have. */
  async structuresIfPresent(shas: string[], from: Reader = this.kv): Promise<(MessageStructure | undefined)[]> {
    return from.getMany<MessageStructure>(shas.map(keys.blobIndex));
  }

  /**
   * ENVELOPE and BODYSTRUCTURE as formatted at delivery; undefined for a blob the reader does not
   * have, or one stored before the record existed (fetchItemsOf its structure gives the same).
   */
  async fetchItems(shas: string[], from: Reader = this.kv): Promise<(FetchItems | undefined)[]> {
    const records = await from.getManyBytes(shas.map(keys.blobFetchItems));
    return records.map((record) => record && unpackFetchItems(record));
  }

  async structure(sha: string): Promise<MessageStructure> {
    return (await this.structures([sha]))[0]!;
  }

  async structures(shas: string[], from: Reader = this.kv): Promise<MessageStructure[]> {
    return required(shas, await from.getMany<MessageStructure>(shas.map(keys.blobIndex)));
  }

  /** The search fields with the whole body text: a cut one (`textCut`) is extracted from the blob again. */
  async searchFields(shas: string[], from: Reader = this.kv): Promise<SearchFields[]> {
    const records = await this.summaryFields(shas, from);
    return Promise.all(
      records.map(async (record, i) => {
        if (!record.textCut) return record;
        const { textCut, ...fields } = record;
        const [structure] = await this.structures([shas[i]!], from);
        const raw = await this.read(shas[i]!, structure!.size, 0, structure!.size, from);
        return { ...fields, text: extractText(raw, structure!.root) };
      }),
    );
  }

  /**
   * The search fields as stored: when `textCut`, `text` is only the body text's start (at least
   * SEARCH_TEXT_PREFIX_BYTES once blanks are collapsed), enough for a preview, with no blob read.
   */
  async summaryFields(shas: string[], from: Reader = this.kv): Promise<StoredSearchFields[]> {
    return required(shas, await from.getMany<StoredSearchFields>(shas.map(keys.blobSearch)));
  }

  /** Header fields held in memory (undefined where not): no read, so no snapshot to agree with. */
  cachedHeaderFields(shas: string[]): (HeaderFields | undefined)[] {
    return shas.map((sha) => this.headerCache.get(sha));
  }

  async headerFields(shas: string[], from: Reader = this.kv): Promise<HeaderFields[]> {
    const found = this.cachedHeaderFields(shas);
    const unread = shas.filter((_, i) => found[i] === undefined);
    if (!unread.length) return found as HeaderFields[];
    const read: (HeaderFields | undefined)[] = await from.getMany<HeaderFields>(unread.map(keys.blobHeaders));
    const missing = unread.filter((_, i) => read[i] === undefined);
    const full = missing.length ? await this.summaryFields(missing, from) : [];
    let r = 0;
    let m = 0;
    for (let i = 0; i < found.length; i++) {
      if (found[i] !== undefined) continue;
      const fields = read[r++] ?? pickHeaderFields(full[m++]!);
      this.headerCache.set(shas[i]!, fields);
      found[i] = fields;
    }
    return found as HeaderFields[];
  }
}

function required<T>(shas: string[], found: (T | undefined)[]): T[] {
  return found.map((value, i) => {
    if (value === undefined) throw new Error(`blob ${shas[i]} has no index`);
    return value;
  });
}
