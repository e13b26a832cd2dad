// RFC 5322 address lists to IMAP address structures. Hand-written rather than a library because
// the ENVELOPE must carry names exactly as sent (encoded-words not decoded), keep group markers, and
// take a trailing comment as the name when there is no phrase (as Dovecot does). It never throws:
// whatever it cannot make sense of becomes a best-effort mailbox.
import type { Address } from './types.ts';

type Kind = 'atom' | 'quoted' | 'comment' | 'literal' | 'special';

interface Token {
  kind: Kind;
  /** Unescaped content (quoted strings, comments) or the text itself. */
  text: string;
  /** As written, quotes and escapes included. */
  raw: string;
  /** Whitespace (or a comment) came right before this token. */
  space: boolean;
}

// Missing parts are filled as Dovecot does: a null host would turn an address into a group marker.
export const MISSING_MAILBOX = 'MISSING_MAILBOX';
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

const SPECIALS = '<>@,;:.';
// Longer address headers are abuse, not mail: only their start is read (ENVELOPE, search fields).
const MAX_INPUT = 64 * 1024;
const ENCODED_WORD = /=\?[^?\s]{1,75}\?[bBqQ]\?[^?\s]{0,1000}\?=/y;
// Bound the work one header can cause; real address lists are far below this.
const MAX_ADDRESSES = 5000;

// Character classes by code: 1 whitespace, 2 special (a token of its own), 4 ends an atom.
const CLASS = new Uint8Array(128);
for (const c of ' \t\r\n') CLASS[c.charCodeAt(0)] = 1 | 4;
for (const c of SPECIALS) CLASS[c.charCodeAt(0)] = 2 | 4;
for (const c of '"()[') CLASS[c.charCodeAt(0)] = 4;

function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let space = false;
  let i = 0;
  const n = input.length;
  while (i < n) {
    const code = input.charCodeAt(i);
    const cls = code < 128 ? CLASS[code]! : 0;
    if (cls & 1) {
      space = true;
      i++;
    } else if (code === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n && input.charCodeAt(j) !== 0x22) {
        if (input.charCodeAt(j) === 0x5c && j + 1 < n) {
          escaped = true;
          j++;
        }
        j++;
      }
      const body = input.slice(i + 1, j);
      const text = escaped ? body.replace(/\\(.)/gs, '$1') : body;
      const end = Math.min(j + 1, n);
      tokens.push({ kind: 'quoted', text, raw: input.slice(i, end), space });
      space = false;
      i = end;
    } else if (code === 0x28 /* ( */) {
      let depth = 0;
      let j = i;
      for (; j < n; j++) {
        const d = input.charCodeAt(j);
        if (d === 0x5c) j++;
        else if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) break;
      }
      const end = Math.min(j + 1, n);
      const inner = input.slice(i + 1, Math.min(j, n));
      const text = (inner.includes('\\') ? inner.replace(/\\(.)/gs, '$1') : inner).trim();
      tokens.push({ kind: 'comment', text, raw: input.slice(i, end), space });
      space = true; // a comment separates words as whitespace does
      i = end;
    } else if (code === 0x5b /* [ */) {
      const close = input.indexOf(']', i);
      const end = close === -1 ? n : close + 1;
      const literal = input.slice(i, end);
      tokens.push({ kind: 'literal', text: literal, raw: literal, space });
      space = false;
      i = end;
    } else if (cls & 2) {
      const c = input[i]!;
      tokens.push({ kind: 'special', text: c, raw: c, space });
      space = false;
      i++;
    } else {
      // An encoded-word is one word even when (against RFC 2047) it holds specials such as ":".
      let j = i + 1;
      if (code === 0x3d && input.charCodeAt(i + 1) === 0x3f) {
        ENCODED_WORD.lastIndex = i;
        const ew = ENCODED_WORD.exec(input);
        if (ew) j = i + ew[0].length;
      }
      for (; j < n; j++) {
        const d = input.charCodeAt(j);
        if (d < 128 && CLASS[d]! & 4) break;
      }
      const atom = input.slice(i, j);
      tokens.push({ kind: 'atom', text: atom, raw: atom, space });
      space = false;
      i = j;
    }
  }
  return tokens;
}

const isSpecial = (t: Token | undefined, c: string): boolean => t !== undefined && t.kind === 'special' && t.text === c;

