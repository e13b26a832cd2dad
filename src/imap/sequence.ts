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
export function formatSequenceSet(numbers: number[], sort = true): string {
  const list = sort ? [...numbers].sort((a, b) => a - b) : numbers;
  const parts: string[] = [];
  for (let i = 0; i < list.length; ) {
    let j = i;
    while (j + 1 < list.length && list[j + 1] === list[j]! + 1) j++;
    parts.push(i === j ? String(list[i]) : `${list[i]}:${list[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
