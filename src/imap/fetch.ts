// FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5): data items, BODY[section]<partial>, BINARY (RFC 3516),
// MODSEQ/CHANGEDSINCE/VANISHED (RFC 7162). ENVELOPE and BODYSTRUCTURE come from the index stored
// at delivery; sections are byte ranges of the blob, and large ones are streamed with backpressure.
import { bodyStructureToImap, envelopeToImap, findSection, sectionRange } from '../mime/index.ts';
import { decodeTransfer } from '../mime/decode.ts';
import type { SectionPart } from '../mime/types.ts';
import type { Message } from '../store/index.ts';
import type { MessageStructure } from '../store/blobs.ts';
import { Args, BadArguments } from './args.ts';
import { defineCommand, ImapError, type Reply, SELECTED } from './command.ts';
import { uidsOf } from './messages.ts';
import type { Token } from './parser.ts';
import { formatSequenceSet, inRanges, type Range } from './sequence.ts';
import type { Selected, Session } from './session.ts';

type SimpleItem = 'UID' | 'FLAGS' | 'INTERNALDATE' | 'RFC822.SIZE' | 'ENVELOPE' | 'BODY' | 'BODYSTRUCTURE' | 'MODSEQ';

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
const SIMPLE = new Set<string>(['UID', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'MODSEQ']);
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
  const plain = (label: string, part: SectionItem['part'], peek: boolean): SectionItem =>
    ({ kind: 'BODY', label, peek, path: [], part, fields: [], partial: null });
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
  const fields = s.fields === undefined ? [] : s.fields.split(/\s+/).filter(Boolean).map((f) => f.replace(/^"(.*)"$/, '$1').toLowerCase());
  const partial = m[3] === undefined ? null : { start: Number(m[3]), length: Number(m[4]) };
  if (partial && partial.length === 0) throw new BadArguments('Partial length must be positive');
  const labelName = kind === 'BODY' ? 'BODY' : kind;
  return { kind, label: `${labelName}[${m[2]}]`, peek: name.endsWith('.PEEK') || kind === 'BINARY.SIZE', path, part, fields, partial };
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
/** Collected response text is written once it reaches this many characters. */
const OUTPUT_CHUNK = 64 * 1024;

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

async function sectionBody(session: Session, message: Message, structure: MessageStructure | undefined, item: SectionItem): Promise<Body | null> {
  const { store } = session.ctx;
  if (item.kind === 'BODY' && item.path.length === 0 && item.part === '') return { start: 0, end: message.size };
  const index = structure!; // fetch() loads the structure whenever a section names a part
  if (item.kind !== 'BODY') {
    if (item.path.length === 0) return { start: 0, end: message.size };
    const node = findSection(index, item.path);
    if (!node || node.children) return null;
    const raw = await store.read(message, node.bodyStart, node.end);
    const encoding = node.encoding.trim().toLowerCase();
    if (!['7bit', '8bit', 'binary', 'base64', 'quoted-printable'].includes(encoding)) {
      throw new ImapError('NO', `Unknown Content-Transfer-Encoding ${node.encoding}`, 'UNKNOWN-CTE');
    }
    return { bytes: decodeTransfer(raw, encoding) };
  }
  const isFields = item.part === 'HEADER.FIELDS' || item.part === 'HEADER.FIELDS.NOT';
  const range = sectionRange(index, item.path, isFields ? 'HEADER' : (item.part as SectionPart));
  if (!range) return null;
  if (isFields) return { bytes: filterHeader(await store.read(message, range.start, range.end), item.fields, item.part === 'HEADER.FIELDS.NOT') };
  return range;
}

/** Writes one literal, reading a blob range chunk by chunk and waiting whenever the client lags. */
async function writeBody(session: Session, message: Message, body: Body, partial: SectionItem['partial'], binary: boolean): Promise<void> {
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
  const length = end - start;
  if ('bytes' in body) {
    const bytes = body.bytes.subarray(start, end);
    session.write(`${binary && bytes.includes(0) ? '~' : ''}{${length}}\r\n`);
    session.write(bytes);
    return;
  }
  if (length <= STREAM_THRESHOLD) {
    const bytes = await session.ctx.store.read(message, start, end);
    session.write(`${binary && bytes.includes(0) ? '~' : ''}{${length}}\r\n`);
    session.write(bytes);
    return;
  }
  // literal8 when binary: a whole raw message may hold NULs we cannot check before sending
  session.write(`${binary ? '~' : ''}{${length}}\r\n`);
  for (let pos = start; pos < end; pos += STREAM_CHUNK) {
    const chunk = await session.ctx.store.read(message, pos, Math.min(pos + STREAM_CHUNK, end));
    if (!session.write(chunk)) await session.drain();
    if (session.transport.closed) return;
  }
}