/** Words of a display name or group name, joined with one space where the source had whitespace. */
function phrase(tokens: Token[]): string | null {
  let out = '';
  for (const t of tokens) {
    if (t.kind === 'comment') continue;
    if (out && t.space) out += ' ';
    out += t.kind === 'quoted' ? t.text : t.raw;
  }
  return out === '' ? null : out;
}

/** Local part or domain as written (quoted local parts keep their quotes), comments and blanks dropped. */
function spec(tokens: Token[]): string {
  let out = '';
  let afterDot = false; // tracked, not out.endsWith('.'): that flattens the rope on every token
  for (const t of tokens) {
    if (t.kind === 'comment') continue;
    if (out && t.space && t.kind !== 'special' && !afterDot) out += ' ';
    out += t.raw;
    afterDot = t.raw === '.';
  }
  return out;
}

function firstComment(tokens: Token[]): string | null {
  for (const t of tokens) if (t.kind === 'comment' && t.text) return t.text;
  return null;
}

function addrSpec(tokens: Token[]): { mailbox: string; host: string; adl: string | null } {
  // obs-route inside angle brackets (<@a,@b:user@host>) is ENVELOPE's "at-domain-list" (RFC 3501 7.4.2).
  let from = 0;
  let adl: string | null = null;
  if (isSpecial(tokens[0], '@')) {
    const colon = tokens.findIndex((t) => isSpecial(t, ':'));
    if (colon >= 0) {
      from = colon + 1;
      adl = tokens
        .slice(0, colon)
        .filter((t) => t.kind !== 'comment')
        .map((t) => t.raw)
        .join('');
    }
  }
  const rest = tokens.slice(from);
  let at = -1;
  for (let i = rest.length - 1; i >= 0; i--) {
    if (isSpecial(rest[i], '@')) {
      at = i;
      break;
    }
  }
  const local = spec(at === -1 ? rest : rest.slice(0, at));
  const host = at === -1 ? '' : spec(rest.slice(at + 1));
  return { mailbox: local || MISSING_MAILBOX, host: host || MISSING_DOMAIN, adl };
}

function mailbox(tokens: Token[]): Address | null {
  if (!tokens.some((t) => t.kind !== 'comment')) return null;
  const open = tokens.findIndex((t) => isSpecial(t, '<'));
  if (open >= 0) {
    let close = tokens.findIndex((t, i) => i > open && isSpecial(t, '>'));
    if (close === -1) close = tokens.length;
    const { mailbox, host, adl } = addrSpec(tokens.slice(open + 1, close));
    const before = tokens.slice(0, open);
    const name = phrase(before) ?? firstComment(before) ?? firstComment(tokens.slice(close + 1));
    return { name, adl, mailbox, host };
  }
  const { mailbox, host } = addrSpec(tokens);
  return { name: firstComment(tokens), adl: null, mailbox, host };
}

/** Parses an address-list header value. An empty or unusable value gives []. */
export function parseAddressList(value: string): Address[] {
  const tokens = tokenize(value.length > MAX_INPUT ? value.slice(0, MAX_INPUT) : value);
  const out: Address[] = [];
  let current: Token[] = [];
  let inGroup = false;
  let inAngle = false;
  let hasAt = false; // tracked rather than searched for, which would be quadratic on junk
  const flush = (): void => {
    const addr = mailbox(current);
    if (addr && out.length < MAX_ADDRESSES) out.push(addr);
    current = [];
    hasAt = false;
  };
  for (const t of tokens) {
    if (out.length >= MAX_ADDRESSES) break;
    if (t.kind === 'special') {
      if (inAngle) {
        if (t.text === '>') inAngle = false;
        current.push(t);
        continue;
      }
      if (t.text === '<') {
        inAngle = true;
      } else if (t.text === ',') {
        flush();
        continue;
      } else if (t.text === ':' && !inGroup && !hasAt) {
        out.push({ name: null, adl: null, mailbox: phrase(current) ?? '', host: null });
        inGroup = true;
        current = [];
        continue;
      } else if (t.text === ';') {
        flush();
        if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false; // outside a group, a ';' is taken as the list separator some clients write
        continue;
      } else if (t.text === '@') {
        hasAt = true;
      }
    }
    current.push(t);
  }
  flush();
  if (inGroup) out.push({ name: null, adl: null, mailbox: null, host: null });
  return out;
}
