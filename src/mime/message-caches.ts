// What the parse of a message leaves for its next reader (its index, header block, decoded parts, and the
// spam classifier's tokens and features) is kept in WeakMaps keyed by its Buffer, so that it lives as long
// as the bytes do. But V8's scavenger treats a WeakMap's values as strong whether or not their key is
// alive (v8 src/heap/scavenger-inl.h, VisitEphemeronHashTable): the parses of every message since the last
// scavenge were copied by it and promoted, 3.8–7.8 MB a scavenge in a server-shaped process (issue 18,
// bench/RESULTS.md "Collections in the classify path"), and freed only by a mark-compact. The paths that
// know when a message's life ends (the API's classify once its verdict is given, the MX once the message
// is delivered or refused) release its entries, so a scavenge has nothing of it to copy.

const caches: WeakMap<Buffer, unknown>[] = [];

/** A cache keyed by a message's Buffer whose entries releaseMessage drops. */
export function messageCache<V>(): WeakMap<Buffer, V> {
  const cache = new WeakMap<Buffer, V>();
  caches.push(cache);
  return cache;
}

/** Drops every cache entry of these messages' Buffers: a later reader parses them again. */
export function releaseMessage(...bufs: Buffer[]): void {
  for (const cache of caches) for (const buf of bufs) cache.delete(buf);
}
