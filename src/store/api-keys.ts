import type { Kv } from './db.ts';
import { keys, ranges } from './keys.ts';
import { Tx } from './tx.ts';
import type { ApiKey } from './types.ts';

/** API keys by public id, and the SHA-256 of their secret → public id for authentication. */
export class ApiKeys {
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async create(key: ApiKey, secretHash: string): Promise<void> {
    const tx = new Tx();
    tx.put(keys.apiKey(key.id), key);
    tx.put(keys.apiKeyHash(secretHash), key.id);
    tx.put(keys.teamApiKey(key.teamId, key.id), secretHash);
    await this.kv.commit(tx);
  }

  get(id: string): Promise<ApiKey | undefined> {
    return this.kv.get<ApiKey>(keys.apiKey(id));
  }

  async bySecretHash(secretHash: string): Promise<ApiKey | undefined> {
    const id = await this.kv.get<string>(keys.apiKeyHash(secretHash));
    return id === undefined ? undefined : this.get(id);
  }

  async listForTeam(teamId: string): Promise<ApiKey[]> {
    const ids = (await this.kv.keys(ranges.teamApiKeys(teamId))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    return (await this.kv.getMany<ApiKey>(ids.map(keys.apiKey))).filter((k): k is ApiKey => k !== undefined);
  }

  async update(key: ApiKey): Promise<void> {
    const tx = new Tx();
    tx.put(keys.apiKey(key.id), key);
    await this.kv.commit(tx);
  }

  /** Replaces the secret (rotation): the old one stops working in the same batch. */
  async replaceSecret(key: ApiKey, newSecretHash: string): Promise<void> {
    const oldHash = await this.kv.get<string>(keys.teamApiKey(key.teamId, key.id));
    const tx = new Tx();
    if (oldHash) tx.del(keys.apiKeyHash(oldHash));
    tx.put(keys.apiKeyHash(newSecretHash), key.id);
    tx.put(keys.teamApiKey(key.teamId, key.id), newSecretHash);
    tx.put(keys.apiKey(key.id), key);
    await this.kv.commit(tx);
  }

  /** Revoked keys keep their record (for listings and audit) but no longer authenticate. */
  async revoke(key: ApiKey): Promise<void> {
    const hash = await this.kv.get<string>(keys.teamApiKey(key.teamId, key.id));
    key.revokedAt = Date.now();
    const tx = new Tx();
    if (hash) tx.del(keys.apiKeyHash(hash));
    tx.put(keys.apiKey(key.id), key);
    await this.kv.commit(tx);
  }
}
