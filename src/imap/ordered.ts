// Shared by SORT and THREAD: the matching messages with their header fields (read by the search
// itself when its keys needed them).
import { runSearch, type Key } from './search.ts';
import type { Session } from './session.ts';
import type { Sortable } from './sort.ts';

export async function searchWithFields(session: Session, key: Key): Promise<Sortable[]> {
  const found = await runSearch(session, key);
  const missing = found.filter((f) => !f.fields);
  for (let i = 0; i < missing.length; i += 500) {
    const batch = missing.slice(i, i + 500);
    const fields = await session.ctx.store.blobs.headerFields(batch.map((f) => f.message.blob));
    batch.forEach((f, n) => (f.fields = fields[n]));
  }
  return found.map((f) => ({ message: f.message, seq: f.seq, fields: f.fields! }));
}
