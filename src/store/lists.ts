// Distribution lists (docs/API.md §12.5 `/lists`, Mailbux "forwarders"): a named record plus an alias route
// for its address whose targets are the members' addresses (local mailboxes or external), in one batch.
import type { Addresses } from './addresses.ts';
import { normalizeAddress } from './addresses.ts';
import type { Kv } from './db.ts';
import { StoreError } from './folders.ts';
import { keys, ranges } from './keys.ts';
import type { KeyedMutex } from './mutex.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';

export interface MailList {
  id: string;
  teamId: string;
  name: string;
  address: string;
  description: string | null;
  /** Local members by account id; their current addresses are the route's targets. */
  members: string[];
  externalMembers: string[];
  createdAt: number;
}

export class Lists {
  private readonly kv: Kv;
  private readonly addresses: Addresses;
  private readonly directory: KeyedMutex;

  constructor(kv: Kv, addresses: Addresses, directory: KeyedMutex) {
    this.kv = kv;
    this.addresses = addresses;
    this.directory = directory;
  }

  get(id: string): Promise<MailList | undefined> {
    return this.kv.get<MailList>(keys.list(id));
  }

  async listForTeam(teamId: string): Promise<MailList[]> {
    const ids = (await this.kv.keys(ranges.teamLists(teamId))).map((k) => k.slice(k.lastIndexOf('/') + 1));
    return (await this.kv.getMany<MailList>(ids.map(keys.list))).filter((l): l is MailList => l !== undefined);
  }

  /** `targets` are the addresses the route expands to (members' addresses and external members). */
  async create(input: Omit<MailList, 'id' | 'createdAt'>, targets: string[]): Promise<MailList> {
    const list: MailList = { ...input, address: normalizeAddress(input.address), id: newId(), createdAt: Date.now() };
    return this.directory.run('directory', () =>
      this.kv.retrying(async () => {
        if (await this.addresses.get(list.address)) throw new StoreError('exists', `address ${list.address} is taken`);
        const tx = new Tx();
        tx.put(keys.list(list.id), list);
        tx.put(keys.teamList(list.teamId, list.id), 1);
        this.addresses.claim(tx, list.address, { kind: 'alias', targets, teamId: list.teamId });
        await this.kv.commit(tx);
        return list;
      }),
    );
  }

  /** Saves the record and its route; a changed address must be free. */
  async update(previous: MailList, next: MailList, targets: string[]): Promise<void> {
    next.address = normalizeAddress(next.address);
    const moved = next.address !== previous.address;
    await this.directory.run('directory', () =>
      this.kv.retrying(async () => {
        if (moved && (await this.addresses.get(next.address))) {
          throw new StoreError('exists', `address ${next.address} is taken`);
        }
        const tx = new Tx();
        if (moved) this.addresses.remove(tx, previous.address);
        tx.put(keys.list(next.id), next);
        const route = { kind: 'alias' as const, targets, teamId: next.teamId };
        if (moved) this.addresses.claim(tx, next.address, route);
        else this.addresses.put(tx, next.address, route);
        await this.kv.commit(tx);
      }),
    );
  }

  async remove(list: MailList): Promise<void> {
    await this.directory.run('directory', async () => {
      const tx = new Tx();
      tx.del(keys.list(list.id));
      tx.del(keys.teamList(list.teamId, list.id));
      this.addresses.remove(tx, list.address);
      await this.kv.commit(tx);
    });
  }
}
