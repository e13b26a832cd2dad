// SORT (RFC 5256): keys from the stored search fields; ties fall back to sequence order.
import type { Message } from '../store/index.ts';
import type { HeaderFields } from '../store/blobs.ts';
import { atomsOf, BadArguments, type Args } from './args.ts';
import { checkCharset, parseKeys, parseReturnOptions, type SearchRequest } from './search.ts';

// DISPLAYFROM/DISPLAYTO: RFC 5957 (SORT=DISPLAY)
const CRITERIA = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);

export interface SortRequest extends SearchRequest {
  criteria: { name: string; reverse: boolean }[];
}

/** [RETURN (...)] (criteria) charset keys: RETURN is ESORT's (RFC 5267 3). */
export function parseSort(args: Args): SortRequest {
  const returns = parseReturnOptions(args);
  const words = atomsOf(args.list('sort criteria'), 'sort criterion').map((w) => w.toUpperCase());
  const criteria: SortRequest['criteria'] = [];
  for (let i = 0; i < words.length; i++) {
    const reverse = words[i] === 'REVERSE';
    const name = reverse ? words[++i] : words[i];
    if (!name || !CRITERIA.has(name)) throw new BadArguments('Unknown sort criterion');
    criteria.push({ name, reverse });
  }
  if (!criteria.length) throw new BadArguments('Missing sort criteria');
  checkCharset(args.astring('charset'));
  return { ...returns, criteria, key: parseKeys(args) };
}

const BLOB = String.raw`\[[^[\]]*\]\s*`;
const LEADER = new RegExp(String.raw`^(?:(?:${BLOB})*(?:re|fwd?)\s*(?:${BLOB})?:|\s+)`, 'i');
const LEADING_BLOB = new RegExp(`^${BLOB}`);

/**
 * RFC 5256 2.1 base subject, upper-cased for the i;unicode-casemap comparison SORT and THREAD use
 * (so "_" and "[" sort after letters, as in Dovecot): trailing "(fwd)"s, leading "Re:", "Fwd:" and
 * [blob]s (a blob only while something follows it), and "[fwd: ...]" wrappers removed.
 */
export function baseSubject(subject: string): string {
  return subjectInfo(subject).base;
}

/** The base subject, and whether the subject was a reply or forward (THREAD REFERENCES groups by it, RFC 5256 5). */
export function subjectInfo(subject: string): { base: string; reply: boolean } {
  let s = subject.replace(/[\t\r\n ]+/g, ' ');
  let reply = false;
  for (;;) {
    const trimmed = s.replace(/(?:\s|\(fwd\))+$/i, ''); // (2) subj-trailer
    reply ||= /\(fwd\)/i.test(s.slice(trimmed.length));
    s = trimmed;
    for (let before = ''; before !== s; ) {
      before = s;
      for (let m = LEADER.exec(s); m; m = LEADER.exec(s)) {
        // (3) subj-leader
        reply ||= m[0].trim() !== '';
        s = s.slice(m[0].length);
      }
      const blob = LEADING_BLOB.exec(s); // (4)
      if (blob && blob[0].length < s.length) s = s.slice(blob[0].length);
    }
    const wrapped = /^\[fwd:(.*)\]$/is.exec(s); // (6) subj-fwd-hdr ... subj-fwd-trl
    if (!wrapped) return { base: s.toUpperCase(), reply };
    reply = true;
    s = wrapped[1]!;
  }
}

/** RFC 5957 display name of the first address: its phrase, else its addr-spec (a group: its name). */
function displayName(list: string): string {
  const first = list.split(',')[0] ?? '';
  const group = /^([^<>@"]*):/.exec(first);
  if (group) return group[1]!.trim().toUpperCase();
  const angle = /^(.*?)<([^>]*)>?/.exec(first);
  return (angle ? angle[1]!.trim() || angle[2]! : first).trim().toUpperCase();
}

/** The mailbox of the first address (or the name of a group) in a "name <local@host>, ..." search field, for comparison. */
function firstMailbox(list: string): string {
  const first = list.split(',')[0] ?? '';
  const group = /^([^<>@"]*):/.exec(first);
  const angle = /<([^>@]*)/.exec(first);
  return (group ? group[1]! : angle ? angle[1]! : first.split('@')[0]!).trim().toUpperCase();
}

export interface Sortable {
  message: Message;
  seq: number;
  fields: HeaderFields;
}

/** Sort keys taken from the header fields (not ARRIVAL, SIZE or DATE's fallback, which are the record's). */
type ContentKeys = Partial<Record<'SUBJECT' | 'FROM' | 'TO' | 'CC' | 'DISPLAYFROM' | 'DISPLAYTO', string>>;

const CONTENT_KEYS: Record<keyof ContentKeys, (f: HeaderFields) => string> = {
  SUBJECT: (f) => baseSubject(f.subject),
  FROM: (f) => firstMailbox(f.from),
  TO: (f) => firstMailbox(f.to),
  CC: (f) => firstMailbox(f.cc),
  DISPLAYFROM: (f) => displayName(f.from),
  DISPLAYTO: (f) => displayName(f.to),
};

// Kept per header-fields object: those are held by content hash (store/content-cache.ts) and a
// blob's content never changes, so a key computed once serves every later SORT of any folder
// holding that content, with nothing to invalidate; the entry goes when the fields object does.
const contentKeys = new WeakMap<HeaderFields, ContentKeys>();

function contentKey(fields: HeaderFields, name: keyof ContentKeys): string {
  let keys = contentKeys.get(fields);
  if (!keys) contentKeys.set(fields, (keys = {}));
  return (keys[name] ??= CONTENT_KEYS[name](fields));
}

/** The base subject of `fields`, computed once per content (THREAD ORDEREDSUBJECT groups by it). */
export const baseSubjectOf = (fields: HeaderFields): string => contentKey(fields, 'SUBJECT');

function sortValue(item: Sortable, name: string): string | number {
  switch (name) {
    case 'ARRIVAL':
      return item.message.internalDate;
    case 'DATE':
      return item.fields.date ?? item.message.internalDate;
    case 'SIZE':
      return item.message.size;
    default:
      return contentKey(item.fields, name as keyof ContentKeys);
  }
}

export function sortMessages(items: Sortable[], criteria: SortRequest['criteria']): Sortable[] {
  if (criteria.length === 1) {
    // One key (the usual SORT (DATE)): keys in an array beside the positions, a plain comparator.
    const [{ name, reverse }] = criteria as [SortRequest['criteria'][0]];
    const keys = items.map((item) => sortValue(item, name));
    const order = items.map((_, i) => i);
    const sign = reverse ? -1 : 1;
    order.sort((a, b) => {
      const x = keys[a]!;
      const y = keys[b]!;
      return x < y ? -sign : x > y ? sign : items[a]!.seq - items[b]!.seq;
    });
    return order.map((i) => items[i]!);
  }
  // Keys computed once per message, not once per comparison.
  const keyed = items.map((item) => ({ item, keys: criteria.map(({ name }) => sortValue(item, name)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.keys[i]!;
      const y = b.keys[i]!;
      const order = x < y ? -1 : x > y ? 1 : 0;
      if (order) return criteria[i]!.reverse ? -order : order;
    }
    return a.item.seq - b.item.seq;
  });
  return keyed.map((k) => k.item);
}
