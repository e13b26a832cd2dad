// Comparators (RFC 4790: i;octet, i;ascii-casemap) and match types (RFC 5228 §2.7.1).
import type { Matcher } from './validate.ts';

const casemap = (s: string): string => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Does `value` match any of `keys`? */
export function matchAny(m: Matcher, values: string[], keys: string[]): boolean {
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
