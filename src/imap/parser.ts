// IMAP command input in two layers: a Framer that cuts the byte stream into commands (a line plus
// the literals it announces, bounded in size), and parseCommand that turns one frame into tokens.

export type Token =
  | { kind: 'atom'; value: string }
  | { kind: 'string'; value: Buffer; literal: boolean }
  | { kind: 'list'; items: Token[] };

export interface Frame {
  /** Line segments; a literal sits between segment i and i+1, its marker ends segment i. */
  segments: Buffer[];
  literals: Buffer[];
}

export interface FramerLimits {
  maxLineBytes: number;
  maxLiteralBytes: number;
}

/** What the framer asks of its connection while it reads. */
export interface FramerEvents {
  /** A synchronising literal was announced and fits: the client waits for "+". */
  continuation(): void;
  /** A synchronising literal is too large: refuse the command (tagged), the client sends nothing more of it. */
  refuse(tag: string, text: string): void;
}

export class FramingError extends Error {}

const LITERAL_AT_END = /\{(\d{1,20})(\+?)\}$/;

/**
 * Cuts input into frames. Memory stays bounded: a line may not exceed maxLineBytes, a literal is
 * kept as the pieces that have arrived (announcing 50 MiB and sending nothing costs nothing), and APPEND is the only command whose literals
 * may reach maxLiteralBytes, in total over all its messages (every other command is held to
 * maxLineBytes in total).
 */
export class Framer {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private segments: Buffer[] = [];
  private literals: Buffer[] = [];
  private frameBytes = 0;
  private appendBytes = 0;
  /** The literal being read: its pieces as they arrive, so memory follows bytes sent, not bytes announced. */
  private literal: { size: number; pieces: Buffer[]; filled: number } | null = null;
  private readonly limits: FramerLimits;
  private readonly events: FramerEvents;

  constructor(limits: FramerLimits, events: FramerEvents) {
    this.limits = limits;
    this.events = events;
  }

  get buffered(): number {
    return this.pendingBytes;
  }

  feed(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** Drops everything buffered (after STARTTLS, nothing sent in clear may be acted on). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.startFrame();
  }

