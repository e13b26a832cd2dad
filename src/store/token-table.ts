// The Bayes model's token counts in memory (store/spam.ts SpamModel): token → (spam, ham) messages.
//
// Why not a Map<string, number>: classification looks up to 3,000 freshly cut token strings in a model
// of 500,000+ tokens, and a Map lookup then hashes the string, walks a bucket chain and compares the
// stored key's characters: three cache misses a token, 0.8 µs each on this machine, 22% of the classify
// path's CPU (bench/RESULTS.md, issue 18). Here a token is a 63-bit fingerprint of two 32-bit hashes,
// found by linear probing in one typed array whose slot also holds the counts: one cache miss.
// Two different tokens share a fingerprint with probability ~n²/2⁶⁴ (10⁻⁸ at 600,000 tokens); the unit
// test checks a million distinct tokens apart.
//
// The token strings are kept too, in insertion order, for what needs them: pruning (rarest first, oldest
// among equals) and the stored keys it deletes.

const STRIDE = 4; // per slot: fingerprint high (0: empty), fingerprint low, spam, ham
const MIN_CAPACITY = 1024;
// Grown past three quarters full: a lookup of an absent token (most of a message's) then probes about
// three slots on average, four to a cache line, and the 579,000 tokens of the corpus take 2^20 slots
// (16 MiB), not 2^21.
const MAX_LOAD_QUARTERS = 3;

/** A 32-bit finaliser (MurmurHash3's fmix32): every input bit moves every output bit. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class TokenTable {
  private slots: Int32Array;
  /** Per slot: the token's index in `order`. */
  private orderAt: Int32Array;
  private mask: number;
  /** Tokens in insertion order; undefined where one was deleted (compacted once holes are many). */
  private order: (string | undefined)[] = [];
  private count = 0;
  // The last fingerprint computed (two numbers, not an allocated pair: this runs per token looked up).
  private high = 0;
  private low = 0;

  constructor(capacity = MIN_CAPACITY) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(capacity, MIN_CAPACITY)));
    this.slots = new Int32Array(size * STRIDE);
    this.orderAt = new Int32Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Calls f with the token's counts (0, 0 when absent); allocates nothing. */
  read<T>(token: string, f: (spam: number, ham: number) => T): T {
    const at = this.find(token);
    const s = this.slots;
    return at < 0 ? f(0, 0) : f(s[at + 2]!, s[at + 3]!);
  }

  /** Sets the token's counts; 0, 0 removes it. */
  set(token: string, spam: number, ham: number): void {
    let at = this.find(token);
    if (spam === 0 && ham === 0) {
      if (at >= 0) this.remove(at);
      return;
    }
    if (at < 0) {
      if ((this.count + 1) * 4 > (this.mask + 1) * MAX_LOAD_QUARTERS) {
        this.grow();
        this.find(token);
      }
      at = this.emptySlot();
      this.slots[at] = this.high;
      this.slots[at + 1] = this.low;
      this.orderAt[at / STRIDE] = this.order.length;
      this.order.push(token);
      this.count++;
    }
    this.slots[at + 2] = spam;
    this.slots[at + 3] = ham;
  }

  /** The tokens, oldest first. */
  *tokens(): IterableIterator<string> {
    for (const token of this.order) if (token !== undefined) yield token;
  }

  /** The token's slot offset, or -1; leaves its fingerprint in high/low and, when absent, the free slot's probe start. */
  private find(token: string): number {
    let a = 0x811c9dc5;
    let b = token.length;
    for (let i = 0; i < token.length; i++) {
      const c = token.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b + c, 0x9e3779b1) ^ (b >>> 15);
    }
    this.high = mix(a) | 1; // never 0: 0 marks an empty slot
    this.low = mix(b ^ a);
    const s = this.slots;
    for (let i = this.high & this.mask; ; i = (i + 1) & this.mask) {
      const at = i * STRIDE;
      const h = s[at]!;
      if (h === 0) return -1;
      if (h === this.high && s[at + 1] === this.low) return at;
    }
  }

  /** The first empty slot from the fingerprint in high (find() just missed it). */
  private emptySlot(): number {
    for (let i = this.high & this.mask; ; i = (i + 1) & this.mask) if (this.slots[i * STRIDE] === 0) return i * STRIDE;
  }

  /** Backward-shift deletion: the slots after it that probed past it move up, so no tombstones are left. */
  private remove(at: number): void {
    const s = this.slots;
    this.order[this.orderAt[at / STRIDE]!] = undefined;
    this.count--;
    let hole = at / STRIDE;
    for (let i = (hole + 1) & this.mask; s[i * STRIDE] !== 0; i = (i + 1) & this.mask) {
      const home = s[i * STRIDE]! & this.mask;
      // Slot i may fill the hole if its home is not in (hole, i] (cyclically).
      const between = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (between) continue;
      s.copyWithin(hole * STRIDE, i * STRIDE, i * STRIDE + STRIDE);
      this.orderAt[hole] = this.orderAt[i]!;
      hole = i;
    }
    s.fill(0, hole * STRIDE, hole * STRIDE + STRIDE);
    if (this.order.length > MIN_CAPACITY && this.order.length > 2 * this.count) this.rebuild(this.mask + 1);
  }

  private grow(): void {
    this.rebuild((this.mask + 1) * 2);
  }

  /** Re-inserts every token into a table of `size` slots, the order array without its holes. */
  private rebuild(size: number): void {
    const old = { slots: this.slots, orderAt: this.orderAt, order: this.order };
    this.slots = new Int32Array(size * STRIDE);
    this.orderAt = new Int32Array(size);
    this.mask = size - 1;
    this.order = [];
    this.count = 0;
    const slotOf = new Int32Array(old.order.length); // old order index → old slot offset
    for (let i = 0; i < old.orderAt.length; i++) if (old.slots[i * STRIDE] !== 0) slotOf[old.orderAt[i]!] = i * STRIDE;
    for (const [i, token] of old.order.entries()) {
      if (token === undefined) continue;
      const from = slotOf[i]!;
      this.high = old.slots[from]!;
      this.low = old.slots[from + 1]!;
      const at = this.emptySlot();
      this.slots.set(old.slots.subarray(from, from + STRIDE), at);
      this.orderAt[at / STRIDE] = this.order.length;
      this.order.push(token);
      this.count++;
    }
  }
}
