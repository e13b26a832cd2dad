// Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric), match types (RFC 5228 §2.7.1) and the
// relational :value and :count matches (RFC 5231).
import type { Matcher, Relation } from './validate.ts';

const casemap = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/**
 * RFC 4790 §9.1.1: a string's value is the number its leading digits write; one that does not start with a
 * digit is positive infinity, equal to any other such. Compared as digit strings, so no number is too long.
 */
function compareNumeric(a: string, b: string): number {
  const digits = (s: string) => /^\d+/.exec(s)?.[0].replace(/^0+(?=\d)/, '');
  const x = digits(a);
  const y = digits(b);
  if (x === undefined || y === undefined) return (x === undefined ? 1 : 0) - (y === undefined ? 1 : 0);
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
}

/** The comparator's order: octets of the UTF-8 strings, after ASCII case folding for i;ascii-casemap. */
function comparison(comparator: string): (a: string, b: string) => number {
  if (comparator === 'i;ascii-numeric') return compareNumeric;
  const fold = comparator === 'i;ascii-casemap' ? casemap : (s: string) => s;
  return (a, b) => Buffer.compare(Buffer.from(fold(a)), Buffer.from(fold(b)));
}

const HOLDS: Record<Relation, (order: number) => boolean> = {
  gt: (o) => o > 0,
  ge: (o) => o >= 0,
  lt: (o) => o < 0,
  le: (o) => o <= 0,
  eq: (o) => o === 0,
  ne: (o) => o !== 0,
};

/** Does any of `values` match any of `keys`? With :count, their number is compared (RFC 5231 §4.1). */
export function matchAny(m: Matcher, values: string[], keys: string[]): boolean {
  if (m.match === 'value' || m.match === 'count' || m.comparator === 'i;ascii-numeric') {
    const compare = comparison(m.comparator);
    const holds = HOLDS[m.relation ?? 'eq'];
    const compared = m.match === 'count' ? [String(values.length)] : values;
    return compared.some((value) => keys.some((key) => holds(compare(value, key))));
  }
  const fold = m.comparator === 'i;ascii-casemap' ? casemap : (s: string) => s;
  const folded = keys.map(fold);
  for (const raw of values) {
    const value = fold(raw);
    for (const key of folded) {
      if (m.match === 'is' ? value === key : m.match === 'contains' ? value.includes(key) : glob(key, value))
        return true;
    }
  }
  return false;
}

/**
 * `*` matches any run of characters, `?` exactly one, `\` escapes the next one. Iterative with a
 * single backtrack point, so the cost is at most |pattern| × |value| steps whatever the input.
 */
export function glob(pattern: string, value: string): boolean {
  const p = tokens(pattern);
  const v = [...value];
  let pi = 0;
  let vi = 0;
  let starP = -1;
  let starV = 0;
  while (vi < v.length) {
    const t = p[pi];
    if (t && t.kind === 'star') {
      starP = ++pi;
      starV = vi;
    } else if (t && (t.kind === 'one' || t.char === v[vi])) {
      pi++;
      vi++;
    } else if (starP >= 0) {
      pi = starP;
      vi = ++starV;
    } else return false;
  }
  while (p[pi]?.kind === 'star') pi++;
  return pi === p.length;
}

type GlobToken = { kind: 'star' } | { kind: 'one' } | { kind: 'char'; char: string };

function tokens(pattern: string): GlobToken[] {
  const out: GlobToken[] = [];
  const chars = [...pattern];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\\' && i + 1 < chars.length) out.push({ kind: 'char', char: chars[++i]! });
    else if (c === '*') {
      if (out.at(-1)?.kind !== 'star') out.push({ kind: 'star' });
    } else if (c === '?') out.push({ kind: 'one' });
    else out.push({ kind: 'char', char: c });
  }
  return out;
}
