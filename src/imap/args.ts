// A cursor over a command's argument tokens; each command's parse() reads its grammar with it.
// Any mismatch throws BadArguments, which the session answers with a tagged BAD.
import type { Token } from './parser.ts';
import { parseSequenceSet, SequenceError, type Range } from './sequence.ts';

export class BadArguments extends Error {}

export class Args {
  private i = 0;
  private readonly tokens: Token[];

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  get remaining(): number {
    return this.tokens.length - this.i;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  /** True when the next token is the atom `word` (case-insensitive); consumes it. */
  accept(word: string): boolean {
    const t = this.peek();
    if (t?.kind === 'atom' && t.value.toUpperCase() === word) {
      this.i++;
      return true;
    }
    return false;
  }

  next(what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new BadArguments(`Missing ${what}`);
    return t;
  }

  atom(what = 'argument'): string {
    const t = this.next(what);
    if (t.kind !== 'atom') throw new BadArguments(`Expected ${what}`);
    return t.value;
  }

  /** astring as UTF-8 text (atoms carry raw 8-bit bytes as latin1 characters). */
  astring(what = 'argument'): string {
    return tokenText(this.next(what), what);
  }

  /** astring as bytes. */
  bytes(what = 'argument'): Buffer {
    const t = this.next(what);
    if (t.kind === 'string') return t.value;
    if (t.kind === 'atom') return Buffer.from(t.value, 'latin1');
    throw new BadArguments(`Expected ${what}`);
  }

  number(what = 'number'): number {
    const value = this.atom(what);
    if (!/^\d{1,20}$/.test(value)) throw new BadArguments(`Expected ${what}`);
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new BadArguments(`${what} too large`);
    return n;
  }

  list(what = 'list'): Token[] {
    const t = this.next(what);
    if (t.kind !== 'list') throw new BadArguments(`Expected ${what}`);
    return t.items;
  }

  /** A parenthesised list, or a single item where the grammar allows one (flag lists, fetch items). */
  listOrOne(what: string): Token[] {
    const t = this.next(what);
    return t.kind === 'list' ? t.items : [t];
  }

  sequenceSet(what = 'sequence set'): Range[] {
    try {
      return parseSequenceSet(this.atom(what));
    } catch (err) {
      if (err instanceof SequenceError) throw new BadArguments(err.message);
      throw err;
    }
  }

  end(): void {
    if (this.i < this.tokens.length) throw new BadArguments('Too many arguments');
  }
}

export function tokenText(t: Token, what = 'argument'): string {
  if (t.kind === 'string') return t.value.toString('utf8');
  if (t.kind === 'atom') return Buffer.from(t.value, 'latin1').toString('utf8');
  throw new BadArguments(`Expected ${what}`);
}

export function atomsOf(tokens: Token[], what: string): string[] {
  return tokens.map((t) => {
    if (t.kind !== 'atom') throw new BadArguments(`Expected ${what}`);
    return t.value;
  });
}
