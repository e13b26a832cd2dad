// The directory in memory (docs/ARCHITECTURE.md §4.5): what every API request and every inbound
// message looks up (accounts, domains, address routes, teams, sieve scripts, and the key lists of an
// account's aliases and a team's domains and accounts), read through from the engine once and then
// answered from memory. Every committed batch is applied to it before any writer resumes (Committer
// .onWritten), whatever repository or path wrote it, so a read after a write never sees the old record.
import type { EngineReader } from './engine.ts';
import { prefixRange } from './keys.ts';
import type { Op } from './tx.ts';

/** Records held one key each: account, domain, address route, team, sieve script. */
const RECORDS = ['u/', 'd/', 'a/', 't/', 'sieve/s/'];
/**
 * Key lists held whole, by the prefix they are read with: an account's aliases (`ua/<id>/`), a team's
 * domains and accounts (`td/<team>/`, `tu/<team>/`), every team (`t/`) and every hosted domain (`d/`).
 * `owner` is how many '/'-ended segments name the list (ids never hold a '/'; addresses after them may).
 */
const LISTS: { family: string; owner: number }[] = [
  { family: 'ua/', owner: 2 },
  { family: 'td/', owner: 2 },
  { family: 'tu/', owner: 2 },
  { family: 't/', owner: 1 },
  { family: 'd/', owner: 1 },
];
/**
 * Domain records are looked up by every inbound message (is its From domain hosted here?), and for most
 * mail, spam above all, the answer is no, for a name never seen before: each would read the engine (60–95 µs
 * of CPU on LevelDB). The hosted domains' keys are few and held as one list, so such a name is answered
 * from memory.
 */
const DOMAINS = 'd/';

/** Bytes charged per entry besides its key and text: the Map slot, the entry object, string headers. */
const ENTRY_OVERHEAD = 120;
/** The default bound: 32 MiB holds about 40,000 accounts with their routes, domain and alias list. */
export const DIRECTORY_CACHE_BYTES = 32 << 20;

/** A record's JSON text (null: known absent), or a list's keys; `size` is what it is charged. */
interface Entry {
  text: string | null;
  list?: string[];
  size: number;
  /** When it was last put at the recent end (DirectoryCache.tick); set by keep(). */
  tick?: number;
  /** The record decoded once for view(), deep-frozen; charged as much again as its text. */
  shared?: unknown;
}

/** What view() hands out: the record's type with every field, nested ones too, read-only. */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Freezes a decoded JSON value and everything in it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** The list a key belongs to, if it is in a listed family. */
function listOf(key: string): string | undefined {
  for (const { family, owner } of LISTS) {
    if (!key.startsWith(family)) continue;
    let end = 0;
    for (let i = 0; i < owner; i++) {
      end = key.indexOf('/', end) + 1;
      if (end === 0) return undefined;
    }
    return key.slice(0, end);
  }
  return undefined;
}

const isRecord = (key: string): boolean => RECORDS.some((family) => key.startsWith(family));

/** Does a write of `key` change what the directory cache holds (a record, or a list it joins)? */
export const isDirectoryKey = (key: string): boolean => isRecord(key) || listOf(key) !== undefined;

/**
 * A bounded read-through cache of the directory's records and lists, least recently used evicted
 * first. A value read from the engine is kept only if no directory write was applied while the read
 * was in flight (`version`), so a slow read can never put back what a commit replaced.
 */
export class DirectoryCache {
  private readonly reader: EngineReader;
  private readonly limit: number;
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  /** Counts every entry put at the recent end. */
  private tick = 0;
  /** Bumped by every applied batch that touches the directory (and by clear()). */
  private version = 0;
  readonly stats = { hits: 0, misses: 0 };

  constructor(reader: EngineReader, limitBytes = DIRECTORY_CACHE_BYTES) {
    this.reader = reader;
    this.limit = limitBytes;
  }

  /** A record, decoded afresh on every call: callers may change what they get. */
  async get<T>(key: string): Promise<T | undefined> {
    const hit = this.hit(key);
    if (hit) return hit.text === null ? undefined : (JSON.parse(hit.text) as T);
    if (key.startsWith(DOMAINS) && !(await this.heldList(DOMAINS)).includes(key)) return undefined;
    return this.readThrough<T>(key);
  }

  /** A record not held: read from the engine, kept, and decoded for the caller. */
  private async readThrough<T>(key: string): Promise<T | undefined> {
    const version = this.version;
    const value = await this.reader.get(key);
    const text = value === undefined ? null : value.toString('utf8');
    if (version === this.version) this.keep(key, { text, size: key.length + (text?.length ?? 0) + ENTRY_OVERHEAD });
    return text === null ? undefined : (JSON.parse(text) as T);
  }