  /**
   * The next complete frame, or null until more input arrives. With `raw`, the next line is returned
   * as it is, literal markers and all (IDLE's DONE, SASL responses). Throws FramingError when the
   * client breaks a limit in a way that leaves the stream unusable; the caller says BYE and closes.
   */
  next(raw = false): Frame | null {
    for (;;) {
      if (this.literal) {
        if (!this.fillLiteral()) return null;
        continue;
      }
      const line = this.takeLine();
      if (!line) return null;
      if (raw) return { segments: [line], literals: [] };
      this.frameBytes += line.length;
      this.segments.push(line);
      const marker = LITERAL_AT_END.exec(line.toString('latin1'));
      if (!marker) {
        const frame = { segments: this.segments, literals: this.literals };
        this.startFrame();
        return frame;
      }
      const size = Number(marker[1]);
      const sync = marker[2] !== '+';
      const isAppend = /^\S+\s+APPEND\s/i.test(this.segments[0]!.toString('latin1'));
      // A MULTIAPPEND holds all its messages until it commits them at once: bound their sum too.
      const limit = isAppend
        ? this.limits.maxLiteralBytes - this.appendBytes
        : this.limits.maxLineBytes - this.frameBytes;
      if (size > limit || (isAppend && this.frameBytes > this.limits.maxLineBytes)) {
        if (!sync) throw new FramingError(isAppend ? 'Literal exceeds APPENDLIMIT' : 'Command too long');
        const tag = /^[^\s{]*/.exec(this.segments[0]!.toString('latin1'))![0] || '*';
        this.startFrame();
        this.events.refuse(tag, isAppend ? '[TOOBIG] Literal exceeds APPENDLIMIT' : '[TOOBIG] Command too long');
        continue;
      }
      if (isAppend) this.appendBytes += size;
      else this.frameBytes += size;
      this.literal = { size, pieces: [], filled: 0 };
      if (sync) this.events.continuation();
    }
  }

  private startFrame(): void {
    this.segments = [];
    this.literals = [];
    this.frameBytes = 0;
    this.appendBytes = 0;
    this.literal = null;
  }

  private fillLiteral(): boolean {
    const literal = this.literal!;
    while (literal.filled < literal.size && this.pending.length) {
      const chunk = this.pending[0]!;
      const n = Math.min(chunk.length, literal.size - literal.filled);
      literal.pieces.push(chunk.subarray(0, n));
      literal.filled += n;
      this.consume(n);
    }
    if (literal.filled < literal.size) return false;
    this.literals.push(literal.pieces.length === 1 ? literal.pieces[0]! : Buffer.concat(literal.pieces, literal.size));
    this.literal = null;
    return true;
  }

  private consume(n: number): void {
    this.pendingBytes -= n;
    while (n > 0) {
      const chunk = this.pending[0]!;
      if (chunk.length <= n) {
        this.pending.shift();
        n -= chunk.length;
      } else {
        this.pending[0] = chunk.subarray(n);
        n = 0;
      }
    }
  }

  /** One line without its CRLF (a bare LF is accepted too), or null if none is complete yet. */
  private takeLine(): Buffer | null {
    let offset = 0;
    for (const chunk of this.pending) {
      const lf = chunk.indexOf(10);
      if (lf >= 0) {
        const length = offset + lf;
        if (length > this.limits.maxLineBytes) throw new FramingError('Line too long');
        const joined = this.pending.length === 1 ? chunk : Buffer.concat(this.pending);
        const line = Buffer.from(joined.subarray(0, length));
        this.consume(length + 1);
        return line.length && line[line.length - 1] === 13 ? line.subarray(0, line.length - 1) : line;
      }
      offset += chunk.length;
      if (offset > this.limits.maxLineBytes) throw new FramingError('Line too long');
    }
    return null;
  }
}

export class ParseError extends Error {
  /** The command's tag when it could be read (a tagged BAD), else the answer is untagged. */
  readonly tag: string | null;
  constructor(message: string, tag: string | null = null) {
    super(message);
    this.tag = tag;
  }
}

export interface Command {
  tag: string;
  /** Upper-case; "UID FETCH" style for UID commands. */
  name: string;
  args: Token[];
}

/**
 * Deepest nesting of parenthesised lists (and of SEARCH's NOT/OR/groups, search.ts) a command may
 * have. Real clients nest a handful of levels; the parsers recurse per level, so without a bound a
 * 64 KiB line of "(" would overflow the stack.
 */
export const MAX_NESTING = 100;
export const NESTING_ERROR = `Arguments nested too deeply (more than ${MAX_NESTING} levels)`;

const TAG = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5e-\x7a\x7c\x7e]+$/; // ASTRING-CHAR minus "+", no "%*(){ \"\\]"

/** Parses one frame into its tag, command name and argument tokens. */
export function parseCommand(frame: Frame): Command {
  const reader = new TokenReader(frame);
  const tag = reader.word();
  if (!tag || !TAG.test(tag)) throw new ParseError('Invalid tag');
  if (!reader.space()) throw new ParseError('Missing command', tag);
  let name = reader.word().toUpperCase();
  if (!/^[A-Z][A-Z0-9.=-]*$/.test(name)) throw new ParseError('Invalid command', tag);
  if (name === 'UID') {
    if (!reader.space()) throw new ParseError('Missing UID command', tag);
    name = `UID ${reader.word().toUpperCase()}`;
  }
  try {
    const args = reader.space() ? reader.tokens(false) : reader.end();
    return { tag, name, args };
  } catch (err) {
    throw new ParseError((err as Error).message, tag);
  }
}

/** Walks a frame's segments, taking literals where their markers end a segment. */
class TokenReader {
  private seg = 0;
  private pos = 0;
  private depth = 0;
  private readonly frame: Frame;
  private readonly texts: string[];

  constructor(frame: Frame) {
    this.frame = frame;
    this.texts = frame.segments.map((s) => s.toString('latin1'));
  }

