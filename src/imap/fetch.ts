// FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5): data items, BODY[section]<partial>, BINARY (RFC 3516),
// MODSEQ/CHANGEDSINCE/VANISHED (RFC 7162), SAVEDATE (RFC 8514). ENVELOPE and BODYSTRUCTURE are formatted at delivery
// (store/blobs.ts fetchItems), BODY from the index stored then; sections are byte ranges of the
// blob, and large ones are streamed with backpressure.
import { bodyStructureToImap, envelopeToImap, findSection, sectionRange } from '../mime/index.ts';
import { decodeTransfer } from '../mime/decode.ts';
import type { SectionPart } from '../mime/types.ts';
import { saveDate, type Message, type StoreView } from '../store/index.ts';
import { BLOB_CHUNK, type MessageStructure } from '../store/blobs.ts';
import { ContentCache } from '../store/content-cache.ts';
import { Args, BadArguments } from './args.ts';
import { defineCommand, ImapError, type Reply, SELECTED } from './command.ts';
import { uidsOf } from './messages.ts';
import type { Token } from './parser.ts';
import { formatSequenceSet, inRanges, type Range } from './sequence.ts';
import type { Selected } from './selected.ts';
import type { Session } from './session.ts';

type SimpleItem =
  | 'UID'
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'SAVEDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'MODSEQ';

interface SectionItem {
  kind: 'BODY' | 'BINARY' | 'BINARY.SIZE';
  /** Response name without the partial, e.g. BODY[1.MIME] or RFC822.HEADER. */
  label: string;
  peek: boolean;
  path: number[];
  part: '' | 'HEADER' | 'TEXT' | 'MIME' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
  fields: string[];
  partial: { start: number; length: number } | null;
}

type Item = SimpleItem | SectionItem;

export interface FetchArgs {
  ranges: Range[];
  items: Item[];
  changedSince: number | null;
  vanished: boolean;
}