export async function fetch(session: Session, args: FetchArgs, byUid: boolean): Promise<Reply> {
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
    const gone = changes.filter((c) => c.kind === 'expunge').flatMap((c) => c.uids).filter((uid) => inRanges(uid, args.ranges, max));
    if (gone.length) session.send(`* VANISHED (EARLIER) ${formatSequenceSet([...new Set(gone)])}`);
  }
  const sections = items.filter((i): i is SectionItem => typeof i !== 'string');
  const needsStructure = has('ENVELOPE') || has('BODY') || has('BODYSTRUCTURE') || sections.some((s) => s.path.length || s.part);
  const marksSeen = !selected.readOnly && sections.some((s) => !s.peek);
  const uids = uidsOf(selected, args.ranges, byUid).filter((uid) => !selected.expunged.has(uid));
  const { store } = session.ctx;
  // Response text is collected and written in large pieces: a socket write per item cost more than
  // formatting the items.
  let out = '';
  const flush = (): boolean => {
    const ok = out ? session.write(out) : true;
    out = '';
    return ok;
  };

  const load = async (from: number): Promise<{ messages: Message[]; structures: MessageStructure[] }> => {
    let messages = await readMessages(session, uids.slice(from, from + BATCH));
    if (args.changedSince !== null) messages = messages.filter((m) => m.modseq > args.changedSince!);
    return { messages, structures: needsStructure ? await store.blobs.structures(messages.map((m) => m.blob)) : [] };
  };
  let next = uids.length ? load(0) : null;
  for (let i = 0; next; i += BATCH) {
    const loaded = await next;
    // The next batch is read while this one is written out (its UIDs are not touched by this one).
    next = i + BATCH < uids.length ? load(i + BATCH) : null;
    next?.catch(() => {}); // if the client goes away first, nobody awaits it
    let { messages } = loaded;
    const { structures } = loaded;
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
        messages = messages.map((m) => fresh.get(m.uid) ?? m); // same order, so `structures` still lines up
      }
    }
    for (let j = 0; j < messages.length; j++) {
      const message = messages[j]!;
      const seq = selected.seqOf(message.uid);
      if (!seq) continue;
      const structure = structures[j];
      out += `* ${seq} FETCH (`;
      let first = true;
      const sep = (): string => (first ? ((first = false), '') : ' ');
      const responseItems: Item[] = [...items];
      if (seen.has(message.uid) && !has('FLAGS')) responseItems.push('FLAGS');
      if (session.condstore && responseItems.includes('FLAGS') && !responseItems.includes('MODSEQ')) responseItems.push('MODSEQ');
      for (const item of responseItems) {
        if (typeof item === 'string') {
          out += sep() + simpleItem(item, message, structure, selected);
          continue;
        }
        const body = await sectionBody(session, message, structure, item);
        const label = item.partial ? `${item.label}<${item.partial.start}>` : item.label;
        if (item.kind === 'BINARY.SIZE') {
          const size = !body ? 0 : 'bytes' in body ? body.bytes.length : body.end - body.start;
          out += `${sep()}${item.label} ${size}`;
        } else if (!body) {
          out += `${sep()}${label} NIL`;
        } else {
          out += `${sep()}${label} `;
          flush();
          await writeBody(session, message, body, item.partial, item.kind === 'BINARY');
        }
      }
      out += ')\r\n';
      if (out.length >= OUTPUT_CHUNK && !flush()) await session.drain();
      if (session.transport.closed) return {};
    }
  }
  if (!flush()) await session.drain();
  return {};
}

/** The stored records of `uids` (ascending), in that order; those expunged meanwhile are left out. */
async function readMessages(session: Session, uids: number[]): Promise<Message[]> {
  const { store } = session.ctx;
  const folderId = session.selected!.folder.id;
  if (!uids.length) return [];
  const first = uids[0]!;
  const last = uids[uids.length - 1]!;
  // Dense sets (1:*, most ranges) read as one scan; sparse ones key by key.
  if (last - first + 1 > uids.length * 2) return (await store.messages.getMany(folderId, uids)).filter((m): m is Message => !!m);
  const wanted = new Set(uids);
  return (await store.messages.range(folderId, first, last)).filter((m) => wanted.has(m.uid));
}

function simpleItem(item: SimpleItem, message: Message, structure: MessageStructure | undefined, selected: Selected): string {
  switch (item) {
    case 'UID': return `UID ${message.uid}`;
    case 'FLAGS': return `FLAGS ${selected.flagList(message)}`;
    case 'INTERNALDATE': return `INTERNALDATE ${imapDate(message.internalDate)}`;
    case 'RFC822.SIZE': return `RFC822.SIZE ${message.size}`;
    case 'MODSEQ': return `MODSEQ (${message.modseq})`;
    case 'ENVELOPE': return `ENVELOPE ${envelopeToImap(structure!.envelope)}`;
    case 'BODY': return `BODY ${bodyStructureToImap(structure!.root, false)}`;
    case 'BODYSTRUCTURE': return `BODYSTRUCTURE ${bodyStructureToImap(structure!.root, true)}`;
  }
}

export const fetchCommand = (byUid: boolean) =>
  defineCommand({ states: SELECTED, holdsExpunges: true, parse: parseFetch, run: (session, args: FetchArgs) => fetch(session, args, byUid) });
