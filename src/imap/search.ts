// SEARCH keys (RFC 3501 6.4.4, RFC 9051, MODSEQ from RFC 7162, YOUNGER/OLDER from RFC 5032, SAVED* from
// RFC 8514),
// evaluated over the message records and the search fields stored at delivery; a blob's bytes are
// only read for HEADER on a field the index does not keep, and then only its header block. BODY and
// TEXT are answered by the full-text index's words (store/fulltext.ts); the stored text is read
// only for messages it cannot decide (not indexed yet, or a string with separators).
import { saveDate, type Message } from '../store/index.ts';
import type { HeaderFields } from '../store/blobs.ts';
import { isCandidate, needsText, type Candidates } from '../store/fulltext.ts';
import type { StoreView } from '../store/view.ts';
import { fulltextMatch } from '../mime/fulltext-text.ts';
import { Args, BadArguments, tokenText } from './args.ts';
import { ImapError } from './command.ts';
import { MAX_NESTING, NESTING_ERROR } from './parser.ts';
import { inRanges, parseSequenceSet, SequenceError, type Range } from './sequence.ts';
import type { Selected } from './selected.ts';
import type { Session } from './session.ts';

export type Key =
  | { op: 'all' }
  | { op: 'flag'; flag: string; has: boolean }
  | { op: 'recent' }
  | { op: 'text'; field: 'from' | 'to' | 'cc' | 'bcc' | 'subject' | 'body' | 'text'; value: string }
  | { op: 'header'; name: string; value: string }
  /** Which date: internal (BEFORE…), the Date: field's (SENT…), or the save date (SAVED…). */
  | { op: 'date'; of: 'internal' | 'sent' | 'saved'; cmp: 'before' | 'on' | 'since'; day: number }
  | { op: 'size'; larger: boolean; n: number }
  | { op: 'seq'; ranges: Range[]; uid: boolean }
  | { op: 'not'; key: Key }
  | { op: 'or'; a: Key; b: Key }
  | { op: 'and'; keys: Key[] }
  | { op: 'modseq'; n: number }
  | { op: 'age'; younger: boolean; seconds: number };

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const TEXT_KEYS: Record<string, Extract<Key, { op: 'text' }>['field']> = {
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
  SUBJECT: 'subject',
  BODY: 'body',
  TEXT: 'text',
};
type DateKey = Extract<Key, { op: 'date' }>;
const DATE_KEYS: Record<string, [DateKey['of'], DateKey['cmp']]> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

function parseDay(text: string): number {
  const m = /^(\d{1,2})-([a-z]{3})-(\d{4})$/i.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month < 0) throw new BadArguments(`Invalid date ${text}`);
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}

const DAY = 86_400_000;

/** Reads search keys until the arguments (or a parenthesised group) end. */
export function parseKeys(args: Args, depth = 0): Key {
  const keys: Key[] = [];
  while (args.remaining) keys.push(parseKey(args, depth));
  if (!keys.length) throw new BadArguments('Missing search key');
  return keys.length === 1 ? keys[0]! : { op: 'and', keys };
}

