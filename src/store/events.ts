import type { Counters } from './counters.ts';
import type { Kv, Notifier } from './db.ts';
import { hex, keys, ranges } from './keys.ts';
import type { Tx } from './tx.ts';
import type { StoredEvent } from './types.ts';

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
 */
export class Events {
  private readonly kv: Kv;
  private readonly counters: Counters;
  private readonly notifier: Notifier;

  constructor(kv: Kv, counters: Counters, notifier: Notifier) {
    this.kv = kv;
    this.counters = counters;
    this.notifier = notifier;
  }

  append(tx: Tx, input: NewEvent): StoredEvent {
    const seq = this.counters.next(tx, 'event');
    const event: StoredEvent = {
      seq,
      id: eventId(seq),
      type: input.type,
      time: Date.now(),
      teamId: input.teamId,
      accountId: input.accountId ?? null,
      data: input.data,
    };
    tx.put(keys.event(seq), event);
    tx.put(keys.teamEvent(event.teamId, seq), 1);
    if (event.accountId) tx.put(keys.accountEvent(event.accountId, seq), 1);
    tx.onCommit(() => this.notifier.emit('event', event));
    return event;
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
