import type { Kv, Notifier } from './db.ts';
import { keys, ranges } from './keys.ts';
import type { TeamTallies } from './team-tallies.ts';
import { Tx } from './tx.ts';
import type { ApiKey, CredentialEnded, CredentialExpiry } from './types.ts';

/** How long a verified key is answered from memory; every write of the key drops it at once anyway. */
const VERIFIED_TTL_MS = 10_000;
const VERIFIED_MAX = 10_000;

/**
 * API keys by public id, and the SHA-256 of their secret → public id for authentication. Revoking a
 * key announces 'credential-ended' so that sessions logged in with it end.
 *
 * Authentication runs on every API request, so the keys it found are kept for a few seconds by
 * their secret's SHA-256 (the exact credential presented: an entry never answers another secret).
 * Every write of a key through this class (update, rotate, revoke, its children's revocation) drops
 * its entry before and again after the commit, and a lookup that raced a write is not kept, so a
 * revocation is seen by the very next request. Revoked keys and unknown secrets are never kept.
 */
export class ApiKeys {
  private readonly kv: Kv;
  private readonly notifier: Notifier;
  /** secret hash → key and expiry; a Map iterates in insertion order, so the first entry is the oldest. */
  private readonly verified = new Map<string, { key: ApiKey; expires: number }>();
  private readonly hashOf = new Map<string, string>();
  /** Bumped by every drop: a lookup that started before it must not fill the cache. */
  private generation = 0;
  private readonly tallies: TeamTallies;

  constructor(kv: Kv, notifier: Notifier, tallies: TeamTallies) {
    this.kv = kv;
    this.notifier = notifier;
    this.tallies = tallies;
  }

  /** Forgets a key's cached verification now and once `tx` is committed (a lookup between the two reads the old record). */
  private forget(tx: Tx, id: string): void {
    this.drop(id);
    tx.onCommit(() => this.drop(id));
  }

  private drop(id: string): void {
    this.generation++;
    const hash = this.hashOf.get(id);
    if (hash === undefined) return;
    this.hashOf.delete(id);
    this.verified.delete(hash);
  }

  private ended(tx: Tx, key: ApiKey, reason: string): void {
    const ended: CredentialEnded = { accountId: key.accountId, credential: key.id, reason };
    tx.onCommit(() => this.notifier.emit('credential-ended', ended));
  }

  /**
   * Another node wrote the key (a shared store's change feed): its cached check goes, and a revoked
   * key ends this node's sessions that logged in with it, as revoke() ends the writer's.
   */
  async changedElsewhere(id: string): Promise<void> {
    this.drop(id);
    const key = await this.get(id);
    this.drop(id); // a lookup that read the old record meanwhile is not kept
    if (key) this.announceStored(key);
  }

  /**
   * What another node's write of a key means for this node's sessions, as update() and revoke() tell
   * the writer's: a revoked key ends them, any other gets its stored expiry (the same value again
   * changes nothing; a moved one re-arms their end).
   */
  private announceStored(key: ApiKey): void {
    if (key.revokedAt)
      this.notifier.emit('credential-ended', { accountId: key.accountId, credential: key.id, reason: 'key revoked' });
    else this.notifier.emit('credential-expiry', { credential: key.id, expiresAt: key.expiresAt ?? null });
  }

  /** Forgets every cached check (a shared store's change feed was down: notes may be lost). */
  forgetAll(): void {
    this.generation++;
    this.verified.clear();
    this.hashOf.clear();
  }

  /**
   * After a shared store's change feed was down: each of these keys (the ones live sessions on this
   * node hold) is announced as stored, as if its note had arrived.
   */
  async recheck(ids: string[]): Promise<void> {
    for (const key of await this.kv.getMany<ApiKey>(ids.map(keys.apiKey))) if (key) this.announceStored(key);
  }

  /**
   * Stores a new key. `maxKeys`: the team's limit on active keys, checked in the batch (StoreError
   * 'limit'; on a shared store another node taking the last place first makes this read again, §4.8);
   * absent: not checked (the bootstrap key, fixtures).
   */
  create(key: ApiKey, secretHash: string, maxKeys?: number): Promise<void> {
    return this.tallies.run(key.teamId, 'api-keys', () =>
      this.kv.retrying(async () => {
        const tally = await this.tallies.read(key.teamId, 'api-keys');
        const tx = new Tx();
        this.tallies.take(tx, tally, key, maxKeys);
        tx.put(keys.apiKey(key.id), key);
        tx.put(keys.apiKeyHash(secretHash), key.id);
        tx.put(keys.teamApiKey(key.teamId, key.id), secretHash);
        await this.kv.commit(tx);
      }),
    );
  }

  get(id: string): Promise<ApiKey | undefined> {
    return this.kv.get<ApiKey>(keys.apiKey(id));
  }

