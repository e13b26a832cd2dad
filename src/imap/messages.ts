// Message sets as a session sees them: sequence numbers and UIDs over its own UID list.
import type { Range } from './sequence.ts';
import { resolveSequence, resolveUids } from './sequence.ts';
import type { Selected } from './selected.ts';

/** UIDs (ascending) named by a sequence set or, with `byUid`, a UID set. */
export function uidsOf(selected: Selected, ranges: Range[], byUid: boolean): number[] {
  const indexes = byUid ? resolveUids(ranges, selected.uids) : resolveSequence(ranges, selected.uids.length);
  return indexes.map((i) => selected.uids[i]!);
}
