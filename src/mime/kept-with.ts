// What is computed once from a message's bytes (its index, header block, decoded parts, spam tokens and
// features) is kept on the Buffer itself, not in a WeakMap keyed by it. V8's young-generation collector
// (the scavenger) treats a WeakMap's values as strong whether or not their key is alive (it clears dead
// keys, but only after copying their values; v8 src/heap/scavenger: "values, which are treated as strong
// independently of whether the key is live"). So every message classified since the last scavenge kept
// its parse alive through it, was copied and then promoted, and only a full mark-compact freed it
// (issue 18: 5.5 MB survived each scavenge of the classify loop, 2.4–2.8 MB promoted). A property of
// the key dies with the key in every collection.

// One property for all of them, holding a slot per cache: a Buffer has one of two shapes (without and
// with it), not one per set of caches filled in some order, so the code that reads its bytes stays
// monomorphic or bimorphic.
const SLOTS = Symbol('wrenmail: kept with this object');
type Holder = { [SLOTS]?: unknown[] };
let slots = 0;

/** A WeakMap's get/set whose values are kept as a hidden property of their key (see above). */
export class KeptWith<K extends object, V> {
  readonly #slot = slots++;

  get(key: K): V | undefined {
    return (key as Holder)[SLOTS]?.[this.#slot] as V | undefined;
  }

  set(key: K, value: V): void {
    const holder = key as Holder;
    let values = holder[SLOTS];
    if (!values) {
      values = [];
      // Not enumerable: a logged or compared Buffer shows its bytes only (util.inspect and
      // assert.deepStrictEqual read enumerable symbol properties).
      Object.defineProperty(holder, SLOTS, { value: values, enumerable: false });
    }
    values[this.#slot] = value;
  }
}
