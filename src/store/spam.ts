// Token counts of the Bayesian spam classifier (src/spam/), one model per scope: the server-wide one
// and, optionally, one per account. A scope's counts are read from disk once and then owned in memory
// (like Counters): a training batch updates memory and writes the changed counts in the same durable
// batch, so classification never reads LevelDB per token.
//
// Each trained message leaves a record under its sha256 with its class and the tokens it added, so
// training it again as the same class changes nothing, training it as the other class moves exactly
// what it added, and untraining removes exactly that, even if the tokenizer changed in between.
//
// On a store several nodes share, the totals record carries a version (`v`) that every training batch
// raises, and the batch logs the counts it wrote under that version (`sp/<scope>/v/…`): a node that
// hears of another node's training (the change feed's `~sp/<scope>/n`) reads only the batches it
// missed and sets those tokens, instead of reading the whole model again (docs/ARCHITECTURE.md §4.8).
import { StoreConflictError, withRetries } from './committer.ts';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import { TokenTable } from './token-table.ts';
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

export class SpamModel {
  readonly totals: SpamTotals = { spam: 0, ham: 0 };
  readonly counts = new TokenTable();
  /** The totals record as stored when this model was loaded or last written (what a shared store's training expects). */
  stored: Buffer | null = null;
  /** The version of that record (a shared store's training log; 0 before the first logged batch). */
  version = 0;

  /** [spam, ham]: how many trained messages of each class contained `token`. */
  get(token: string): [number, number] {
    return this.counts.read(token, (spam, ham) => [spam, ham]);
  }

  /**
   * f(spam, ham) of `token`'s counts, without the pair get() allocates: classification reads up to
   * 3,000 tokens a message, and the pairs were half its time (issue 18).
   */
  read<T>(token: string, f: (spam: number, ham: number) => T): T {
    return this.counts.read(token, f);
  }

  set(token: string, spam: number, ham: number): void {
    this.counts.set(token, spam, ham);
  }
}

const encodeCounts = (spam: number, ham: number): Buffer => {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt32BE(spam, 0);
  b.writeUInt32BE(ham, 4);
  return b;
};

/** The totals record as stored: the counts and, on a shared store, the version of the model. */
interface StoredTotals extends SpamTotals {
  v?: number;
}

/** What a shared store's training batch logs: the tokens' counts after it ([token, spam, ham]; 0, 0: gone). */
interface LogEntry {
  tokens?: [string, number, number][];
  /** Too many tokens to log (a prune): a node behind reads the whole model. */
  full?: true;
}

/** Batches logged per scope; a node further behind reads the whole model. */
const LOG_KEEP = 256;
/** Tokens a batch logs at most (a prune writes more: the log says so and nodes read the whole model). */
const LOG_MAX_TOKENS = 20_000;

export class SpamCounts {
  private readonly kv: Kv;
  private readonly models = new Map<string, Promise<SpamModel>>();
  /** Loaded scopes another node trained since (shared store): they catch up from the log on next use. */
  private readonly stale = new Set<string>();
  /** One training batch at a time per scope: records are read, then counts change, then commit. */
  private readonly lock = new KeyedMutex();
  /** Token counts read while catching up (log entries applied) and whole loads, for tests and benches. */
  readonly stats = { loads: 0, caughtUp: 0, tokensRead: 0 };

  constructor(kv: Kv) {
    this.kv = kv;
  }

  /** Forgets the loaded models (reloaded from disk on next use): a failed write may have changed them. */
  forget(): void {
    this.models.clear();
    this.stale.clear();
  }

  /**
   * Shared store: another node trained the scopes whose totals records (`sp/<scope>/n`) are named, so
   * their models catch up with its batches on next use (the change feed's `~key` notes, §4.8).
   */
  forgetTotals(keys: string[]): void {
    for (const key of keys) {
      const scope = totalsScope(key);
      if (scope !== undefined && this.models.has(scope)) this.stale.add(scope);
    }
  }

  /** Shared store: the change feed was down, so every loaded model checks its totals on next use. */
  foreignAll(): void {
    for (const scope of this.models.keys()) this.stale.add(scope);
  }

  /** The scope's model, loaded from disk on first use, caught up with other nodes' training. */
  model(scope: string): Promise<SpamModel> {
    const loaded = this.models.get(scope);
    if (loaded && !this.stale.has(scope)) return loaded;
    // Not while this node's training of the scope changes memory ahead of its commit.
    return this.lock.run(scope, () => this.current(scope));
  }

  /** model(), under the scope's lock. */
  private current(scope: string): Promise<SpamModel> {
    const loaded = this.models.get(scope);
    const stale = this.stale.delete(scope);
    if (loaded && !stale) return loaded;
    const model = loaded ? loaded.then((m) => this.catchUp(scope, m)) : this.load(scope);
    this.models.set(scope, model);
    model.catch(() => {
      if (this.models.get(scope) === model) this.models.delete(scope);
    });
    return model;
  }

  private async load(scope: string): Promise<SpamModel> {
    this.stats.loads++;
    const model = new SpamModel();
    this.take(model, (await this.kv.getBytes(keys.spamTotals(scope))) ?? null);
    const range = ranges.spamTokens(scope);
    const skip = range.gte.length;
    for await (const [key, value] of this.kv.iterate(range)) {
      model.set(key.slice(skip), value.readUInt32BE(0), value.readUInt32BE(4));
      this.stats.tokensRead++;
    }
    return model;
  }