  /** The key whose secret has this SHA-256; each caller gets its own copy to read. */
  async bySecretHash(secretHash: string, options: { stored?: boolean } = {}): Promise<ApiKey | undefined> {
    const hit = this.verified.get(secretHash);
    // `stored`: past this memory (a shared store's login must see another node's revocation at once).
    if (hit && hit.expires > Date.now() && !options.stored) return copyKey(hit.key);
    if (hit) this.drop(hit.key.id);
    const generation = this.generation;
    const id = await this.kv.get<string>(keys.apiKeyHash(secretHash));
    const key = id === undefined ? undefined : await this.get(id);
    if (key && !key.revokedAt && generation === this.generation) {
      this.verified.set(secretHash, { key: copyKey(key), expires: Date.now() + VERIFIED_TTL_MS });
      this.hashOf.set(key.id, secretHash);
      while (this.verified.size > VERIFIED_MAX) this.drop(this.verified.values().next().value!.key.id);
    }
    return key;
  }

  async listForTeam(teamId: string): Promise<ApiKey[]> {
    const ids = (await this.kv.keys(ranges.teamApiKeys(teamId))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    return (await this.kv.getMany<ApiKey>(ids.map(keys.apiKey))).filter((k): k is ApiKey => k !== undefined);
  }

  /** Writes the key; a new expiry moves the end of the sessions already logged in with it ('credential-expiry'). */
  update(key: ApiKey): Promise<void> {
    return this.tallies.run(key.teamId, 'api-keys', async () => {
      const before = await this.get(key.id);
      const tx = new Tx();
      this.forget(tx, key.id);
      tx.put(keys.apiKey(key.id), key);
      if (before && (before.expiresAt ?? null) !== (key.expiresAt ?? null)) {
        // A key past its expiry may come back: what counts against the limit is derived again.
        this.tallies.forget(tx, key.teamId, 'api-keys');
        const change: CredentialExpiry = { credential: key.id, expiresAt: key.expiresAt ?? null };
        tx.onCommit(() => this.notifier.emit('credential-expiry', change));
      }
      await this.kv.commit(tx);
    });
  }

  /**
   * Rotation (docs/seeds/sendmux-api-keys.txt "Rotate a key"): the successor is stored beside the old
   * key, which keeps working, and its sessions with it, until it is revoked once every caller has
   * moved. `revokeOld` revokes it in the same batch instead (a leaked key), freeing its place.
   * `maxKeys`: the team's active-key limit, checked in the batch as create() does.
   */
  rotate(old: ApiKey, successor: ApiKey, secretHash: string, revokeOld: boolean, maxKeys?: number): Promise<void> {
    return this.tallies.run(successor.teamId, 'api-keys', () =>
      this.kv.retrying(async () => {
        const tally = await this.tallies.read(successor.teamId, 'api-keys');
        const tx = new Tx();
        this.tallies.take(tx, tally, successor, maxKeys, revokeOld ? old.id : undefined);
        this.forget(tx, old.id);
        tx.put(keys.apiKey(successor.id), successor);
        tx.put(keys.apiKeyHash(secretHash), successor.id);
        tx.put(keys.teamApiKey(successor.teamId, successor.id), secretHash);
        if (revokeOld) {
          // Its children go with it: which those are the tally does not know, so it is derived again.
          this.tallies.forget(tx, successor.teamId, 'api-keys');
          await this.revokeIn(tx, old, Date.now());
        }
        await this.kv.commit(tx);
      }),
    );
  }

  /**
   * Revoked keys keep their record (for listings and audit) but no longer authenticate. The keys it
   * minted as their parent go with it, in the same batch.
   */
  revoke(key: ApiKey): Promise<void> {
    return this.tallies.run(key.teamId, 'api-keys', async () => {
      const tx = new Tx();
      this.tallies.forget(tx, key.teamId, 'api-keys'); // a place is free (or several, with its children)
      await this.revokeIn(tx, key, Date.now());
      await this.kv.commit(tx);
    });
  }

  private async revokeIn(tx: Tx, key: ApiKey, now: number): Promise<void> {
    this.forget(tx, key.id);
    const hash = await this.kv.get<string>(keys.teamApiKey(key.teamId, key.id));
    key.revokedAt = now;
    if (hash) tx.del(keys.apiKeyHash(hash));
    tx.put(keys.apiKey(key.id), key);
    this.ended(tx, key, 'key revoked');
    await this.revokeChildren(tx, key, now);
  }

  private async revokeChildren(tx: Tx, parent: ApiKey, now: number): Promise<void> {
    for (const child of await this.listForTeam(parent.teamId)) {
      if (child.parentKeyId === parent.id && !child.revokedAt) await this.revokeIn(tx, child, now);
    }
  }
}

const copyKey = (key: ApiKey): ApiKey => ({ ...key, permissions: [...key.permissions] });