const MACROS: Record<string, SimpleItem[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};
const SIMPLE = new Set<string>([
  'UID',
  'FLAGS',
  'INTERNALDATE',
  'SAVEDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'MODSEQ',
]);
const SECTION_ITEM = /^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK|BINARY\.SIZE)\[([^\]]*)\](?:<(\d+)\.(\d+)>)?$/i;
const PARTS = new Set(['', 'HEADER', 'TEXT', 'MIME', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT']);

/** "1.2.HEADER.FIELDS (From To)" → path [1, 2], part, field list text. */
function parseSection(text: string): { path: number[]; part: string; fields: string | undefined } | null {
  const m = /^([^\s(]*)(?:\s*\((.*)\))?$/s.exec(text.trim());
  if (!m) return null;
  const pieces = m[1]!.split('.');
  const path: number[] = [];
  while (pieces.length && /^\d+$/.test(pieces[0]!)) path.push(Number(pieces.shift()));
  const part = pieces.join('.').toUpperCase();
  return PARTS.has(part) ? { path, part, fields: m[2] } : null;
}

function parseItem(token: Token): Item {
  if (token.kind !== 'atom') throw new BadArguments('Invalid fetch item');
  const upper = token.value.toUpperCase();
  if (SIMPLE.has(upper)) return upper as SimpleItem;
  const plain = (label: string, part: SectionItem['part'], peek: boolean): SectionItem => ({
    kind: 'BODY',
    label,
    peek,
    path: [],
    part,
    fields: [],
    partial: null,
  });
  if (upper === 'RFC822') return plain('RFC822', '', false);
  if (upper === 'RFC822.HEADER') return plain('RFC822.HEADER', 'HEADER', true);
  if (upper === 'RFC822.TEXT') return plain('RFC822.TEXT', 'TEXT', false);
  const m = SECTION_ITEM.exec(token.value);
  const s = m && parseSection(m[2]!);
  if (!m || !s) throw new BadArguments(`Invalid fetch item ${token.value.slice(0, 60)}`);
  const name = m[1]!.toUpperCase();
  const kind = name.startsWith('BINARY') ? (name === 'BINARY.SIZE' ? 'BINARY.SIZE' : 'BINARY') : 'BODY';
  const path = s.path;
  const part = s.part as SectionItem['part'];
  if (part === 'MIME' && !path.length) throw new BadArguments('MIME needs a part number');
  if (kind !== 'BODY' && part) throw new BadArguments('BINARY takes part numbers only');
  if (path.some((n) => n < 1)) throw new BadArguments('Invalid part number');
  const isFields = part === 'HEADER.FIELDS' || part === 'HEADER.FIELDS.NOT';
  if (isFields !== (s.fields !== undefined)) throw new BadArguments('HEADER.FIELDS needs a list of field names');
  const fields =
    s.fields === undefined
      ? []
      : s.fields
          .split(/\s+/)
          .filter(Boolean)
          .map((f) => f.replace(/^"(.*)"$/, '$1').toLowerCase());
  const partial = m[3] === undefined ? null : { start: Number(m[3]), length: Number(m[4]) };
  if (partial && partial.length === 0) throw new BadArguments('Partial length must be positive');
  const labelName = kind === 'BODY' ? 'BODY' : kind;
  return {
    kind,
    label: `${labelName}[${m[2]}]`,
    peek: name.endsWith('.PEEK') || kind === 'BINARY.SIZE',
    path,
    part,
    fields,
    partial,
  };
}

export function parseFetch(args: Args): FetchArgs {
  const ranges = args.sequenceSet();
  const spec = args.next('fetch items');
  let items: Item[];
  if (spec.kind === 'atom' && MACROS[spec.value.toUpperCase()]) items = [...MACROS[spec.value.toUpperCase()]!];
  else if (spec.kind === 'list') items = spec.items.map(parseItem);
  else items = [parseItem(spec)];
  const result: FetchArgs = { ranges, items, changedSince: null, vanished: false };
  if (args.remaining) {
    const modifiers = new Args(args.list('fetch modifiers'));
    while (modifiers.remaining) {
      const name = modifiers.atom('fetch modifier').toUpperCase();
      if (name === 'CHANGEDSINCE') result.changedSince = modifiers.number('mod-sequence');
      else if (name === 'VANISHED') result.vanished = true;
      else throw new BadArguments(`Unknown fetch modifier ${name}`);
    }
  }
  if (result.vanished && result.changedSince === null) throw new BadArguments('VANISHED needs CHANGEDSINCE');
  return result;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export function imapDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `"${p(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000"`;
}

/** Above this, a section is streamed from the store in chunks rather than read at once. */
const STREAM_THRESHOLD = 256 * 1024;
const STREAM_CHUNK = 1024 * 1024;
const BATCH = 500;
/** Collected responses (text and literals) are written once they reach this many bytes. */
const OUTPUT_CHUNK = 256 * 1024;
/** Messages up to STREAM_THRESHOLD are read a batch at a time, up to this many bytes per batch. */
const PREFETCH_BYTES = 8 * 1024 * 1024;

/** ENVELOPE, BODY and BODYSTRUCTURE as sent, by blob: formatting them cost more than the rest of a FETCH. */
type Encoded = Partial<Record<'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE', string>>;
const ENCODED = ['ENVELOPE', 'BODY', 'BODYSTRUCTURE'] as const;
/** What a message has when no encoded item is asked for (shared: an object per message was garbage). */
const NONE: Encoded = Object.freeze({});
// By content hash, so never stale and shared by every session (store/content-cache.ts).
const encodedCache = new ContentCache<Encoded>(50_000);

function encode(item: (typeof ENCODED)[number], structure: MessageStructure): string {
  if (item === 'ENVELOPE') return envelopeToImap(structure.envelope);
  return bodyStructureToImap(structure.root, item === 'BODYSTRUCTURE');
}

/** Literals shorter than this are copied in beside the text; longer ones are written as they are. */
const COPY_BELOW = 1024;

/**
 * FETCH output gathered into large writes: a socket write per response, or per literal, cost
 * more than formatting them. Text is encoded straight into a buffer (building one long string
 * and encoding it at the end cost more, in copies and garbage, than the formatting itself); the
 * bytes of literals, read from the store already, go out as they are beside that text, in one
 * writev per flush: copying ~4 MiB of bodies per 1,000 messages into output buffers doubled the
 * memory outside the heap a FETCH makes, and that brought on full garbage collections.
 */
class Output {
  private buf = Buffer.alloc(0); // allocated on first use: most FETCHes are a few short lines
  /** Text in buf from `from` to `length` is not yet in `pieces`. */
  private from = 0;
  private length = 0;
  /** The size to start the next buffer at: what the last one grew to, within bounds. */
  private start = 4096;
  /** What the next flush writes, in order: text from buf, and literals as read. */
  private pieces: Buffer[] = [];
  private queued = 0;
  private readonly session: Session;

  constructor(session: Session) {
    this.session = session;
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buf.length) return;
    // Only the text not yet handed to `pieces` moves: earlier pieces keep their part of the old buffer.
    const pending = this.length - this.from;
    const bigger = Buffer.allocUnsafe(Math.max(this.start, (this.buf.length - this.from) * 2, pending + bytes));
    this.buf.copy(bigger, 0, this.from, this.length);
    this.buf = bigger;
    this.from = 0;
    this.length = pending;
  }

  /** Hands the text gathered so far to `pieces`. */
  private seal(): void {
    if (this.length === this.from) return;
    this.pieces.push(this.buf.subarray(this.from, this.length));
    this.queued += this.length - this.from;
    this.from = this.length;
  }

  text(text: string): void {
    this.room(text.length * 3); // a UTF-16 unit is at most 3 bytes of UTF-8
    this.length += this.buf.write(text, this.length, 'utf8');
  }

  bytes(bytes: Buffer): void {
    if (bytes.length < COPY_BELOW) {
      this.room(bytes.length);
      this.length += bytes.copy(this.buf, this.length);
      return;
    }
    this.seal();
    this.pieces.push(bytes);
    this.queued += bytes.length;
  }

  get full(): boolean {
    return this.queued + this.length - this.from >= OUTPUT_CHUNK;
  }

  /** Writes what is gathered; false when the client is not keeping up (await drain()). */
  flush(): boolean {
    this.seal();
    if (!this.pieces.length) return true;
    const pieces = this.pieces;
    this.pieces = [];
    this.queued = 0;
    // The socket holds on to what it was given until it is sent: text goes on in the rest of the
    // buffer, or in a new one (as large as this one grew, within bounds) when little is left.
    if (this.buf.length - this.length < 4096) {
      this.start = Math.min(this.buf.length, OUTPUT_CHUNK * 2);
      this.buf = Buffer.alloc(0);
      this.from = 0;
      this.length = 0;
    }
    return this.session.writeAll(pieces);
  }
}

/** Reads of one message's content: whole small messages read with their batch, the rest from the view. */
class Content {
  private readonly view: StoreView;
  private readonly prefetched: Map<number, Buffer>;

  constructor(view: StoreView, prefetched: Map<number, Buffer>) {
    this.view = view;
    this.prefetched = prefetched;
  }

  read(message: Message, start = 0, end = message.size): Promise<Buffer> | Buffer {
    const whole = this.prefetched.get(message.uid);
    if (whole) {
      if (start === 0 && end >= whole.length) return whole;
      return whole.subarray(Math.min(start, whole.length), Math.min(end, whole.length));
    }
    return this.view.read(message, start, end);
  }

  /** The message is written: its bytes are the socket's now, to drop once sent. */
  release(message: Message): void {
    this.prefetched.delete(message.uid);
  }
}

/** Raw header fields (with their continuation lines) of a header block, filtered by name. */
export function filterHeader(header: Buffer, names: string[], exclude: boolean): Buffer {
  const wanted = new Set(names);
  const out: Buffer[] = [];
  let pos = 0;
  let keep = false;
  while (pos < header.length) {
    let nl = header.indexOf(10, pos);
    if (nl < 0) nl = header.length - 1;
    const line = header.subarray(pos, nl + 1);
    pos = nl + 1;
    if (line.length === 0 || line[0] === 13 || line[0] === 10) break; // the blank line
    if (line[0] !== 0x20 && line[0] !== 0x09) {
      const colon = line.indexOf(0x3a);
      const name = colon > 0 ? line.subarray(0, colon).toString('latin1').trim().toLowerCase() : '';
      keep = wanted.has(name) !== exclude && colon > 0;
    }
    if (keep) out.push(line);
  }
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

/** What a section item resolves to: bytes in hand, or a blob range to stream. */
type Body = { bytes: Buffer } | { start: number; end: number };

async function sectionBody(
  view: Content,
  message: Message,
  structure: MessageStructure | undefined,
  item: SectionItem,
): Promise<Body | null> {
  if (item.kind === 'BODY' && item.path.length === 0 && item.part === '') return { start: 0, end: message.size };
  const index = structure!; // fetch() loads the structure whenever a section names a part
  if (item.kind !== 'BODY') {
    if (item.path.length === 0) return { start: 0, end: message.size };
    const node = findSection(index, item.path);
    if (!node || node.children) return null;
    const encoding = node.encoding.trim().toLowerCase();
    if (!['7bit', '8bit', 'binary', 'base64', 'quoted-printable'].includes(encoding)) {
      throw new ImapError('NO', `Unknown Content-Transfer-Encoding ${node.encoding}`, 'UNKNOWN-CTE');
    }
    return { bytes: decodeTransfer(await view.read(message, node.bodyStart, node.end), encoding) };
  }
  const isFields = item.part === 'HEADER.FIELDS' || item.part === 'HEADER.FIELDS.NOT';
  const range = sectionRange(index, item.path, isFields ? 'HEADER' : (item.part as SectionPart));
  if (!range) return null;
  if (isFields)
    return {
      bytes: filterHeader(
        await view.read(message, range.start, range.end),
        item.fields,
        item.part === 'HEADER.FIELDS.NOT',
      ),
    };
  return range;
}

/**
 * A literal of a FETCH response: bytes read already, or a large blob range read while it is
 * written, whose first chunk is read before anything is written (so a blob freed meanwhile shows
 * before the response starts, not half-way through its literal).
 */
type Literal = { bytes: Buffer; binary: boolean } | { start: number; end: number; first: Buffer; binary: boolean };

/** Narrows a section to its <partial> and reads it unless it is large enough to stream. */
async function literalOf(
  view: Content,
  message: Message,
  body: Body,
  partial: SectionItem['partial'],
  binary: boolean,
): Promise<Literal> {
  let start: number;
  let end: number;
  if ('bytes' in body) {
    start = 0;
    end = body.bytes.length;
  } else {
    ({ start, end } = body);
  }
  if (partial) {
    const from = Math.min(start + partial.start, end);
    end = Math.min(from + partial.length, end);
    start = from;
  }
  if ('bytes' in body) return { bytes: body.bytes.subarray(start, end), binary };
  if (end - start <= STREAM_THRESHOLD) return { bytes: await view.read(message, start, end), binary };
  return { start, end, first: await view.read(message, start, Math.min(start + STREAM_CHUNK, end)), binary };
}

/** Writes one literal, reading a large one chunk by chunk (from the same view) and waiting whenever the client lags. */
async function writeLiteral(
  session: Session,
  out: Output,
  view: Content,
  message: Message,
  literal: Literal,
): Promise<void> {
  if ('bytes' in literal) {
    out.text(`${literal.binary && literal.bytes.includes(0) ? '~' : ''}{${literal.bytes.length}}\r\n`);
    out.bytes(literal.bytes);
    return;
  }
  const { start, end } = literal;
  // literal8 when binary: a whole raw message may hold NULs we cannot check before sending
  out.text(`${literal.binary ? '~' : ''}{${end - start}}\r\n`);
  out.bytes(literal.first);
  if (!out.flush()) await session.drain();
  for (let pos = start + literal.first.length; pos < end; pos += STREAM_CHUNK) {
    let chunk: Buffer;
    try {
      chunk = await view.read(message, pos, Math.min(pos + STREAM_CHUNK, end));
    } catch (err) {
      // Half a literal cannot be taken back, and anything sent now would be read as its bytes:
      // the only honest end is to drop the connection.
      session.ctx.logger?.error(
        { err, session: session.id },
        'imap fetch failed inside a literal; closing the connection',
      );
      session.transport.destroy();
      return;
    }
    if (!session.write(chunk)) await session.drain();
    if (session.transport.closed) return;
  }
}

export async function fetch(session: Session, args: FetchArgs, byUid: boolean): Promise<Reply> {
  // One snapshot for the whole command: every record it reads has its blob in the same snapshot,
  // so an expunge by another session (which frees the blob) cannot break a response half-way.
  const view = session.ctx.store.view();
  try {
    return await fetchFrom(view, session, args, byUid);
  } finally {
    await view.close();
  }
}

async function fetchFrom(view: StoreView, session: Session, args: FetchArgs, byUid: boolean): Promise<Reply> {
  const selected = session.selected!;
  const items = [...args.items];
  const has = (name: SimpleItem): boolean => items.includes(name);
  if (byUid && !has('UID')) items.unshift('UID');
  if (args.changedSince !== null || has('MODSEQ')) session.useCondstore();
  if (args.changedSince !== null && !has('MODSEQ')) items.push('MODSEQ');
  if (args.vanished) {
    if (!byUid || !session.qresync) throw new ImapError('BAD', 'VANISHED needs UID FETCH and QRESYNC');
    const changes = await session.ctx.store.messages.changesSince(selected.folder.id, args.changedSince!);
    const max = selected.folder.uidNext - 1;
    const gone = changes
      .filter((c) => c.kind === 'expunge')
      .flatMap((c) => c.uids)
      .filter((uid) => inRanges(uid, args.ranges, max));
    if (gone.length) session.send(`* VANISHED (EARLIER) ${formatSequenceSet([...new Set(gone)])}`);
  }
  const sections = items.filter((i): i is SectionItem => typeof i !== 'string');
  const encodedItems = ENCODED.filter((name) => has(name));
  const storedItems = encodedItems.filter((name) => name !== 'BODY'); // what Blobs.fetchItems holds
  const needsTree = sections.some((s) => s.path.length || s.part);
  const marksSeen = !selected.readOnly && sections.some((s) => !s.peek);
  // Messages expunged by another session but not yet announced are still in the client's view; once
  // gone from the store they get no FETCH response and the command ends NO [EXPUNGEISSUED]
  // (RFC 2180 4.1.2, RFC 5530 3).
  const uids = uidsOf(selected, args.ranges, byUid);
  let gone = 0;
  const { store } = session.ctx;
  // The records come from the store's cached list (no decoding); it follows commits, so one may
  // outlive its blob by a moment: content missing from the view means the message is gone.
  const records = uids.length ? await store.messages.listShared(selected.folder.id) : [];
  const out = new Output(session);

  const load = async (from: number) => {
    const batch = uids.slice(from, from + BATCH);
    let messages = recordsOf(records, batch);
    let missing = batch.length - messages.length;
    if (args.changedSince !== null) messages = messages.filter((m) => m.modseq > args.changedSince!);
    const encoded = messages.map((m) => (encodedItems.length ? encodedCache.get(m.blob) : undefined));
    const lacks = (i: number, names: readonly (typeof ENCODED)[number][] = encodedItems): boolean =>
      names.some((name) => encoded[i]?.[name] === undefined);
    // ENVELOPE and BODYSTRUCTURE not in memory yet are read as formatted at delivery.
    const unformatted = storedItems.length ? messages.flatMap((_, i) => (lacks(i, storedItems) ? [i] : [])) : [];
    const stored = unformatted.length ? await view.fetchItems(unformatted.map((i) => messages[i]!.blob)) : [];
    unformatted.forEach((i, k) => {
      const items = stored[k];
      if (!items) return;
      encoded[i] = { ...encoded[i], ENVELOPE: items.envelope, BODYSTRUCTURE: items.bodyStructure };
      encodedCache.set(messages[i]!.blob, encoded[i]);
    });
    // Structures only where the tree is needed or an item is still missing (BODY, or a blob stored
    // before the formatted record existed).
    const reading = messages.filter((_, i) => needsTree || lacks(i));
    const read = await view.structuresIfPresent(reading.map((m) => m.blob));
    const structures = new Map<number, MessageStructure>();
    reading.forEach((m, i) => read[i] && structures.set(m.uid, read[i]));
    // Small messages read whole, in one read per batch, when a section wants their bytes.
    const small: Message[] = [];
    let budget = PREFETCH_BYTES;
    if (sections.some((s) => s.kind !== 'BINARY.SIZE' || s.path.length)) {
      for (const m of messages)
        if (m.size <= Math.min(STREAM_THRESHOLD, BLOB_CHUNK) && (budget -= m.size) >= 0) small.push(m);
    }
    const bytes = await view.readSmall(small);
    const prefetched = new Map<number, Buffer>();
    small.forEach((m, i) => bytes[i] && prefetched.set(m.uid, bytes[i]));
    const readFor = new Set(reading.map((m) => m.uid));
    const smallOnes = new Set(small.map((m) => m.uid));
    // By UID for this batch only: held as long as the batch's bodies, not for the whole command.
    const encodings = new Map<number, Encoded>();
    const present = messages.filter((m, i) => {
      const absent = (readFor.has(m.uid) && !structures.has(m.uid)) || (smallOnes.has(m.uid) && !prefetched.has(m.uid));
      if (absent) return false;
      const e = encoded[i] ?? (encodedItems.length ? {} : NONE);
      const structure = structures.get(m.uid);
      let added = false;
      for (const name of encodedItems) {
        if (e[name] !== undefined) continue;
        e[name] = encode(name, structure!);
        added = true;
      }
      if (added) encodedCache.set(m.blob, e);
      encodings.set(m.uid, e);
      return true;
    });
    missing += messages.length - present.length;
    return { messages: present, structures, encodings, content: new Content(view, prefetched), missing };
  };
  // The items of each response: FLAGS added where this FETCH set \Seen, MODSEQ beside FLAGS under CONDSTORE.
  const itemsFor = (flags: boolean): Item[] => {
    const list: Item[] = [...items];
    if (flags && !has('FLAGS')) list.push('FLAGS');
    if (session.condstore && list.includes('FLAGS') && !list.includes('MODSEQ')) list.push('MODSEQ');
    return list;
  };
  const plain = itemsFor(false);
  const withFlags = itemsFor(true);
  let next = uids.length ? load(0) : null;
  for (let i = 0; next; i += BATCH) {
    const loaded = await next;
    // The next batch is read while this one is written out (its UIDs are not touched by this one).
    next = i + BATCH < uids.length ? load(i + BATCH) : null;
    next?.catch(() => {}); // if the client goes away first, nobody awaits it
    let { messages } = loaded;
    const { structures, encodings, content } = loaded;
    gone += loaded.missing;
    const seen = new Set<number>();
    if (marksSeen) {
      const unseen = messages.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
      if (unseen.length) {
        const update = await store.messages.updateFlags(selected.folder.id, unseen, 'add', ['\\Seen']);
        for (const m of update.updated) {
          selected.ownModseqs.add(m.modseq);
          seen.add(m.uid);
        }
        const fresh = new Map(update.updated.map((m) => [m.uid, m]));
        messages = messages.map((m) => fresh.get(m.uid) ?? m);
      }
    }
    // Another session may have added a keyword since this one last said FLAGS: announce it before
    // a FETCH shows it (RFC 3501 7.2.6).
    if (has('FLAGS') || seen.size) {
      out.flush();
      session.announceKeywords(messages);
    }
    for (const message of messages) {
      const seq = selected.seqOf(message.uid);
      if (!seq) continue;
      const responseItems = seen.has(message.uid) ? withFlags : plain;
      if (!sections.length) {
        // Nothing to read: formatted at once, without the promise per message of responsePieces.
        let line = `* ${seq} FETCH (`;
        const encoded = encodings.get(message.uid)!;
        for (let k = 0; k < responseItems.length; k++)
          line += (k ? ' ' : '') + simpleItem(responseItems[k] as SimpleItem, message, encoded, selected);
        out.text(`${line})\r\n`);
        if (out.full && !out.flush()) await session.drain();
        if (session.transport.closed) return {};
        continue;
      }
      // The whole response is resolved before its first byte is written, so an error (an unknown
      // transfer encoding, say) can only end the command, never leave a response half-written.
      let pieces: (string | Literal)[];
      try {
        pieces = await responsePieces(
          content,
          session,
          message,
          structures.get(message.uid),
          encodings.get(message.uid)!,
          responseItems,
        );
      } catch (err) {
        // Content missing because another session's expunge freed it meanwhile: the message is gone.
        if (!(err instanceof ImapError) && !(await view.getMany(selected.folder.id, [message.uid]))[0]) {
          gone++;
          continue;
        }
        out.flush(); // the responses before this one are whole
        throw err;
      }
      out.text(`* ${seq} FETCH (`);
      for (const piece of pieces) {
        if (typeof piece === 'string') out.text(piece);
        else await writeLiteral(session, out, content, message, piece);
      }
      out.text(')\r\n');
      content.release(message);
      if (out.full && !out.flush()) await session.drain();
      if (session.transport.closed) return {};
    }
  }
  if (!out.flush()) await session.drain();
  if (gone) return { status: 'NO', code: 'EXPUNGEISSUED', text: 'Some of the requested messages no longer exist' };
  return {};
}

/** One message's FETCH items: text, and literals (read already unless streamed). */
async function responsePieces(
  content: Content,
  session: Session,
  message: Message,
  structure: MessageStructure | undefined,
  encoded: Encoded,
  items: Item[],
): Promise<(string | Literal)[]> {
  const pieces: (string | Literal)[] = [];
  let text = '';
  const sep = (): string => (pieces.length || text ? ' ' : '');
  for (const item of items) {
    if (typeof item === 'string') {
      text += sep() + simpleItem(item, message, encoded, session.selected!);
      continue;
    }
    const body = await sectionBody(content, message, structure, item);
    const label = item.partial ? `${item.label}<${item.partial.start}>` : item.label;
    if (item.kind === 'BINARY.SIZE') {
      const size = !body ? 0 : 'bytes' in body ? body.bytes.length : body.end - body.start;
      text += `${sep()}${item.label} ${size}`;
    } else if (!body) {
      text += `${sep()}${label} NIL`;
    } else {
      text += `${sep()}${label} `;
      pieces.push(text, await literalOf(content, message, body, item.partial, item.kind === 'BINARY'));
      text = '';
    }
  }
  if (text) pieces.push(text);
  return pieces;
}

/** The records of `uids` (ascending) from the folder's list (in UID order), in that order; those not in it are left out. */
function recordsOf(records: readonly Message[], uids: number[]): Message[] {
  const out: Message[] = [];
  if (!uids.length) return out;
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (records[mid]!.uid < uids[0]!) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo, j = 0; i < records.length && j < uids.length; ) {
    const uid = records[i]!.uid;
    if (uid === uids[j]) {
      out.push(records[i]!);
      i++;
      j++;
    } else if (uid < uids[j]!) i++;
    else j++;
  }
  return out;
}

function simpleItem(item: SimpleItem, message: Message, encoded: Encoded, selected: Selected): string {
  switch (item) {
    case 'UID':
      return `UID ${message.uid}`;
    case 'FLAGS':
      return `FLAGS ${selected.flagList(message)}`;
    case 'INTERNALDATE':
      return `INTERNALDATE ${imapDate(message.internalDate)}`;
    case 'SAVEDATE': // every folder keeps save dates, so never NIL (RFC 8514 §4.2)
      return `SAVEDATE ${imapDate(saveDate(message))}`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${message.size}`;
    case 'MODSEQ':
      return `MODSEQ (${message.modseq})`;
    case 'ENVELOPE':
    case 'BODY':
    case 'BODYSTRUCTURE':
      return `${item} ${encoded[item]!}`;
  }
}

export const fetchCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseFetch,
    run: (session, args: FetchArgs) => fetch(session, args, byUid),
  });