  /**
   * A record to read only, decoded once and shared by every caller while the cache holds it (frozen:
   * a write through it throws), where get() decodes afresh for each: for the API's views, which
   * render a record and let it go. A committed write replaces the entry and with it this object.
   * Not held (a miss, or a shared store): get()'s own copy.
   */
  async view<T>(key: string): Promise<DeepReadonly<T> | undefined> {
    const hit = this.hit(key);
    if (!hit) return (await this.readThrough<T>(key)) as DeepReadonly<T> | undefined;
    if (hit.text === null) return undefined;
    if (hit.shared === undefined) {
      hit.shared = deepFreeze(JSON.parse(hit.text));
      hit.size += hit.text.length;
      this.bytes += hit.text.length;
      this.evict();
    }
    return hit.shared as DeepReadonly<T>;
  }

  /** What the cache holds of a record, without reading through: undefined when it holds nothing. */
  cached<T>(key: string): { value: T | undefined } | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.list) return undefined;
    return { value: entry.text === null ? undefined : (JSON.parse(entry.text) as T) };
  }

  /** Records of one family, one engine read for the ones not held. */
  async getMany<T>(keys: string[]): Promise<(T | undefined)[]> {
    const texts: (string | null | undefined)[] = keys.map((key) => this.hit(key)?.text);
    const missing = keys.filter((_, i) => texts[i] === undefined);
    if (missing.length) {
      const version = this.version;
      const values = await this.reader.getMany(missing);
      const fresh = version === this.version;
      let j = 0;
      for (let i = 0; i < keys.length; i++) {
        if (texts[i] !== undefined) continue;
        const value = values[j++];
        const text = value === undefined ? null : value.toString('utf8');
        texts[i] = text;
        if (fresh) this.keep(keys[i]!, { text, size: keys[i]!.length + (text?.length ?? 0) + ENTRY_OVERHEAD });
      }
    }
    return texts.map((text) => (text == null ? undefined : (JSON.parse(text) as T)));
  }

  /** The keys under a list prefix (`ua/<accountId>/`, ...), in key order; a copy. */
  async list(prefix: string): Promise<string[]> {
    return (await this.heldList(prefix)).slice();
  }

  /** The keys under a list prefix: the cache's own array when it holds the list (not to be changed). */
  private async heldList(prefix: string): Promise<readonly string[]> {
    const hit = this.hit(prefix);
    if (hit?.list) return hit.list;
    const version = this.version;
    const list = await this.reader.keys(prefixRange(prefix));
    if (version === this.version) {
      const size = list.reduce((n, key) => n + key.length + 16, prefix.length + ENTRY_OVERHEAD);
      this.keep(prefix, { text: null, list: list.slice(), size });
    }
    return list;
  }

  /**
   * A durable batch, in commit order: records take their new value (absent after a delete), the
   * lists a key joins or leaves are dropped and read again on next use (in the engine's byte order).
   */
  apply(ops: Op[]): void {
    let touched = false;
    for (const op of ops) {
      if (isRecord(op.key)) {
        touched = true;
        const text = op.type === 'put' ? op.value.toString('utf8') : null;
        this.keep(op.key, { text, size: op.key.length + (text?.length ?? 0) + ENTRY_OVERHEAD });
      }
      const list = listOf(op.key);
      if (list !== undefined) {
        touched = true;
        this.drop(list);
      }
    }
    if (touched) this.version++;
  }

  /**
   * Another node committed these keys (a shared store's change feed): their records and the lists
   * they join are read again on next use, and a read in flight meanwhile is not kept.
   */
  forget(keys: string[]): void {
    for (const key of keys) {
      this.drop(key);
      const list = listOf(key);
      if (list !== undefined) this.drop(list);
    }
    this.version++;
  }

  /** Forgets everything (after a failed write, memory is reloaded from the disk). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
    this.version++;
  }

  /** What the cache holds now, for metrics and tests. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private hit(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.stats.misses++;
      return undefined;
    }
    this.stats.hits++;
    // Most recently used last: Map iteration order is insertion order. At most `tick - entry.tick`
    // entries were put after this one, so when that is under half the map it is in the recent half,
    // far from eviction, and stays where it is: a hot entry is not deleted and inserted on every hit.
    if (this.tick - entry.tick! > this.entries.size >> 1) {
      this.entries.delete(key);
      this.entries.set(key, entry);
      entry.tick = ++this.tick;
    }
    return entry;
  }

  private keep(key: string, entry: Entry): void {
    this.drop(key);
    if (entry.size > this.limit) return;
    this.entries.set(key, entry);
    entry.tick = ++this.tick;
    this.bytes += entry.size;
    this.evict();
  }

  /** Least recently used first, until within the bound. */
  private evict(): void {
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(oldest);
      this.bytes -= old.size;
    }
  }

  private drop(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.bytes -= old.size;
  }
}
