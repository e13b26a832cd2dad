// Shared by SORT and THREAD: the matching messages with their header fields, read by the search
// from the same snapshot as the records.
import { runSearch, type Key } from './search.ts';
import type { Session } from './session.ts';
import type { Sortable } from './sort.ts';

export async function searchWithFields(session: Session, key: Key): Promise<Sortable[]> {
  const found = await runSearch(session, key, true);
  return found.map((f) => ({ message: f.message, seq: f.seq, fields: f.fields! }));
}
