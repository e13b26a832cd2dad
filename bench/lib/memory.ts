import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Bytes the process holds for JavaScript: the V8 heap in use and the ArrayBuffers' backing stores, which
 * live outside the heap (the Bayes model's TokenTable is typed arrays: heapUsed alone missed most of it).
 */
export function inUse(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/**
 * inUse() after full collections, with a pause between them: a collected ArrayBuffer's backing store is
 * freed by a sweeper after the collection, so one gc() left 0–30 MB of a grown table's old arrays counted.
 */
export async function settledInUse(gc: () => void): Promise<number> {
  gc();
  await sleep(100);
  gc();
  await sleep(100);
  return inUse();
}
