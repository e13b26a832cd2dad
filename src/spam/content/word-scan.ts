// Fixed lists of words found as whole words of a text, all lists in one walk over its characters (issue 18: the
// phrases' guard words and the offers' start words were each an alternation of some 200 words that the regex
// engine tried at every position of 32 and 16 KB; in the slowest 2% of the corpus' test mail the two passes were
// 11% of parsing, features and tokenizing). Each run of word characters is hashed as it is walked, lower-cased
// character by character, looked up in a table built once, and a hit confirmed by comparing characters in
// place: no string is made per word (one lower-cased string per word was slower than the regexes, branch
// `spamp99`). One walk costs about what one of the regex passes did: the gain is the passes it replaces.
//
// Each list's spec is the regex `\b(?:w1|w2|…)\b` with flags `gi` (no `u`): its \b and \w see [A-Za-z0-9_]
// only, and its /i folds an ASCII letter only to the other ASCII case, so each match is a whole run of those
// characters that equals a word of the list but for ASCII case. Beside plain words a list may hold `\d+` (a run
// of digits only) and `PREFIX\w*` (a run that starts with PREFIX): the two other pieces the offers' start words use.

/**
 * Per character code below 128: the code lower-cased (as /i compares ASCII letters) for the characters \w matches
 * without the u flag, 0 for the others.
 */
const WORD_CODE = new Uint8Array(128);
for (let c = 0; c < 128; c++)
  if (/\w/.test(String.fromCharCode(c))) WORD_CODE[c] = String.fromCharCode(c).toLowerCase().charCodeAt(0);
const ZERO = 48;
const NINE = 57;
const step = (hash: number, c: number) => (Math.imul(hash, 31) + c) | 0;
const PLAIN = /^[a-z0-9_]+$/;
const PREFIX = /^([a-z0-9_]+)\\w\*$/;
const DIGITS = '\\d+';

/** What one run of word characters is: the plain word it equals (if any), and which lists match it (bit i: list i). */
export type WordFound = (lists: number, start: number, end: number, word: string | undefined) => void;

export class WordTable {
  /** The plain words of all lists, each once. */
  private readonly words: string[] = [];
  /** Per plain word, the lists it is in (bit i: list i). */
  private readonly listsOf: number[] = [];
  /** Per slot, 1 + the index of the plain word whose hash lands there; 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly hashes: Int32Array;
  private readonly mask: number;
  private longest = 0;
  /** The `PREFIX\w*` pieces and their lists. */
  private readonly prefixes: { prefix: string; lists: number }[] = [];
  /** The lists that hold `\d+`. */
  private digits = 0;
  /** 1 for the (lower-cased) characters a run starts with to match `\d+` or a prefix. */
  private readonly specialStart = new Uint8Array(128);

  /** At most 31 lists, each of lower-case words, `\d+` or `PREFIX\w*`. */
  constructor(lists: readonly (readonly string[])[]) {
    const index = new Map<string, number>();
    lists.forEach((list, n) => {
      for (const word of list) {
        if (word === DIGITS) {
          this.digits |= 1 << n;
          for (let c = ZERO; c <= NINE; c++) this.specialStart[c] = 1;
        } else if (PREFIX.test(word)) {
          const prefix = PREFIX.exec(word)![1]!;
          this.prefixes.push({ prefix, lists: 1 << n });
          this.specialStart[prefix.charCodeAt(0)] = 1;
        } else if (PLAIN.test(word)) {
          const at = index.get(word) ?? this.words.push(word) - 1;
          index.set(word, at);
          this.listsOf[at] = (this.listsOf[at] ?? 0) | (1 << n);
        } else throw new Error(`WordTable: ${word} is not a lower-case word, \\d+ or a prefix with \\w*`);
      }
    });
    let size = 16;
    while (size < this.words.length * 4) size *= 2;
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(size);
    this.mask = size - 1;
    this.words.forEach((word, at) => {
      let hash = 0;
      for (let i = 0; i < word.length; i++) hash = step(hash, word.charCodeAt(i));
      let slot = hash & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = at + 1;
      this.hashes[slot] = hash;
      this.longest = Math.max(this.longest, word.length);
    });
  }

  /** Calls `found` for each run of word characters of the text that some list matches, in order. */
  scan(text: string, found: WordFound): void {
    const length = text.length;
    let start = -1;
    let hash = 0;
    let special = 0;
    for (let i = 0; i <= length; i++) {
      const c = i < length ? text.charCodeAt(i) : 128;
      const w = c < 128 ? WORD_CODE[c]! : 0;
      if (w !== 0) {
        if (start < 0) {
          start = i;
          hash = 0;
          special = this.specialStart[w]!;
        }
        hash = step(hash, w);
      } else if (start >= 0) {
        // Most runs are no word of the lists: their first slot is empty (a quarter of the slots are used).
        if (this.slots[hash & this.mask] !== 0 || special !== 0) this.match(text, start, i, hash, found);
        start = -1;
      }
    }
  }

  private match(text: string, start: number, end: number, hash: number, found: WordFound): void {
    let word: string | undefined;
    let lists = 0;
    if (end - start <= this.longest)
      for (let slot = hash & this.mask; this.slots[slot] !== 0; slot = (slot + 1) & this.mask) {
        const at = this.slots[slot]! - 1;
        if (this.hashes[slot] === hash && sameWord(this.words[at]!, text, start, end)) {
          word = this.words[at];
          lists = this.listsOf[at]!;
          break;
        }
      }
    if (this.digits !== 0 && allDigits(text, start, end)) lists |= this.digits;
    for (const p of this.prefixes)
      if (end - start >= p.prefix.length && sameWord(p.prefix, text, start, start + p.prefix.length)) lists |= p.lists;
    if (lists !== 0) found(lists, start, end, word);
  }
}

/**
 * Where the run of word characters that `at` cuts starts (a character before `at` and the one at it both word
 * characters), or `at` when it cuts none.
 */
export function runStart(text: string, at: number): number {
  const isWord = (i: number) => i >= 0 && i < text.length && (WORD_CODE[text.charCodeAt(i)] ?? 0) !== 0;
  if (!isWord(at)) return at;
  let start = at;
  while (isWord(start - 1)) start--;
  return start;
}

function allDigits(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < ZERO || c > NINE) return false;
  }
  return true;
}

/** Whether text[start, end) is `word` but for ASCII case (`word` is lower case, the text's run word characters). */
function sameWord(word: string, text: string, start: number, end: number): boolean {
  if (word.length !== end - start) return false;
  for (let i = 0; i < word.length; i++) if (WORD_CODE[text.charCodeAt(start + i)] !== word.charCodeAt(i)) return false;
  return true;
}