// NOT, OR and groups each add a level: parsing and matching recurse per level (parser.ts MAX_NESTING).
function parseKey(args: Args, depth: number): Key {
  if (depth >= MAX_NESTING) throw new BadArguments(NESTING_ERROR);
  const token = args.next('search key');
  if (token.kind === 'list') return parseKeys(new Args(token.items), depth + 1);
  if (token.kind !== 'atom') throw new BadArguments('Expected a search key');
  const name = token.value.toUpperCase();
  const flag = FLAG_KEYS[name];
  if (flag) return { op: 'flag', flag: flag[0], has: flag[1] };
  const field = TEXT_KEYS[name];
  if (field) return { op: 'text', field, value: args.astring('search string').toLowerCase() };
  const date = DATE_KEYS[name];
  if (date) return { op: 'date', of: date[0], cmp: date[1], day: parseDay(args.astring('date')) };
  switch (name) {
    case 'ALL':
      return { op: 'all' };
    case 'RECENT':
      return { op: 'recent' };
    case 'OLD':
      return { op: 'not', key: { op: 'recent' } };
    case 'NEW':
      return { op: 'and', keys: [{ op: 'recent' }, { op: 'flag', flag: '\\Seen', has: false }] };
    case 'KEYWORD':
      return { op: 'flag', flag: args.atom('keyword'), has: true };
    case 'UNKEYWORD':
      return { op: 'flag', flag: args.atom('keyword'), has: false };
    case 'HEADER':
      return {
        op: 'header',
        name: args.astring('header name').toLowerCase(),
        value: args.astring('search string').toLowerCase(),
      };
    case 'SAVEDATESUPPORTED': // every folder keeps save dates (RFC 8514 §4.3)
      return { op: 'all' };
    case 'LARGER':
    case 'SMALLER':
      return { op: 'size', larger: name === 'LARGER', n: args.number() };
    case 'UID':
      return { op: 'seq', ranges: args.sequenceSet('UID set'), uid: true };
    case 'NOT':
      return { op: 'not', key: parseKey(args, depth + 1) };
    case 'OR':
      return { op: 'or', a: parseKey(args, depth + 1), b: parseKey(args, depth + 1) };
    case 'YOUNGER':
    case 'OLDER':
      return { op: 'age', younger: name === 'YOUNGER', seconds: args.number('interval') };
    case 'MODSEQ': {
      // optional entry name and type (per-flag modseqs are not kept: every entry is the message's)
      if (
        args.peek()?.kind === 'string' ||
        (args.peek()?.kind === 'atom' && !/^\d+$/.test((args.peek() as { value: string }).value))
      ) {
        args.astring('entry name');
        args.atom('entry type');
      }
      return { op: 'modseq', n: args.number('mod-sequence') };
    }
  }
  try {
    return { op: 'seq', ranges: parseSequenceSet(token.value), uid: false };
  } catch (err) {
    if (err instanceof SequenceError) throw new BadArguments(`Unknown search key ${token.value.slice(0, 40)}`);
    throw err;
  }
}

export interface ReturnOptions {
  /** ESEARCH RETURN options (RFC 4731, ESORT RFC 5267); [] means the default (ALL); null: no RETURN. */
  returns: string[] | null;
  /** PARTIAL low:high, 1-based positions in the result (RFC 5267 4.4). */
  partial: [number, number] | null;
}

export interface SearchRequest extends ReturnOptions {
  key: Key;
}

/** The optional `RETURN (...)` of SEARCH and SORT. */
export function parseReturnOptions(args: Args): ReturnOptions {
  if (!args.accept('RETURN')) return { returns: null, partial: null };
  const out: ReturnOptions = { returns: [], partial: null };
  const items = new Args(args.list('return options'));
  while (items.remaining) {
    const name = tokenText(items.next('return option')).toUpperCase();
    if (name === 'PARTIAL') {
      const m = /^(\d+):(\d+)$/.exec(items.atom('partial range'));
      if (!m || m[1] === '0' || m[2] === '0')
        throw new BadArguments('PARTIAL needs a range low:high of positions from 1');
      const [a, b] = [Number(m[1]), Number(m[2])];
      out.partial = [Math.min(a, b), Math.max(a, b)];
    } else if (!['MIN', 'MAX', 'COUNT', 'ALL', 'UPDATE'].includes(name))
      throw new BadArguments('Unknown RETURN option');
    out.returns!.push(name);
  }
  return out;
}

/** [RETURN (...)] [CHARSET x] keys */
export function parseSearch(args: Args): SearchRequest {
  const returns = parseReturnOptions(args);
  if (args.accept('CHARSET')) checkCharset(args.astring('charset'));
  return { ...returns, key: parseKeys(args) };
}

