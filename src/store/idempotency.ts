// Stored replies for Idempotency-Key (docs/API.md §8): one record per calling API key + method + path +
// Idempotency-Key for 24 h, with an expiry index so old records are pruned by a range scan instead of a full one.
import { createHash } from 'node:crypto';
import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { ExpiryIndex, PRUNE_BATCH } from './expiry.ts';
import { Tx } from './tx.ts';

export interface IdempotentReply {
  /** The API key whose request this was: a reply is never served to another caller. */
  keyId: string;
  /** sha256 of the request (path and canonical body): a different request under the same key is a conflict. */
  fingerprint: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * The scope as a fixed-length store key: the calling API key, the request's method and path, and the
 * client's Idempotency-Key, hashed together. Scoped by the calling key (not the team) so one key
 * cannot collect another's stored reply, such as a freshly minted secret.
 */
export const idempotencyScope = (apiKeyId: string, methodAndPath: string, key: string): string =>
  createHash('sha256').update(`${apiKeyId}\n${methodAndPath}\n${key}`).digest('hex');

export class Idempotency {
  private readonly kv: Kv;
  // A later put under the same scope has its own expiry entry: the record stays.
  private readonly expiry: ExpiryIndex;

  constructor(kv: Kv) {
    this.kv = kv;
    this.expiry = new ExpiryIndex(kv, ranges.idempotencyExpired, (entry) =>
      keys.idempotency(entry.slice(entry.lastIndexOf('/') + 1)),
    );
  }

  /** The stored reply for `scope`, only when `apiKeyId` made it (records from before keyId existed: never). */
  async get(scope: string, apiKeyId: string, now = Date.now()): Promise<IdempotentReply | undefined> {
    const reply = await this.kv.get<IdempotentReply>(keys.idempotency(scope));
    return reply && reply.expiresAt > now && reply.keyId === apiKeyId ? reply : undefined;
  }

  async put(scope: string, reply: IdempotentReply): Promise<void> {
    const tx = new Tx();
    tx.put(keys.idempotency(scope), reply);
    tx.put(keys.idempotencyExpiry(reply.expiresAt, scope), 1);
    await this.kv.commit(tx);
    this.expiry.whenDue(reply.createdAt);
  }

  /** Deletes records that expired at or before `now`; returns how many. */
  prune(now = Date.now(), batchSize = PRUNE_BATCH): Promise<number> {
    return this.expiry.prune(now, batchSize);
  }
}
