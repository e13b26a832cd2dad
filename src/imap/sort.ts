// SORT (RFC 5256): keys from the stored search fields; ties fall back to sequence order.
import type { Message } from '../store/index.ts';
import type { HeaderFields } from '../store/blobs.ts';
import { atomsOf, BadArguments, type Args } from './args.ts';
import { defineCommand, SELECTED } from './command.ts';
import { searchWithFields } from './ordered.ts';
import { checkCharset, parseKeys, type Key } from './search.ts';

const CRITERIA = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO']);

export interface SortRequest {
  criteria: { name: string; reverse: boolean }[];
  key: Key;
}

export function parseSort(args: Args): SortRequest {
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
  return { criteria, key: parseKeys(args) };
}

/** RFC 5256 base subject: without Re:/Fwd: prefixes, [tags] and (fwd) trailers, lower-case. */
export function baseSubject(subject: string): string {
  let s = subject.replace(/\s+/g, ' ').trim().toLowerCase();
  for (let changed = true; changed; ) {
    const before = s;
    s = s.replace(/\s*\(fwd\)$/, '').trim();
    s = s.replace(/^(\[[^\]]*\]\s*)*(re|fwd?)\s*(\[[^\]]*\])?\s*:\s*/, '');
    const tag = /^\[[^\]]*\]\s*(.+)$/.exec(s);
    if (tag) s = tag[1]!;
    const wrapped = /^\[fwd:\s*(.*)\]$/.exec(s);
    if (wrapped) s = wrapped[1]!.trim();
    changed = s !== before;
  }
  return s;
}

/** The local part of the first address in a "name <local@host>, ..." search field. */
function firstMailbox(list: string): string {
  const first = list.split(',')[0] ?? '';
  const angle = /<([^>@]*)/.exec(first);
  return (angle ? angle[1]! : first.split('@')[0]!).trim().toLowerCase();
}

export interface Sortable {
  message: Message;
  seq: number;
  fields: HeaderFields;
}

export function sortMessages(items: Sortable[], criteria: SortRequest['criteria']): Sortable[] {
  const value = (item: Sortable, name: string): string | number => {
    switch (name) {
      case 'ARRIVAL': return item.message.internalDate;
      case 'DATE': return item.fields.date ?? item.message.internalDate;
      case 'SIZE': return item.message.size;
      case 'SUBJECT': return baseSubject(item.fields.subject);
      case 'FROM': return firstMailbox(item.fields.from);
      case 'TO': return firstMailbox(item.fields.to);
      default: return firstMailbox(item.fields.cc);
    }
  };
  // Keys computed once per message, not once per comparison (base subjects take several regexps).
  const keyed = items.map((item) => ({ item, keys: criteria.map(({ name }) => value(item, name)) }));
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

export const sortCommand = (byUid: boolean) =>
  defineCommand({
    states: SELECTED,
    holdsExpunges: true,
    parse: parseSort,
    async run(session, request) {
      const sorted = sortMessages(await searchWithFields(session, request.key), request.criteria);
      session.send(`* SORT${sorted.map((s) => ` ${byUid ? s.message.uid : s.seq}`).join('')}`);
    },
  });
