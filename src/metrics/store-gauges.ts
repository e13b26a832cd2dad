// Gauges read from the store when /metrics is scraped: nothing to keep in step between scrapes.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Gauge, Registry } from 'prom-client';
import type { Store } from '../store/index.ts';

/** Past any due time the queue can hold (keys hold 48-bit times). */
const END_OF_QUEUE = 2 ** 47;
/** A scrape never scans more queue index keys than this; the gauge saturates there. */
const MAX_COUNTED_JOBS = 1_000_000;

export interface StoreGaugeOptions {
  /** The LevelDB directory to measure (default: the store's own location). */
  dir?: string;
  /** Walking the directory costs a stat per file: its result is reused this long (default 60 s). */
  diskCacheMs?: number;
}

/** A registry of this store's gauges: queue depth, jobs due now, bytes on disk. */
export function storeGauges(store: Store, options: StoreGaugeOptions = {}): Registry {
  const registry = new Registry();
  const registers = [registry];
  const dir = options.dir ?? store.kv.engine.directory;

  new Gauge({
    name: 'wrenmail_queue_jobs',
    help: 'Outbound jobs still to deliver (queued or deferred)',
    registers,
    async collect() {
      this.set((await store.queue.due(END_OF_QUEUE, MAX_COUNTED_JOBS)).length);
    },
  });
  new Gauge({
    name: 'wrenmail_queue_due_jobs',
    help: 'Outbound jobs whose next attempt is due now',
    registers,
    async collect() {
      this.set((await store.queue.due(Date.now(), MAX_COUNTED_JOBS)).length);
    },
  });
  // A PostgreSQL store has no directory here: the database server reports its own size.
  if (dir !== undefined) {
    const diskSize = cached(options.diskCacheMs ?? 60_000, () => directoryBytes(dir));
    new Gauge({
      name: 'wrenmail_leveldb_size_bytes',
      help: 'Bytes the LevelDB store takes on disk (measured at most once a minute)',
      registers,
      async collect() {
        this.set(await diskSize());
      },
    });
  }
  return registry;
}

/** Sum of the sizes of the files under `dir` (LevelDB keeps a flat directory, but walk it anyway). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    // A compaction may delete a table file between the listing and the stat.
    total += await stat(join(entry.parentPath, entry.name)).then(
      (s) => s.size,
      () => 0,
    );
  }
  return total;
}

/** Runs `fn` at most once per `ttlMs`; concurrent callers share one run. */
function cached(ttlMs: number, fn: () => Promise<number>): () => Promise<number> {
  let value: Promise<number> | null = null;
  let at = 0;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = fn().catch((err: unknown) => {
        value = null;
        throw err;
      });
    }
    return value;
  };
}
