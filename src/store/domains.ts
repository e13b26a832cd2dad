import type { Kv } from './db.ts';
import { StoreError } from './folders.ts';
import { keys, listPrefixes } from './keys.ts';
import type { KeyedMutex } from './mutex.ts';
import type { TeamTallies } from './team-tallies.ts';
import { Tx } from './tx.ts';
import type { Domain } from './types.ts';

export const normalizeDomain = (domain: string): string => domain.trim().toLowerCase().replace(/\.$/, '');

/** Hosted domains. Directory writes (domains, addresses, accounts, keys) share one mutex so uniqueness checks hold. */
export class Domains {
  private readonly kv: Kv;
  private readonly directory: KeyedMutex;
  private readonly tallies: TeamTallies;

  constructor(kv: Kv, directory: KeyedMutex, tallies: TeamTallies) {
    this.kv = kv;
    this.directory = directory;
    this.tallies = tallies;
  }

  get(name: string): Promise<Domain | undefined> {
    return this.kv.directory.get<Domain>(keys.domain(normalizeDomain(name)));
  }

  async listForTeam(teamId: string): Promise<Domain[]> {
    const names = (await this.kv.directory.list(listPrefixes.teamDomains(teamId))).map((k) =>
      k.slice(k.lastIndexOf('/') + 1),
    );
    return (await this.kv.directory.getMany<Domain>(names.map(keys.domain))).filter(
      (d): d is Domain => d !== undefined,
    );
  }

  /** `maxDomains`: the team's limit, checked in the batch (StoreError 'limit'); absent: not checked. */
  async create(teamId: string, name: string, maxDomains?: number): Promise<Domain> {
    const domain: Domain = {
      name: normalizeDomain(name),
      teamId,
      catchAll: null,
      dkim: [],
      verifiedAt: null,
      createdAt: Date.now(),
    };
    // Shared store: another node adding it (or the team's last domain) first makes this start again
    // and find it (§4.8).
    return this.directory.run('directory', () =>
      this.tallies.run(teamId, 'domains', () =>
        this.kv.retrying(async () => {
          const tally = await this.tallies.read(teamId, 'domains');
          const tx = new Tx();
          this.tallies.take(tx, tally, { id: domain.name, expiresAt: null }, maxDomains);
          if (await this.get(domain.name)) throw new StoreError('exists', `domain ${domain.name} exists`);
          this.kv.expectAbsent(tx, keys.domain(domain.name));
          tx.put(keys.domain(domain.name), domain);
          tx.put(keys.teamDomain(teamId, domain.name), 1);
          await this.kv.commit(tx);
          return domain;
        }),
      ),
    );
  }

  async update(domain: Domain): Promise<void> {
    const tx = new Tx();
    tx.put(keys.domain(domain.name), domain);
    await this.kv.commit(tx);
  }

  async remove(domain: Domain): Promise<void> {
    await this.tallies.run(domain.teamId, 'domains', async () => {
      const tx = new Tx();
      this.tallies.forget(tx, domain.teamId, 'domains');
      tx.del(keys.domain(domain.name));
      tx.del(keys.teamDomain(domain.teamId, domain.name));
      await this.kv.commit(tx);
    });
  }
}
