// Token counts of the Bayesian spam classifier (src/spam/), one model per scope: the server-wide one
// and, optionally, one per account. A scope's counts are read from disk once and then owned in memory
// (like Counters): a training batch updates memory and writes the changed counts in the same durable
// batch, so classification never reads LevelDB per token.
//
// Each trained message leaves a record under its sha256 with its class and the tokens it added, so
// training it again as the same class changes nothing, training it as the other class moves exactly
// what it added, and untraining removes exactly that, even if the tokenizer changed in between.
import { withRetries } from './committer.ts';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { Tx } from './tx.ts';

export type SpamClass = 'spam' | 'ham';

export const SERVER_SCOPE = 's';
export const accountScope = (accountId: string): string => `u/${accountId}`;

export interface SpamTotals {
  /** Messages trained as spam / as ham. */
  spam: number;
  ham: number;
}

export interface TrainingRecord {
  class: SpamClass;
  at: number;
  tokens: string[];
}

/** Train `sha` as `class` with these tokens; class null: forget it. */
export interface TrainingChange {
  sha: string;
  class: SpamClass | null;
  tokens: string[];
}

export interface TrainingResult {
  trained: number; // new messages
  moved: number; // re-trained as the other class
  unchanged: number; // already trained so (or untrain of an unknown message)
  untrained: number;
}

// spam and ham counts of a token in one number: a Map of numbers costs far less than a Map of pairs.
const PACK = 2 ** 26;

export class SpamModel {
  readonly totals: SpamTotals = { spam: 0, ham: 0 };
  readonly counts = new Map<string, number>();
  /** The totals record as stored when this model was loaded or last written (what a shared store's training expects). */
  stored: Buffer | null = null;

  /** [spam, ham]: how many trained messages of each class contained `token`. */
  get(token: string): [number, number] {
    const packed = this.counts.get(token);
    if (packed === undefined) return [0, 0];
    const spam = Math.floor(packed / PACK);
    return [spam, packed - spam * PACK];
  }

  set(token: string, spam: number, ham: number): void {
    if (spam === 0 && ham === 0) this.counts.delete(token);
    else this.counts.set(token, spam * PACK + ham);
  }
}

const encodeCounts = (spam: number, ham: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(spam, 0);
  b.writeUInt32BE(ham, 4);
  return b;
};

export class SpamCounts {
  private readonly kv: Kv;
  private readonly models = new Map<string, Promise<SpamModel>>();
  /** One training batch at a time per scope: records are read, then counts change, then commit. */
  private readonly lock = new KeyedMutex();

  constructor(kv: Kv) {
    this.kv = kv;
  }

  /** Forgets the loaded models (reloaded from disk on next use): a failed write may have changed them. */
  forget(): void {
    this.models.clear();
  }

  /**
   * Shared store: another node trained the scopes whose totals records (`sp/<scope>/n`) are named, so
   * their models are reloaded on next use (the change feed's `~key` notes, docs/ARCHITECTURE.md §4.8).
   */
  forgetTotals(keys: string[]): void {
    for (const key of keys) {
      const scope = totalsScope(key);
      if (scope !== undefined) this.models.delete(scope);
    }
  }

  /** The scope's model, loaded from disk on first use. */
  model(scope: string): Promise<SpamModel> {
    let model = this.models.get(scope);
    if (!model) {
      model = this.load(scope);
      this.models.set(scope, model);
      model.catch(() => this.models.delete(scope));
    }
    return model;
  }

  private async load(scope: string): Promise<SpamModel> {
    const model = new SpamModel();
    model.stored = (await this.kv.getBytes(keys.spamTotals(scope))) ?? null;
    if (model.stored) Object.assign(model.totals, JSON.parse(model.stored.toString('utf8')) as SpamTotals);
    const range = ranges.spamTokens(scope);
    const skip = range.gte.length;
    for await (const [key, value] of this.kv.iterate(range)) {
      model.set(key.slice(skip), value.readUInt32BE(0), value.readUInt32BE(4));
    }
    return model;
  }

  record(scope: string, sha: string): Promise<TrainingRecord | undefined> {
    return this.kv.get<TrainingRecord>(keys.spamRecord(scope, sha));
  }

  /**
   * Applies a batch of training changes to one scope in one durable write. With `maxTokens`, a model
   * that grows past it is pruned in the same write to 90% of it: the tokens seen in the fewest
   * messages go first (a token seen once or twice is no clue), the oldest first among equals.
   */
  apply(scope: string, changes: TrainingChange[], maxTokens = Infinity): Promise<TrainingResult> {
    // Shared store: another node trained the scope since this model was loaded (the totals record
    // changed): the model is reloaded and the batch built again.
    const reload = this.kv.engine.shared ? async () => void this.models.delete(scope) : undefined;
    return this.lock.run(scope, () => withRetries(reload, () => this.applyOnce(scope, changes, maxTokens)));
  }