export function checkCharset(charset: string): void {
  if (!['UTF-8', 'US-ASCII'].includes(charset.toUpperCase()))
    throw new ImapError('NO', 'Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
}

function uses(key: Key, test: (k: Key) => boolean): boolean {
  if (test(key)) return true;
  if (key.op === 'not') return uses(key.key, test);
  if (key.op === 'or') return uses(key.a, test) || uses(key.b, test);
  if (key.op === 'and') return key.keys.some((k) => uses(k, test));
  return false;
}

const INDEXED_HEADERS: Record<string, (f: HeaderFields) => string> = {
  from: (f) => f.from,
  to: (f) => f.to,
  cc: (f) => f.cc,
  bcc: (f) => f.bcc,
  subject: (f) => f.subject,
  'message-id': (f) => f.messageId ?? '',
  'in-reply-to': (f) => f.inReplyTo ?? '',
  references: (f) => f.references.join(' '),
};

/**
 * Whether a HEADER key reads the raw header block: for fields the index does not keep, and for an
 * empty string, which matches every message that has the field at all (RFC 3501 6.4.4) where the
 * index cannot tell an absent field from an empty one.
 */
const readsRawHeader = (k: Key): k is Extract<Key, { op: 'header' }> =>
  k.op === 'header' && (!(k.name in INDEXED_HEADERS) || k.value === '');

interface Candidate {
  message: Message;
  seq: number;
  recent: boolean;
  fields?: HeaderFields;
  /** The stored full-text (header section, NUL, body section) when the index cannot decide a BODY/TEXT key. */
  text?: Buffer;
  /** What the full-text index says for each BODY/TEXT key (null: nothing, the text decides). */
  lookups?: Lookups;
  headers?: Map<string, string | undefined>;
}

function matches(key: Key, c: Candidate, max: { seq: number; uid: number }, now: number): boolean {
  const m = c.message;
  switch (key.op) {
    case 'all':
      return true;
    case 'recent':
      return c.recent;
    case 'flag':
      return m.flags.some((f) => f.toLowerCase() === key.flag.toLowerCase()) === key.has;
    case 'size':
      return key.larger ? m.size > key.n : m.size < key.n;
    case 'seq':
      return key.uid ? inRanges(m.uid, key.ranges, max.uid) : inRanges(c.seq, key.ranges, max.seq);
    case 'not':
      return !matches(key.key, c, max, now);
    case 'or':
      return matches(key.a, c, max, now) || matches(key.b, c, max, now);
    case 'and':
      return key.keys.every((k) => matches(k, c, max, now));
    case 'modseq':
      return m.modseq >= key.n;
    case 'age':
      return key.younger ? now - m.internalDate <= key.seconds * 1000 : now - m.internalDate >= key.seconds * 1000;
    case 'date': {
      // SENT*: the Date: header's own calendar day, "disregarding time and timezone" (RFC 3501 6.4.4)
      const time =
        key.of === 'sent'
          ? c.fields!.date && c.fields!.date + (c.fields!.dateOffset ?? 0) * 60_000
          : key.of === 'saved'
            ? saveDate(m)
            : m.internalDate;
      if (time === null) return false;
      const day = Math.floor(time / DAY) * DAY;
      return key.cmp === 'before' ? day < key.day : key.cmp === 'on' ? day === key.day : day >= key.day;
    }
    case 'text': {
      if (key.field !== 'body' && key.field !== 'text') return c.fields![key.field].toLowerCase().includes(key.value);
      const found = c.lookups?.get(key);
      if (found && !needsText(found, m.uid)) return found.uids.has(m.uid);
      return fulltextMatch(c.text!, needle(key.value), key.field === 'body');
    }
    case 'header': {
      const indexed = INDEXED_HEADERS[key.name];
      if (indexed && key.value !== '') return indexed(c.fields!).toLowerCase().includes(key.value);
      return c.headers?.get(key.name)?.includes(key.value) ?? false;
    }
  }
}

/** One header's unfolded values, lower-cased, from a raw header block. */
function headerValues(block: string, name: string): string | undefined {
  const re = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*:(.*(?:\\r?\\n[ \\t].*)*)`, 'gim');
  const values = [...block.matchAll(re)].map((m) => m[1]!.replace(/\r?\n/g, '').trim().toLowerCase());
  return values.length ? values.join('\n') : undefined;
}

const needles = new Map<string, Buffer>();
/** A search string as the bytes the stored text is matched with (kept for the few strings in use). */
function needle(value: string): Buffer {
  let bytes = needles.get(value);
  if (!bytes) {
    if (needles.size > 100) needles.clear();
    bytes = Buffer.from(value, 'utf8');
    needles.set(value, bytes);
  }
  return bytes;
}

const isFulltext = (k: Key): k is Extract<Key, { op: 'text' }> =>
  k.op === 'text' && (k.field === 'body' || k.field === 'text');

type Lookups = ReadonlyMap<Key, Candidates | null>;

/**
 * UIDs that can match `key` at all, from the full-text index: a BODY/TEXT key can only match its
 * candidates, AND only those of any of its parts, OR those of either side; null: no such bound.
 */
function candidatesFor(key: Key, lookups: Lookups): Candidates | null {
  if (isFulltext(key)) return lookups.get(key) ?? null;
  if (key.op === 'and') {
    let best: Candidates | null = null;
    for (const k of key.keys) {
      const c = candidatesFor(k, lookups);
      if (c && (!best || c.uids.size < best.uids.size)) best = c;
    }
    return best;
  }
  if (key.op === 'or') {
    const [a, b] = [candidatesFor(key.a, lookups), candidatesFor(key.b, lookups)];
    return a && b ? { uids: new Set([...a.uids, ...b.uids]), above: Math.min(a.above, b.above), exact: false } : null;
  }
  return null;
}

const BATCH = 500;
const TEXT_SLICE = 125;

export interface Found {
  message: Message;
  seq: number;
  /** Present when the search read them (any key on a header or body field). */
  fields?: HeaderFields;
}

/**
 * Messages of the selected mailbox matching `key`, in sequence order. With `withFields` every match
 * carries its header fields (SORT, THREAD). Message content is read from one snapshot (StoreView),
 * so another session's expunge cannot free a blob between the record and its fields; a message
 * already gone from the store does not match (RFC 2180 4.3).
 */
export async function runSearch(session: Session, key: Key, withFields = false): Promise<Found[]> {
  return (await collect(session, key, withFields, false)).found;
}

/**
 * The sequence numbers and UIDs of the messages matching `key`, ascending: all a SEARCH answer
 * without MODSEQ needs. A key the index decides alone costs no object per match, nor a push: the
 * 86,903 matches of "the" pushed onto two arrays cost ~25 ms of CPU at load 10, written into typed
 * arrays ~2 ms (issue 17).
 */
export async function searchNumbers(session: Session, key: Key): Promise<{ seqs: Uint32Array; uids: Uint32Array }> {
  const { found, decided } = await collect(session, key, false, true);
  if (!found.length) return decided;
  const n = decided.seqs.length;
  const seqs = new Uint32Array(n + found.length);
  const uids = new Uint32Array(n + found.length);
  seqs.set(decided.seqs);
  uids.set(decided.uids);
  found.forEach((f, i) => {
    seqs[n + i] = f.seq;
    uids[n + i] = f.message.uid;
  });
  return { seqs, uids };
}

/**
 * runSearch; with `numbersOnly`, the matches the index decides alone (all before the others) are
 * listed in `decided` instead of `found`.
 */
async function collect(
  session: Session,
  key: Key,
  withFields: boolean,
  numbersOnly: boolean,
): Promise<{ found: Found[]; decided: { seqs: Uint32Array; uids: Uint32Array } }> {
  const selected: Selected = session.selected!;
  const { store } = session.ctx;
  if (uses(key, (k) => k.op === 'modseq')) session.useCondstore();
  const textKeyed = uses(key, isFulltext);
  const needsFields =
    withFields ||
    uses(
      key,
      (k) =>
        (k.op === 'text' && !isFulltext(k)) ||
        (k.op === 'date' && k.of === 'sent') ||
        (k.op === 'header' && !readsRawHeader(k)),
    );
  const headerNames: string[] = [];
  uses(key, (k) => {
    if (readsRawHeader(k)) headerNames.push(k.name);
    return false;
  });
  const lookups = new Map<Key, Candidates | null>();
  const textKeys: Extract<Key, { op: 'text' }>[] = [];
  uses(key, (k) => {
    if (isFulltext(k)) textKeys.push(k);
    return false;
  });
  for (const k of textKeys)
    lookups.set(k, await store.fulltext.candidates(selected.folder.id, [k.value], k.field === 'body'));
  const candidates = textKeyed ? candidatesFor(key, lookups) : null;
  /** Whether the index leaves a BODY/TEXT key of this message to its text. */
  const looked = [...lookups.values()];
  const textual = (uid: number) => looked.some((l) => !l || needsText(l, uid));
  // One BODY/TEXT key whose string the index decides (word bytes only): up to the UID it covers, a
  // candidate is a match, nothing to test per message ("the": 86,903 of 100,000, issue 17).
  const decided = !withFields && isFulltext(key) && candidates?.exact ? candidates : null;
  let from = 0; // the positions below `from` are decided
  if (decided) while (from < selected.uids.length && selected.uids[from]! <= decided.above) from++;
  // Positions (0-based sequence numbers) worth reading: all, or the full-text candidates only.
  const positions: number[] = [];
  for (let j = from; j < selected.uids.length; j++)
    if (!candidates || isCandidate(candidates, selected.uids[j]!)) positions.push(j);
  const all = await store.messages.listShared(selected.folder.id); // read only here
  // Taken when first needed: header fields held in memory need none (a snapshot costs a round trip to close).
  let snapshot: StoreView | null = null;
  const viewOf = (): StoreView => (snapshot ??= store.view());
  try {
    const max = { seq: selected.uids.length, uid: selected.uids[selected.uids.length - 1] ?? 0 };
    const now = Date.now();
    const out: Found[] = [];
    // ALL (SORT's usual key) matches every record: no candidate to build or test.
    const everything = key.op === 'all';
    let at = 0; // both lists ascend by UID: one merge walk instead of a map of the folder
    const { uids } = decided ?? {};
    const listed = { seqs: new Uint32Array(numbersOnly ? from : 0), uids: new Uint32Array(numbersOnly ? from : 0) };
    let count = 0;
    for (let j = 0; uids && j < from; j++) {
      const uid = selected.uids[j]!;
      if (!uids.has(uid)) continue;
      while (at < all.length && all[at]!.uid < uid) at++;
      const message = all[at];
      if (message?.uid !== uid) continue;
      if (!numbersOnly) out.push({ message, seq: j + 1, fields: undefined });
      else {
        listed.seqs[count] = j + 1;
        listed.uids[count++] = uid;
      }
    }
    for (let i = 0; i < positions.length; i += BATCH) {
      const batch: Candidate[] = [];
      for (let p = i; p < positions.length && p < i + BATCH; p++) {
        const j = positions[p]!;
        const uid = selected.uids[j]!;
        while (at < all.length && all[at]!.uid < uid) at++;
        const message = all[at];
        if (message?.uid === uid)
          batch.push({ message, seq: j + 1, recent: !everything && selected.recent.has(uid), lookups });
      }
      // Header fields held in memory (by content hash) need no snapshot; the others are read from it.
      const cached =
        needsFields && !textKeyed && !headerNames.length
          ? store.blobs.cachedHeaderFields(batch.map((c) => c.message.blob))
          : [];
      let unread = batch;
      if (cached.length) {
        unread = [];
        batch.forEach((c, n) => (cached[n] ? (c.fields = cached[n]) : unread.push(c)));
      }
      // Messages the index decides need nothing read; the others are read from one snapshot.
      if (!needsFields && !headerNames.length) unread = textKeyed ? unread.filter((c) => textual(c.message.uid)) : [];
      const gone = new Set<Candidate>();
      const view = unread.length ? viewOf() : null;
      if (view) {
        // The records as the snapshot has them: their blobs are in it too.
        const records = await view.getMany(
          selected.folder.id,
          unread.map((c) => c.message.uid),
        );
        unread.forEach((c, n) => (records[n] ? (c.message = records[n]) : gone.add(c)));
        if (gone.size) unread = unread.filter((c) => !gone.has(c));
      }
      if (view && needsFields && unread.length) {
        const fields = await view.headerFields(unread.map((c) => c.message.blob));
        unread.forEach((c, n) => (c.fields = fields[n]));
      }
      const toRead = view && textKeyed ? unread.filter((c) => textual(c.message.uid)) : [];
      if (view && toRead.length) {
        // Slices read at once: LevelDB serves each getMany on one thread of the pool.
        const slices: Promise<Buffer[]>[] = [];
        for (let s = 0; s < toRead.length; s += TEXT_SLICE)
          slices.push(view.fulltext(toRead.slice(s, s + TEXT_SLICE).map((c) => c.message)));
        const texts = (await Promise.all(slices)).flat();
        toRead.forEach((c, n) => (c.text = texts[n]));
      }
      if (view && headerNames.length) {
        const structures = await view.structures(unread.map((c) => c.message.blob));
        for (let n = 0; n < unread.length; n++) {
          const block = (await view.read(unread[n]!.message, 0, structures[n]!.headerSize)).toString('utf8');
          unread[n]!.headers = new Map(headerNames.map((h) => [h, headerValues(block, h)]));
        }
      }
      for (const c of batch)
        if (!gone.has(c) && (everything || matches(key, c, max, now)))
          out.push({ message: c.message, seq: c.seq, fields: c.fields });
    }
    return { found: out, decided: { seqs: listed.seqs.subarray(0, count), uids: listed.uids.subarray(0, count) } };
  } finally {
    await (snapshot as StoreView | null)?.close();
  }
}