  private get text(): string {
    return this.texts[this.seg]!;
  }

  /** Characters up to the next space (for the tag and command name). */
  word(): string {
    const start = this.pos;
    while (this.pos < this.text.length && this.text[this.pos] !== ' ') this.pos++;
    return this.text.slice(start, this.pos);
  }

  space(): boolean {
    if (this.text[this.pos] !== ' ') return false;
    this.pos++;
    return true;
  }

  end(): Token[] {
    if (this.pos < this.text.length || this.seg < this.texts.length - 1) throw new Error('Unexpected characters');
    return [];
  }

  /** Space-separated tokens up to the end of the command, or up to ")" when inside a list. */
  tokens(inList: boolean): Token[] {
    const out: Token[] = [];
    for (;;) {
      const atEnd = this.pos >= this.text.length && this.seg >= this.texts.length - 1;
      if (atEnd) {
        if (inList) throw new Error('Unclosed list');
        return out;
      }
      const c = this.text[this.pos];
      if (c === ')') {
        if (!inList) throw new Error('Unexpected ")"');
        this.pos++;
        return out;
      }
      if (out.length) {
        if (c !== ' ') throw new Error('Expected a space');
        this.pos++;
        if (this.text[this.pos] === ' ') throw new Error('Unexpected space');
        if (this.text[this.pos] === ')' && inList) throw new Error('Unexpected space');
        if (this.pos >= this.text.length && this.seg >= this.texts.length - 1) throw new Error('Trailing space');
      }
      out.push(this.token());
    }
  }

  private token(): Token {
    const c = this.text[this.pos];
    if (c === '(') {
      if (++this.depth > MAX_NESTING) throw new Error(NESTING_ERROR);
      this.pos++;
      const items = this.tokens(true);
      this.depth--;
      return { kind: 'list', items };
    }
    if (c === '"') return this.quoted();
    if (c === '{' || (c === '~' && this.text[this.pos + 1] === '{')) return this.literal();
    return this.atom();
  }

  private quoted(): Token {
    const bytes: number[] = [];
    const segment = this.frame.segments[this.seg]!;
    for (this.pos++; this.pos < segment.length; this.pos++) {
      let b = segment[this.pos]!;
      if (b === 0x22) {
        this.pos++;
        return { kind: 'string', value: Buffer.from(bytes), literal: false };
      }
      if (b === 0x5c) {
        b = segment[++this.pos]!;
        if (b !== 0x22 && b !== 0x5c) throw new Error('Invalid escape in quoted string');
      }
      bytes.push(b);
    }
    throw new Error('Unterminated quoted string');
  }

  private literal(): Token {
    const rest = this.text.slice(this.pos);
    if (!/^~?\{\d+\+?\}$/.test(rest) || this.seg >= this.frame.literals.length) throw new Error('Invalid literal');
    const value = this.frame.literals[this.seg]!;
    this.seg++;
    this.pos = 0;
    return { kind: 'string', value, literal: true };
  }

  /** An atom; a "[...]" section (spaces and parentheses allowed) and a "<...>" partial stay inside it. */
  private atom(): Token {
    const start = this.pos;
    const text = this.text;
    while (this.pos < text.length) {
      const c = text[this.pos]!;
      if (c === '[') {
        // "[" is an ATOM-CHAR (only "]" is a resp-special): without a "]" it is part of a plain atom
        const close = text.indexOf(']', this.pos);
        this.pos = close < 0 ? this.pos + 1 : close + 1;
        continue;
      }
      if (
        c === ' ' ||
        c === '(' ||
        c === ')' ||
        c === '"' ||
        c === '{' ||
        c.charCodeAt(0) < 0x20 ||
        c.charCodeAt(0) === 0x7f
      )
        break;
      this.pos++;
    }
    if (this.pos === start) throw new Error(`Unexpected character ${JSON.stringify(text[this.pos] ?? '')}`);
    return { kind: 'atom', value: text.slice(start, this.pos) };
  }
}