  private async applyOnce(scope: string, changes: TrainingChange[], maxTokens: number): Promise<TrainingResult> {
    const model = await this.model(scope);
    const shas = [...new Set(changes.map((c) => c.sha))];
    const stored = await this.kv.getMany<TrainingRecord>(shas.map((sha) => keys.spamRecord(scope, sha)));
    const current = new Map(shas.map((sha, i) => [sha, stored[i]]));
    const result: TrainingResult = { trained: 0, moved: 0, unchanged: 0, untrained: 0 };
    const delta = new Map<string, [number, number]>();
    const totals = { ...model.totals };
    const bump = (tokens: string[], cls: SpamClass, by: number): void => {
      const i = cls === 'spam' ? 0 : 1;
      totals[cls] += by;
      for (const token of tokens) {
        let d = delta.get(token);
        if (!d) delta.set(token, (d = [0, 0]));
        d[i] += by;
      }
    };
    const tx = new Tx();
    const now = Date.now();
    for (const change of changes) {
      const old = current.get(change.sha);
      const key = keys.spamRecord(scope, change.sha);
      if (change.class === null || old?.class === change.class) {
        if (change.class === null && old) {
          bump(old.tokens, old.class, -1);
          current.set(change.sha, undefined);
          tx.del(key);
          result.untrained++;
        } else result.unchanged++;
        continue;
      }
      if (old) {
        bump(old.tokens, old.class, -1);
        result.moved++;
      } else result.trained++;
      bump(change.tokens, change.class, 1);
      const record: TrainingRecord = { class: change.class, at: now, tokens: change.tokens };
      current.set(change.sha, record);
      tx.put(key, record);
    }
    if (tx.ops.length === 0) return result;
    // From here to commit nothing awaits: memory and the batch change together.
    for (const [token, [ds, dh]] of delta) {
      if (ds === 0 && dh === 0) continue;
      const [spam, ham] = model.get(token);
      const s = Math.max(0, spam + ds);
      const h = Math.max(0, ham + dh);
      model.set(token, s, h);
      if (s === 0 && h === 0) tx.del(keys.spamToken(scope, token));
      else tx.putBytes(keys.spamToken(scope, token), encodeCounts(s, h));
    }
    if (model.counts.size > maxTokens)
      for (const token of prune(model, Math.floor(maxTokens * 0.9))) tx.del(keys.spamToken(scope, token));
    model.totals.spam = Math.max(0, totals.spam);
    model.totals.ham = Math.max(0, totals.ham);
    const totalsBytes = Buffer.from(JSON.stringify(model.totals));
    if (this.kv.engine.shared) tx.expect(keys.spamTotals(scope), model.stored);
    tx.putBytes(keys.spamTotals(scope), totalsBytes);
    try {
      await this.kv.commit(tx);
    } catch (err) {
      this.models.delete(scope); // memory counted the batch in
      throw err;
    }
    model.stored = totalsBytes;
    return result;
  }
}

/** The scope of a totals record key (`sp/<scope>/n`), or undefined for any other key. */
export function totalsScope(key: string): string | undefined {
  return /^sp\/(s|u\/[^/]+)\/n$/.exec(key)?.[1];
}

/** Removes the rarest tokens (fewest messages; insertion order, i.e. oldest, among equals) down to `target`. */
function prune(model: SpamModel, target: number): string[] {
  const excess = model.counts.size - target;
  if (excess <= 0) return [];
  // Tokens per message count, to find the count up to which tokens go.
  const histogram = new Map<number, number>();
  for (const token of model.counts.keys()) {
    const [spam, ham] = model.get(token);
    histogram.set(spam + ham, (histogram.get(spam + ham) ?? 0) + 1);
  }
  let cutoff = 0;
  let below = 0;
  for (const n of [...histogram.keys()].sort((a, b) => a - b)) {
    cutoff = n;
    if (below + histogram.get(n)! >= excess) break;
    below += histogram.get(n)!;
  }
  const removed: string[] = [];
  let atCutoff = excess - below; // how many of the tokens with exactly `cutoff` messages go
  for (const token of model.counts.keys()) {
    const [spam, ham] = model.get(token);
    const n = spam + ham;
    if (n < cutoff || (n === cutoff && atCutoff-- > 0)) removed.push(token);
  }
  for (const token of removed) model.counts.delete(token);
  return removed;
}
