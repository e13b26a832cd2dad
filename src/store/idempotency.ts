// Stored replies for Idempotency-Key (API.md §B1): one record per team + route + key for 24 h, with an
// expiry index so old records are pruned by a range scan instead of a full one.
import { createHash } from 'node:crypto';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { Tx } from './tx.ts';

export interface IdempotentReply {
  /** sha256 of the request (path and canonical body): a different request under the same key is a conflict. */
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  createdAt: number;
  expiresAt: number;
}

/** The key's scope as a fixed-length store key: team, route and the client's key, hashed together. */
export const idempotencyScope = (teamId: string, route: string, key: string): string =>
  createHash('sha256').update(`${teamId}\n${route}\n${key}`).digest('hex');

export class Idempotency {
  private readonly kv: Kv;
  private lastPrune = 0;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async get(scope: string, now = Date.now()): Promise<IdempotentReply | undefined> {
    const reply = await this.kv.get<IdempotentReply>(keys.idempotency(scope));
    return reply && reply.expiresAt > now ? reply : undefined;
  }

  async put(scope: string, reply: IdempotentReply): Promise<void> {
    const tx = new Tx();
    tx.put(keys.idempotency(scope), reply);
    tx.put(keys.idempotencyExpiry(reply.expiresAt, scope), 1);
    await this.kv.commit(tx);
    // Pruning rides on writes, at most once a minute: no timer to keep a process alive.
    if (reply.createdAt - this.lastPrune > 60_000) {
      this.lastPrune = reply.createdAt;
      await this.prune(reply.createdAt);
    }
  }

  /** Deletes records that expired at or before `now`; returns how many. */
  async prune(now = Date.now(), batchSize = 1000): Promise<number> {
    const expired = await this.kv.keys({ ...ranges.idempotencyExpired(now), limit: batchSize });
    if (expired.length === 0) return 0;
    const tx = new Tx();
    for (const key of expired) {
      tx.del(key);
      const scope = key.slice(key.lastIndexOf('/') + 1);
      // A later put under the same scope has its own expiry entry; only delete the record if it is this one.
      const record = await this.kv.get<IdempotentReply>(keys.idempotency(scope));
      if (record && record.expiresAt <= now) tx.del(keys.idempotency(scope));
    }
    await this.kv.commit(tx);
    return expired.length;
  }
}
