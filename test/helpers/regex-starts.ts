// The words a pattern's matches can start with, read from its source: the word walk (src/spam/content/word-scan.ts)
// tries a pattern only where one of its listed start words is, so a list that misses an alternative's first word
// loses that alternative's matches silently. This reads the few regex forms the feature patterns use (literals,
// groups and alternatives, ?, *, +, {m,n}, classes, \b \s \w \d, lookaheads) and throws on anything else.

/** A word as the walk lists it: a lower-case word, `\d+`, or `PREFIX\w*` where the run may go on. */
export function leadingWords(pattern: RegExp): Set<string> {
  const parser = new Parser(pattern.source);
  const node = parser.alternatives();
  if (parser.at < pattern.source.length) throw new Error(`unread from ${parser.at}: ${pattern.source}`);
  const words = new Set<string>();
  for (const state of run(node, [{ text: '', done: false, bounded: false }]))
    words.add(state.done || state.bounded ? state.text : `${state.text}\\w*`);
  for (const word of words)
    if (word === '' || word === '\\w*') throw new Error(`an alternative starts with no word: ${pattern}`);
  // A plain word a prefix of the set covers is found by the prefix: "refinanc" by "refinanc\w*".
  const prefixes = [...words].filter((w) => w.endsWith('\\w*')).map((w) => w.slice(0, -3));
  for (const word of words) if (!word.endsWith('\\w*') && prefixes.some((p) => word.startsWith(p))) words.delete(word);
  return words;
}

type Node =
  | { kind: 'seq'; items: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'char'; char: string }
  | { kind: 'word-char' } // \w: any word character, a run that goes on
  | { kind: 'digit' } // \d
  | { kind: 'gap' } // a character that is not a word character (\s, punctuation, a class of them)
  | { kind: 'boundary' } // \b
  | { kind: 'look' } // (?!…), (?=…): reads nothing
  | { kind: 'repeat'; node: Node; min: number; max: number };

interface State {
  text: string;
  /** The word has ended: a character that is not a word character came after it. */
  done: boolean;
  /** A \b came right after the text: the word cannot go on. */
  bounded: boolean;
}

const WORD = /^[a-z0-9_]$/;

function step(node: Node, state: State): State[] {
  if (state.done) return [state];
  switch (node.kind) {
    case 'seq':
      return run(node, [state]);
    case 'alt':
      return node.options.flatMap((option) => step(option, state));
    case 'char':
      if (!WORD.test(node.char)) return [{ ...state, done: true }];
      if (state.bounded) return [];
      return [{ text: state.text + node.char, done: false, bounded: false }];
    case 'word-char':
      return [{ text: `${state.text}\\w*`, done: true, bounded: false }];
    case 'digit':
      if (state.text === '') return [{ text: '\\d+', done: true, bounded: false }];
      return [{ text: `${state.text}\\w*`, done: true, bounded: false }];
    case 'gap':
      return [{ ...state, done: true }];
    case 'boundary':
      return [{ ...state, bounded: state.text !== '' }];
    case 'look':
      return [state];
    case 'repeat': {
      // Each count from min to max (capped: a word is read only while it has letters).
      const out: State[] = [];
      let states = [state];
      for (let n = 0; n <= Math.min(node.max, 3) && states.length; n++) {
        if (n >= node.min) out.push(...states);
        states = states.flatMap((s) => step(node.node, s));
      }
      if (node.max > 3) out.push(...states);
      return out;
    }
  }
}

function run(seq: Node & { kind: 'seq' }, states: State[]): State[] {
  for (const item of seq.items) states = states.flatMap((s) => step(item, s));
  return states;
}

class Parser {
  at = 0;
  private readonly source: string;
  constructor(source: string) {
    this.source = source;
  }

  alternatives(): Node & { kind: 'seq' } {
    const options: Node[] = [this.sequence()];
    while (this.source[this.at] === '|') {
      this.at++;
      options.push(this.sequence());
    }
    return options.length === 1
      ? (options[0] as Node & { kind: 'seq' })
      : { kind: 'seq', items: [{ kind: 'alt', options }] };
  }

  private sequence(): Node & { kind: 'seq' } {
    const items: Node[] = [];
    while (this.at < this.source.length && this.source[this.at] !== '|' && this.source[this.at] !== ')')
      items.push(this.quantified(this.atom()));
    return { kind: 'seq', items };
  }

  private atom(): Node {
    const c = this.source[this.at++]!;
    if (c === '(') {
      let look = false;
      if (this.source.startsWith('?:', this.at)) this.at += 2;
      else if (this.source.startsWith('?!', this.at) || this.source.startsWith('?=', this.at)) {
        this.at += 2;
        look = true;
      }
      const inner = this.alternatives();
      if (this.source[this.at++] !== ')') throw new Error(`unclosed group: ${this.source}`);
      return look ? { kind: 'look' } : inner;
    }
    if (c === '[') {
      const end = this.source.indexOf(']', this.at + 1);
      const body = this.source.slice(this.at, end);
      this.at = end + 1;
      // A class of word characters ([a-z], [a-z0-9 .]) may go on with the word; one of gaps only ([\s-]) ends it.
      return /a-z|0-9|\\w|\\d/.test(body) ? { kind: 'word-char' } : { kind: 'gap' };
    }
    if (c === '\\') {
      const e = this.source[this.at++]!;
      if (e === 'b') return { kind: 'boundary' };
      if (e === 'w') return { kind: 'word-char' };
      if (e === 'd') return { kind: 'digit' };
      if (e === 's' || e === 'W' || e === 'S' || e === 'D' || e === 'B') return { kind: 'gap' };
      return { kind: 'char', char: e };
    }
    if (c === '.' || c === '^' || c === '$') throw new Error(`${c} not read: ${this.source}`);
    return { kind: 'char', char: c.toLowerCase() };
  }

  private quantified(node: Node): Node {
    const q = this.source[this.at];
    let min = 1;
    let max = 1;
    if (q === '?') [min, max] = [0, 1];
    else if (q === '*') [min, max] = [0, Number.POSITIVE_INFINITY];
    else if (q === '+') [min, max] = [1, Number.POSITIVE_INFINITY];
    else if (q === '{') {
      const m = /^\{(\d+)(?:,(\d*))?\}/.exec(this.source.slice(this.at))!;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2]);
      this.at += m[0].length - 1;
    } else return node;
    this.at++;
    if (this.source[this.at] === '?') this.at++; // lazy: the same words
    return { kind: 'repeat', node, min, max };
  }
}