  /** Adopts a stored totals record (counts and version). */
  private take(model: SpamModel, stored: Buffer | null): void {
    const { v = 0, ...totals }: StoredTotals = stored ? JSON.parse(stored.toString('utf8')) : { spam: 0, ham: 0 };
    Object.assign(model.totals, totals);
    model.stored = stored;
    model.version = v;
  }

  /**
   * Brings a loaded model up to the stored totals' version by setting the tokens of the batches logged
   * since its own; reads the whole model when the log does not reach back (or a batch was not logged).
   */
  private async catchUp(scope: string, model: SpamModel): Promise<SpamModel> {
    const stored = (await this.kv.getBytes(keys.spamTotals(scope))) ?? null;
    if (stored && model.stored?.equals(stored)) return model;
    const { v = 0 }: StoredTotals = stored ? JSON.parse(stored.toString('utf8')) : {};
    if (!stored || v <= model.version) return this.load(scope);
    const entries = await this.kv.entries<LogEntry>(ranges.spamLog(scope, model.version + 1, v));
    if (entries.length !== v - model.version || entries.some(([, entry]) => entry.full)) return this.load(scope);
    for (const [, entry] of entries)
      for (const [token, spam, ham] of entry.tokens!) {
        model.set(token, spam, ham);
        this.stats.tokensRead++;
      }
    this.take(model, stored);
    this.stats.caughtUp++;
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
    // changed): the model catches up and the batch is built again.
    const reload = this.kv.engine.shared ? async () => void this.stale.add(scope) : undefined;
    return this.lock.run(scope, () => withRetries(reload, () => this.applyOnce(scope, changes, maxTokens)));
  }

  private async applyOnce(scope: string, changes: TrainingChange[], maxTokens: number): Promise<TrainingResult> {
    const model = await this.current(scope);
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
    const shared = !!this.kv.engine.shared;
    const before = new Map<string, [number, number]>(); // to undo a refused batch
    const written: [string, number, number][] = [];
    for (const [token, [ds, dh]] of delta) {
      if (ds === 0 && dh === 0) continue;
      const [spam, ham] = model.get(token);
      before.set(token, [spam, ham]);
      const s = Math.max(0, spam + ds);
      const h = Math.max(0, ham + dh);
      model.set(token, s, h);
      written.push([token, s, h]);
      if (s === 0 && h === 0) tx.del(keys.spamToken(scope, token));
      else tx.putBytes(keys.spamToken(scope, token), encodeCounts(s, h));
    }
    if (model.counts.size > maxTokens)
      for (const [token, spam, ham] of prune(model, Math.floor(maxTokens * 0.9))) {
        if (!before.has(token)) before.set(token, [spam, ham]);
        written.push([token, 0, 0]);
        tx.del(keys.spamToken(scope, token));
      }
    const totalsBefore = { ...model.totals };
    model.totals.spam = Math.max(0, totals.spam);
    model.totals.ham = Math.max(0, totals.ham);
    const version = model.version + 1;
    const totalsBytes = Buffer.from(JSON.stringify(shared ? { ...model.totals, v: version } : model.totals));
    if (shared) {
      tx.expect(keys.spamTotals(scope), model.stored);
      // The other nodes read this instead of the whole model (catchUp).
      const entry: LogEntry = written.length > LOG_MAX_TOKENS ? { full: true } : { tokens: written };
      tx.put(keys.spamLog(scope, version), entry);
      if (version > LOG_KEEP) tx.del(keys.spamLog(scope, version - LOG_KEEP));
    }
    tx.putBytes(keys.spamTotals(scope), totalsBytes);
    try {
      await this.kv.commit(tx);
    } catch (err) {
      if (!(err instanceof StoreConflictError)) {
        this.models.delete(scope); // memory counted the batch in
        throw err;
      }
      // Refused (another node trained first): memory goes back to the model as stored, then catches up.
      for (const [token, [spam, ham]] of before) model.set(token, spam, ham);
      Object.assign(model.totals, totalsBefore);
      throw err;
    }
    model.stored = totalsBytes;
    if (shared) model.version = version;
    return result;
  }
}

/** The scope of a totals record key (`sp/<scope>/n`), or undefined for any other key. */
export function totalsScope(key: string): string | undefined {
  return /^sp\/(s|u\/[^/]+)\/n$/.exec(key)?.[1];
}

/**
 * Removes the rarest tokens (fewest messages; insertion order, i.e. oldest, among equals) down to
 * `target`; returns them with the counts they had.
 */
function prune(model: SpamModel, target: number): [string, number, number][] {
  const excess = model.counts.size - target;
  if (excess <= 0) return [];
  // Tokens per message count, to find the count up to which tokens go.
  const histogram = new Map<number, number>();
  for (const token of model.counts.tokens()) {
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
  const removed: [string, number, number][] = [];
  let atCutoff = excess - below; // how many of the tokens with exactly `cutoff` messages go
  for (const token of model.counts.tokens()) {
    const [spam, ham] = model.get(token);
    const n = spam + ham;
    if (n < cutoff || (n === cutoff && atCutoff-- > 0)) removed.push([token, spam, ham]);
  }
  for (const [token] of removed) model.set(token, 0, 0);
  return removed;
}
