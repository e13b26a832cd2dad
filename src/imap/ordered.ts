// Shared by SORT and THREAD: the matching messages with their search fields.
import { runSearch, type Key } from './search.ts';
import type { Session } from './session.ts';
import type { Sortable } from './sort.ts';

export async function searchWithFields(session: Session, key: Key): Promise<Sortable[]> {
  const found = await runSearch(session, key);
  const out: Sortable[] = [];
  for (let i = 0; i < found.length; i += 500) {
    const batch = found.slice(i, i + 500);
    const fields = await session.ctx.store.blobs.searchFields(batch.map((m) => m.blob));
    batch.forEach((message, n) => out.push({ message, seq: session.selected!.seqOf(message.uid), fields: fields[n]! }));
  }
  return out;
}
