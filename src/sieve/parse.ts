// Sieve lexer and parser (RFC 5228 §8): the generic grammar only — commands, tests, arguments,
// blocks. What a command means, and whether its arguments fit, is validate.ts's business.

/** A problem in a script, at a 1-based line and column. */
export class SieveError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(message: string, line: number, column: number) {
    super(`line ${line}, column ${column}: ${message}`);
    this.line = line;
    this.column = column;
  }
}

export interface Position {
  line: number;
  column: number;
}

export type Argument =
  | ({ kind: 'tag'; name: string } & Position) // lower case, without the colon
  | ({ kind: 'number'; value: number } & Position)
  | ({ kind: 'strings'; values: string[]; list: boolean } & Position);

export interface TestNode extends Position {
  name: string; // lower case
  args: Argument[];
  tests: TestNode[];
}

export interface CommandNode extends Position {
  name: string;
  args: Argument[];
  tests: TestNode[];
  block: CommandNode[] | null;
}

type Token =
  | ({ type: 'identifier'; value: string } & Position)
  | ({ type: 'tag'; value: string } & Position)
  | ({ type: 'number'; value: number } & Position)
  | ({ type: 'string'; value: string } & Position)
  | ({ type: 'punct'; value: string } & Position)
  | ({ type: 'eof' } & Position);

const QUANTIFIER: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Blocks nested deeper than this are refused: the parser and the interpreter recurse. */
const MAX_NESTING = 32;

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const pos = (at = i): Position => ({ line, column: at - lineStart + 1 });
  const fail = (message: string, at = i): never => {
    throw new SieveError(message, line, at - lineStart + 1);
  };
  const newline = (at: number) => {
    line++;
    lineStart = at + 1;
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n') {
      newline(i);
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const start = pos();
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new SieveError('unterminated comment', start.line, start.column);
      for (let j = i; j < end; j++) if (text[j] === '\n') newline(j);
      i = end + 2;
    } else if (c === '"') {
      const start = pos();
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new SieveError('unterminated string', start.line, start.column);
        const ch = text[i]!;
        if (ch === '"') break;
        if (ch === '\\' && i + 1 < text.length) {
          // RFC 5228 §2.4.2: only \" and \\ are escapes; any other backslash is dropped
          i++;
          value += text[i];
          if (text[i] === '\n') newline(i);
        } else {
          if (ch === '\n') newline(i);
          value += ch;
        }
        i++;
      }
      i++;
      tokens.push({ type: 'string', value: value.replace(/\r?\n/g, '\r\n'), ...start });
    } else if (/[0-9]/.test(c)) {
      const start = pos();
      let j = i;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      let value = Number(text.slice(i, j));
      const q = QUANTIFIER[(text[j] ?? '').toLowerCase()];
      if (q) {
        value *= q;
        j++;
      }
      if (!Number.isSafeInteger(value)) fail('number too large');
      i = j;
      tokens.push({ type: 'number', value, ...start });
    } else if (c === ':' || /[A-Za-z_]/.test(c)) {
      const start = pos();
      let j = c === ':' ? i + 1 : i;
      if (!/[A-Za-z_]/.test(text[j] ?? '')) fail('expected a tag name after ":"');
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      const word = text.slice(c === ':' ? i + 1 : i, j).toLowerCase();
      if (c !== ':' && word === 'text' && text[j] === ':') {
        i = j + 1;
        tokens.push({ type: 'string', value: multiline(), ...start });
        continue;
      }
      i = j;
      tokens.push({ type: c === ':' ? 'tag' : 'identifier', value: word, ...start });
    } else if ('[](){},;'.includes(c)) {
      tokens.push({ type: 'punct', value: c, ...pos() });
      i++;
    } else fail(`unexpected character ${JSON.stringify(c)}`);
  }
  tokens.push({ type: 'eof', ...pos() });
  return tokens;

  /** `text:` up to a line holding a lone "."; a leading ".." is dot-unstuffed (RFC 5228 §2.4.2). */
  function multiline(): string {
    const start = pos();
    // the rest of the "text:" line may hold only whitespace and a comment
    while (text[i] === ' ' || text[i] === '\t') i++;
    if (text[i] === '#') while (i < text.length && text[i] !== '\n') i++;
    if (text[i] === '\r') i++;
    if (text[i] !== '\n') fail('expected end of line after "text:"');
    newline(i);
    i++;
    const lines: string[] = [];
    for (;;) {
      if (i >= text.length)
        throw new SieveError('unterminated multi-line string (missing "." line)', start.line, start.column);
      const nl = text.indexOf('\n', i);
      const end = nl < 0 ? text.length : nl;
      const content = text.slice(i, end).replace(/\r$/, '');
      if (nl >= 0) newline(nl);
      i = nl < 0 ? text.length : nl + 1;
      if (content === '.') break;
      lines.push(content.startsWith('..') ? content.slice(1) : content);
    }
    return lines.map((l) => `${l}\r\n`).join('');
  }
}

