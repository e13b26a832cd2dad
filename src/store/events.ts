import type { Counters } from './counters.ts';
import type { Kv, Notifier } from './db.ts';
import { hex, keys, ranges } from './keys.ts';
import type { Op, Tx } from './tx.ts';
import type { StoredEvent } from './types.ts';

const ONE = Buffer.from('1');
// Events read at once when a node announces the log's new events.
const CATCH_UP_PAGE = 500;

export interface NewEvent {
  type: string;
  teamId: string;
  accountId?: string | null;
  data: Record<string, unknown>;
}

export const eventId = (seq: number): string => `evt_${hex(seq, 12)}`;
export const eventSeq = (id: string): number | null =>
  /^evt_[0-9a-f]{12}$/.test(id) ? parseInt(id.slice(4), 16) : null;

/**
 * The event log: one ordered sequence, with per-team and per-account indexes, appended in the same
 * batch as the change it reports, so an event is never lost nor invented.
 *
 * On a shared store (docs/ARCHITECTURE.md §4.8) the sequence is taken at commit under the database's
 * lock (Tx.sequence), so it is the commit order of every node, and `event` notifications follow the
 * log rather than this node's commits: each node emits every node's events, in sequence order, once.
 * The notification's second argument says whether another node committed the event (work that
 * follows a delivery, like the report collector, is done by the node that took it).
 */
export class Events {
  private readonly kv: Kv;
  private readonly counters: Counters;
  private readonly notifier: Notifier;
  private readonly shared: boolean;
  /** Shared store: the highest sequence this node has announced (every lower one is announced or was before start). */
  private announced = 0;
  private catchingUp: Promise<void> | null = null;
  /** Shared store: this node's events numbered in a commit not yet announced (a read of the log may come first). */
  private readonly own = new Map<number, StoredEvent>();
  private again = false;

  constructor(kv: Kv, counters: Counters, notifier: Notifier) {
    this.kv = kv;
    this.counters = counters;
    this.notifier = notifier;
    this.shared = kv.engine.shared !== undefined;
  }

  /** Shared store: announcing starts after the last stored event. */
  async load(): Promise<void> {
    if (!this.shared) return;
    const [last] = await this.kv.values<StoredEvent>({ ...ranges.events(0), reverse: true, limit: 1 });
    this.announced = Math.max(this.announced, last?.seq ?? 0);
  }

  /** The last event this node knows committed: a stream that starts now follows what comes after it. */
  latest(): number {
    return this.shared ? this.announced : this.counters.current('event');
  }

  append(tx: Tx, input: NewEvent): StoredEvent {
    const event: StoredEvent = {
      seq: 0,
      id: '',
      type: input.type,
      time: Date.now(),
      teamId: input.teamId,
      accountId: input.accountId ?? null,
      data: input.data,
    };
    const number = (seq: number): Op[] => {
      event.seq = seq;
      event.id = eventId(seq);
      if (this.shared) this.own.set(seq, event);
      const ops: Op[] = [{ type: 'put', key: keys.event(seq), value: Buffer.from(JSON.stringify(event)) }];
      ops.push({ type: 'put', key: keys.teamEvent(event.teamId, seq), value: ONE });
      if (event.accountId) ops.push({ type: 'put', key: keys.accountEvent(event.accountId, seq), value: ONE });
      return ops;
    };
    if (this.shared) {
      // Numbered when the batch commits; the returned event has its seq and id once the commit resolved.
      tx.sequence(keys.counter('event'), number);
      tx.onCommit(() => this.committed(event));
    } else {
      tx.ops.push(...number(this.counters.next(tx, 'event')));
      tx.onCommit(() => this.notifier.emit('event', event, false));
    }
    return event;
  }

  /** Shared store: this node's event committed; announced now if it is the next one, else after a read of the log. */
  private committed(event: StoredEvent): void {
    if (event.seq <= this.announced) return; // a read of the log announced it already
    if (event.seq === this.announced + 1 && !this.catchingUp) {
      this.own.delete(event.seq);
      this.announced = event.seq;
      this.notifier.emit('event', event, false);
      return;
    }
    void this.catchUp();
  }

  /**
   * Shared store: announces every stored event after the last announced one, in order (another node
   * committed some: a `!n/event` note, or `*` after the feed reconnected). The log is gap-free up to
   * whatever a read sees, since sequence values are taken in commit order.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    const run = async (): Promise<void> => {
      do {
        this.again = false;
        for (;;) {
          const page = await this.kv.values<StoredEvent>({ ...ranges.events(this.announced), limit: CATCH_UP_PAGE });
          for (const event of page) {
            if (event.seq <= this.announced) continue;
            this.announced = event.seq;
            // Another node's, unless this node numbered it (a commit that failed may leave a number
            // another node then took: the record tells them apart).
            const mine = this.own.get(event.seq);
            this.own.delete(event.seq);
            const foreign = !mine || mine.time !== event.time || mine.type !== event.type;
            this.notifier.emit('event', foreign ? event : mine, foreign);
          }
          if (page.length < CATCH_UP_PAGE) break;
        }
      } while (this.again);
    };
    this.catchingUp = run()
      .catch(() => {}) // the database is away: the next note or commit reads again
      .finally(() => {
        this.catchingUp = null;
      });
    return this.catchingUp;
  }

  get(seq: number): Promise<StoredEvent | undefined> {
    return this.kv.get<StoredEvent>(keys.event(seq));
  }

  /** Events after `afterSeq`, oldest first, optionally only a team's or an account's. */
  async list(options: {
    afterSeq?: number;
    teamId?: string;
    accountId?: string;
    limit?: number;
  }): Promise<StoredEvent[]> {
    const after = options.afterSeq ?? 0;
    const limit = options.limit ?? 100;
    if (!options.teamId && !options.accountId) return this.kv.values<StoredEvent>({ ...ranges.events(after), limit });
    const range = options.accountId
      ? ranges.accountEvents(options.accountId, after)
      : ranges.teamEvents(options.teamId!, after);
    const seqs = (await this.kv.keys({ ...range, limit })).map((k) => parseInt(k.slice(k.lastIndexOf('/') + 1), 16));
    return (await this.kv.getMany<StoredEvent>(seqs.map(keys.event))).filter((e): e is StoredEvent => e !== undefined);
  }

  /** The oldest retained sequence (0 when the log is empty): older Last-Event-IDs need a full sync. */
  async oldestSeq(): Promise<number> {
    const [first] = await this.kv.values<StoredEvent>({ ...ranges.events(0), limit: 1 });
    return first?.seq ?? 0;
  }

  /** Deletes events older than `before` (ms); returns how many. */
  async prune(before: number, batchSize = 1000): Promise<number> {
    let removed = 0;
    for (;;) {
      const old = (await this.kv.values<StoredEvent>({ ...ranges.events(0), limit: batchSize })).filter(
        (e) => e.time < before,
      );
      if (old.length === 0) return removed;
      const ops = old.flatMap((e) => [
        { type: 'del' as const, key: keys.event(e.seq) },
        { type: 'del' as const, key: keys.teamEvent(e.teamId, e.seq) },
        ...(e.accountId ? [{ type: 'del' as const, key: keys.accountEvent(e.accountId, e.seq) }] : []),
      ]);
      await this.kv.committer.write(ops);
      removed += old.length;
      if (old.length < batchSize) return removed;
    }
  }
}
