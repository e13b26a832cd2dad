// Sequence sets ("1:4,7,9:*") as ranges, resolved against a session's UID list.

export type Range = [number, number]; // inclusive; Infinity stands for "*"

export class SequenceError extends Error {}

export function parseSequenceSet(text: string): Range[] {
  if (!/^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(text))
    throw new SequenceError(`Invalid sequence set ${text}`);
  return text.split(',').map((part) => {
    const [a, b = a] = part.split(':').map((n) => (n === '*' ? Infinity : Number(n)));
    if (a === 0 || b === 0) throw new SequenceError('Sequence numbers start at 1');
    return a! <= b! ? [a!, b!] : [b!, a!];
  });
}

/** "*" is the largest number in use; with an empty mailbox it matches nothing. */
function bounded(ranges: Range[], max: number): Range[] {
  return ranges.map(([a, b]) => [a === Infinity ? max : a, b === Infinity ? max : b].sort((x, y) => x - y) as Range);
}

/** Indexes (0-based, ascending, unique) of the messages a sequence-number set names. */
export function resolveSequence(ranges: Range[], count: number): number[] {
  const hit = new Uint8Array(count);
  for (const [a, b] of bounded(ranges, count))
    for (let n = Math.max(a, 1); n <= Math.min(b, count); n++) hit[n - 1] = 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) if (hit[i]) out.push(i);
  return out;
}

/** Indexes of the messages whose UIDs a UID set names (uids ascending). */
export function resolveUids(ranges: Range[], uids: readonly number[]): number[] {
  const max = uids.length ? uids[uids.length - 1]! : 0;
  const bounds = bounded(ranges, max);
  const out: number[] = [];
  uids.forEach((uid, i) => {
    if (bounds.some(([a, b]) => uid >= a && uid <= b)) out.push(i);
  });
  return out;
}

export function inRanges(n: number, ranges: Range[], max: number): boolean {
  return bounded(ranges, max).some(([a, b]) => n >= a && n <= b);
}

/** Compact "1:3,7" form of a list of numbers (COPYUID, VANISHED, ESEARCH ALL). */
export function formatSequenceSet(numbers: readonly number[], sort = true): string {
  const list = sort && !ascending(numbers) ? [...numbers].sort((a, b) => a - b) : numbers;
  return Buffer.concat(numberBytes('', list, true, '')).toString('latin1');
}

const ascending = (numbers: readonly number[]): boolean => {
  for (let i = 1; i < numbers.length; i++) if (numbers[i]! < numbers[i - 1]!) return false;
  return true;
};

/** Bytes per piece of numberBytes: a 100,000-number answer goes out in ~10 writes, none copied whole. */
const PIECE = 65_536;
/** The most one number (u32) and its separator take: ",4294967295" or ":4294967295". */
const NUMBER_MAX = 11;
const [SPACE, COMMA, COLON] = [32, 44, 58];

/**
 * `head`, then the numbers as a SEARCH list (" 1 2 3", each after a space) or, `compact`, as a
 * sequence set ("1:3,7", runs of consecutive numbers as ranges, order kept), then `tail`: bytes in
 * pieces of up to 64 KiB, the digits written in place. A SEARCH answer of 86,903 UIDs as
 * strings joined cost ~40 ms (a string per number, then the whole copied); this ~2 ms (issue 17).
 */
export function numberBytes(head: string, numbers: ArrayLike<number>, compact: boolean, tail: string): Buffer[] {
  const pieces: Buffer[] = [];
  const size = (more: number) => Math.min(PIECE, more) + NUMBER_MAX;
  let buf = Buffer.allocUnsafe(size(Buffer.byteLength(head) + numbers.length * NUMBER_MAX));
  let at = buf.write(head);
  const put = (n: number, separator: number) => {
    if (at + NUMBER_MAX > buf.length) {
      pieces.push(buf.subarray(0, at));
      buf = Buffer.allocUnsafe(size(numbers.length * NUMBER_MAX));
      at = 0;
    }
    if (separator) buf[at++] = separator;
    let digits = 1;
    for (let m = n; m >= 10; m = Math.floor(m / 10)) digits++;
    for (let k = at + digits - 1; k >= at; k--) {
      buf[k] = 48 + (n % 10);
      n = Math.floor(n / 10);
    }
    at += digits;
  };
  for (let i = 0; i < numbers.length; ) {
    const first = numbers[i]!;
    if (!compact) {
      put(first, SPACE);
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === numbers[j]! + 1) j++;
    put(first, i ? COMMA : 0);
    if (j > i) put(numbers[j]!, COLON);
    i = j + 1;
  }
  pieces.push(buf.subarray(0, at));
  if (tail) pieces.push(Buffer.from(tail));
  return pieces;
}