/** Parses a script into its command tree; throws SieveError on a syntax error. */
export function parse(text: string): CommandNode[] {
  const tokens = tokenize(text);
  let p = 0;
  const peek = () => tokens[p]!;
  const next = () => tokens[p++]!;
  const fail = (message: string, t: Token = peek()): never => {
    throw new SieveError(message, t.line, t.column);
  };
  const describe = (t: Token) =>
    t.type === 'eof'
      ? 'end of script'
      : t.type === 'string'
        ? 'a string'
        : t.type === 'number'
          ? `number ${t.value}`
          : `"${t.type === 'tag' ? ':' : ''}${t.value}"`;
  const isPunct = (t: Token, v: string) => t.type === 'punct' && t.value === v;
  const expect = (v: string) => {
    const t = next();
    if (!isPunct(t, v)) fail(`expected "${v}" but found ${describe(t)}`, t);
  };

  function commands(depth: number): CommandNode[] {
    const out: CommandNode[] = [];
    while (peek().type === 'identifier') out.push(command(depth));
    return out;
  }

  function command(depth: number): CommandNode {
    const t = next() as Token & { value: string };
    const node: CommandNode = { name: t.value, line: t.line, column: t.column, ...argumentsOf(depth), block: null };
    const end = next();
    if (isPunct(end, ';')) return node;
    if (!isPunct(end, '{')) fail(`expected ";" or "{" after ${node.name} but found ${describe(end)}`, end);
    if (depth >= MAX_NESTING) fail('blocks nested too deep', end);
    node.block = commands(depth + 1);
    expect('}');
    return node;
  }

  function argumentsOf(depth: number): { args: Argument[]; tests: TestNode[] } {
    const args: Argument[] = [];
    for (;;) {
      const t = peek();
      if (t.type === 'tag') args.push({ kind: 'tag', name: t.value, line: t.line, column: t.column });
      else if (t.type === 'number') args.push({ kind: 'number', value: t.value, line: t.line, column: t.column });
      else if (t.type === 'string')
        args.push({ kind: 'strings', values: [t.value], list: false, line: t.line, column: t.column });
      else if (isPunct(t, '[')) {
        p++;
        const values: string[] = [];
        for (;;) {
          const s = next();
          if (s.type !== 'string') fail(`expected a string in the list but found ${describe(s)}`, s);
          values.push((s as { value: string }).value);
          const sep = next();
          if (isPunct(sep, ']')) break;
          if (!isPunct(sep, ',')) fail(`expected "," or "]" but found ${describe(sep)}`, sep);
        }
        args.push({ kind: 'strings', values, list: true, line: t.line, column: t.column });
        continue;
      } else break;
      p++;
    }
    const tests: TestNode[] = [];
    const t = peek();
    if (t.type === 'identifier') tests.push(test(depth));
    else if (isPunct(t, '(')) {
      p++;
      if (depth >= MAX_NESTING) fail('tests nested too deep', t);
      for (;;) {
        tests.push(test(depth + 1));
        const sep = next();
        if (isPunct(sep, ')')) break;
        if (!isPunct(sep, ',')) fail(`expected "," or ")" but found ${describe(sep)}`, sep);
      }
    }
    return { args, tests };
  }

  function test(depth: number): TestNode {
    const t = next();
    if (t.type !== 'identifier') fail(`expected a test but found ${describe(t)}`, t);
    if (depth >= MAX_NESTING) fail('tests nested too deep', t);
    const { args, tests } = argumentsOf(depth + 1);
    return { name: (t as { value: string }).value, line: t.line, column: t.column, args, tests };
  }

  const script = commands(0);
  if (peek().type !== 'eof') fail(`expected a command but found ${describe(peek())}`);
  return script;
}
