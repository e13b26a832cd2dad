// What counts against a team's limits (`team.limits`, docs/ARCHITECTURE.md §4.8): one record per team and
// kind (`tn/<team>/<kind>`), written in the same batch as the record it admits. On a shared store that
// batch expects the tally as it was read, so of two nodes taking the last place one gets a conflict,
// reads the tally again and is refused; the count is never read from a node's memory.
import { randomBytes } from 'node:crypto';
import type { Kv } from './db.ts';
import { StoreError } from './folders.ts';
import { keys, prefixRange } from './keys.ts';
import { KeyedMutex } from './mutex.ts';
import type { Tx } from './tx.ts';
import type { ApiKey } from './types.ts';

export type TallyKind = 'mailboxes' | 'domains' | 'api-keys';

/** Mailboxes and domains: how many. API keys: the unrevoked ones, id → expiry (0: none), as expiry frees a place. */
type Members = number | Record<string, number>;

/** A tally as read: what the batch that changes it expects (null: no record), and its members. */
export interface Tally {
  key: string;
  kind: TallyKind;
  stored: Buffer | null;
  members: Members;
}

const NOUN: Record<TallyKind, string> = { mailboxes: 'mailboxes', domains: 'domains', 'api-keys': 'active API keys' };

/** A place that counts: an API key's id and expiry; mailboxes and domains count without one. */
export interface TallyMember {
  id: string;
  expiresAt: number | null;
}

export class TeamTallies {
  private readonly kv: Kv;
  private readonly mutex = new KeyedMutex();

  constructor(kv: Kv) {
    this.kv = kv;
  }

  /**
   * Serialises this node's reads and writes of one tally, from the read to the commit: without it a
   * removal's forget could land between another write's read and its commit, and that write would
   * put back a count that still holds the removed record (on LevelDB, where nothing is expected).
   */
  run<T>(teamId: string, kind: TallyKind, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(keys.teamTally(teamId, kind), fn);
  }

  /**
   * The tally as stored now, past any cache. Without a record (a store from before tallies, or one a
   * removal forgot) it is derived from the team's records; the batch then expects none, so a node
   * that stored one meanwhile makes this one read again.
   */
  async read(teamId: string, kind: TallyKind): Promise<Tally> {
    const key = keys.teamTally(teamId, kind);
    const stored = (await this.kv.getBytes(key)) ?? null;
    const value = stored ? (JSON.parse(stored.toString('utf8')) as Members | string) : null;
    const members = value === null || typeof value === 'string' ? await this.derive(teamId, kind) : value;
    return { key, kind, stored, members };
  }

  private async derive(teamId: string, kind: TallyKind): Promise<Members> {
    if (kind === 'mailboxes') return (await this.kv.keys(prefixRange(`tu/${teamId}/`))).length;
    if (kind === 'domains') return (await this.kv.keys(prefixRange(`td/${teamId}/`))).length;
    const ids = (await this.kv.keys(prefixRange(`tk/${teamId}/`))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    const members: Record<string, number> = {};
    for (const key of await this.kv.getMany<ApiKey>(ids.map(keys.apiKey)))
      if (key && !key.revokedAt) members[key.id] = key.expiresAt ?? 0;
    return members;
  }

  /** How many places are taken at `now` (an expired key no longer counts). */
  count(tally: Tally, now = Date.now()): number {
    if (typeof tally.members === 'number') return tally.members;
    return Object.values(tally.members).filter((expiresAt) => !expiresAt || expiresAt >= now).length;
  }

  /**
   * Puts the tally with `member` added (and `freed` gone, a key revoked in the same batch) in `tx`,
   * expecting it as read; refuses with StoreError('limit') when `max` places are taken already.
   * Synchronous: call it while the batch is built.
   */
  take(tx: Tx, tally: Tally, member: TallyMember, max?: number, freed?: string): void {
    let members: Members;
    let count: number;
    if (typeof tally.members === 'number') count = members = tally.members;
    else {
      // Expired keys leave the tally (a later change of expiry forgets the tally, ApiKeys.update).
      const now = Date.now();
      members = Object.fromEntries(
        Object.entries(tally.members).filter(([id, expiresAt]) => id !== freed && (!expiresAt || expiresAt >= now)),
      );
      count = Object.keys(members).length;
    }
    if (max !== undefined && count >= max)
      throw new StoreError('limit', `the team has ${count} ${NOUN[tally.kind]} (limit ${max})`);
    if (typeof members === 'number') members += 1;
    else members[member.id] = member.expiresAt ?? 0;
    if (this.kv.engine.shared) tx.expect(tally.key, tally.stored);
    tx.put(tally.key, members);
  }

  /**
   * A removal (or a revocation, or a new expiry) forgets the tally: the next place taken derives it
   * again from the records. A blind write, so it needs no expectation: a node that read the tally (or
   * derived it) before gets a conflict and derives it again. A fresh mark rather than a delete, so that
   * a tally derived while no record was stored is not taken as still true.
   */
  forget(tx: Tx, teamId: string, kind: TallyKind): void {
    tx.put(keys.teamTally(teamId, kind), `forgotten ${randomBytes(8).toString('hex')}`);
  }
}
