// Relays ("sending accounts"): SMTP servers the operator sends through instead of direct MX delivery,
// grouped into delivery groups, with routes that send a domain's or a sending key's mail through a
// group. Daily use is counted per relay and UTC day, written in the batch that records the delivery.
import type { Kv } from './db.ts';
import { StoreError } from './folders.ts';
import { keys, prefixRange, ranges } from './keys.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';

export interface Relay {
  id: string;
  name: string;
  host: string;
  port: number;
  /** starttls: STARTTLS required; implicit: TLS from the first byte (465); none: plain text. */
  tls: 'starttls' | 'implicit' | 'none';
  /** Verify the relay's certificate against the system CAs and its host name. */
  verifyCertificate: boolean;
  auth: { user: string; pass: string } | null;
  /** Messages per UTC day (0: no limit). */
  dailyLimit: number;
  /** Share of a group's traffic relative to the other members. */
  weight: number;
  createdAt: number;
  /** The team that made it through the management API (absent: set up by the operator for everyone). */
  teamId?: string;
  /** What the management API shows and edits besides delivery settings (absent for operator relays). */
  profile?: RelayProfile;
}

/** A relay as an API "provider" (docs/API.md §12.3): `weight` is `percentage` while active, 0 while not. */
export interface RelayProfile {
  /** The protocol as the API was told it (tls and ssl both mean implicit TLS). */
  protocol: 'tls' | 'ssl' | 'starttls' | 'none';
  percentage: number;
  active: boolean;
  lastTest: { at: number; ok: boolean; message: string } | null;
}

export type NewRelay = Omit<Relay, 'id' | 'createdAt' | 'verifyCertificate' | 'auth' | 'dailyLimit' | 'weight'> &
  Partial<Pick<Relay, 'verifyCertificate' | 'auth' | 'dailyLimit' | 'weight'>>;

export interface RelayGroup {
  id: string;
  name: string;
  relayIds: string[];
  createdAt: number;
  /** As for relays: the owning team when made through the API. */
  teamId?: string;
  description?: string | null;
}

/** What a route applies to: a sender domain or a sending API key. */
export type RouteScope = { domain: string } | { apiKeyId: string };

const scopeKey = (scope: RouteScope): string =>
  'domain' in scope
    ? keys.relayRoute(`domain:${scope.domain.toLowerCase()}`)
    : keys.relayRoute(`key:${scope.apiKeyId}`);

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

export class Relays {
  private readonly kv: Kv;
  /** relayId/day → messages sent, loaded on first use. */
  private readonly used = new Map<string, number>();

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async create(input: NewRelay): Promise<Relay> {
    const relay: Relay = {
      verifyCertificate: true,
      auth: null,
      dailyLimit: 0,
      weight: 1,
      ...input,
      id: newId(),
      createdAt: Date.now(),
    };
    await this.put(relay);
    return relay;
  }

  get(id: string): Promise<Relay | undefined> {
    return this.kv.get<Relay>(keys.relay(id));
  }

  list(): Promise<Relay[]> {
    return this.kv.values<Relay>(ranges.relays());
  }

  async put(relay: Relay): Promise<void> {
    const tx = new Tx();
    tx.put(keys.relay(relay.id), relay);
    await this.kv.commit(tx);
  }

  async remove(id: string): Promise<void> {
    const groups = (await this.listGroups()).filter((g) => g.relayIds.includes(id));
    if (groups.length) throw new StoreError('conflict', `relay ${id} is in group ${groups[0]!.id}`);
    const tx = new Tx();
    tx.del(keys.relay(id));
    await this.kv.commit(tx);
  }

  async createGroup(name: string, relayIds: string[]): Promise<RelayGroup> {
    const group: RelayGroup = { id: newId(), name, relayIds, createdAt: Date.now() };
    await this.putGroup(group);
    return group;
  }

  getGroup(id: string): Promise<RelayGroup | undefined> {
    return this.kv.get<RelayGroup>(keys.relayGroup(id));
  }

  listGroups(): Promise<RelayGroup[]> {
    return this.kv.values<RelayGroup>(ranges.relayGroups());
  }

  async putGroup(group: RelayGroup): Promise<void> {
    const tx = new Tx();
    tx.put(keys.relayGroup(group.id), group);
    await this.kv.commit(tx);
  }

  async removeGroup(id: string): Promise<void> {
    const tx = new Tx();
    tx.del(keys.relayGroup(id));
    await this.kv.commit(tx);
  }

  /** Sends mail of a domain or sending key through a group (null: back to direct delivery). */
  async setRoute(scope: RouteScope, groupId: string | null): Promise<void> {
    const tx = new Tx();
    if (groupId) tx.put(scopeKey(scope), groupId);
    else tx.del(scopeKey(scope));
    await this.kv.commit(tx);
  }

  /** Every route: its scope and the group it names. */
  async listRoutes(): Promise<{ scope: RouteScope; groupId: string }[]> {
    const prefix = keys.relayRoute('');
    return (await this.kv.entries<string>(prefixRange(prefix))).map(([key, groupId]) => {
      const scope = key.slice(prefix.length);
      return {
        scope: scope.startsWith('domain:') ? { domain: scope.slice(7) } : { apiKeyId: scope.slice(4) },
        groupId,
      };
    });
  }

  /** The group for a message: its sending key's route first, then its sender domain's. */
  async routeFor(message: {
    domain: string;
    apiKeyId: string | null;
    teamId?: string;
  }): Promise<RelayGroup | undefined> {
    const byKey = message.apiKeyId ? await this.kv.get<string>(scopeKey({ apiKeyId: message.apiKeyId })) : undefined;
    const groupId = byKey ?? (await this.kv.get<string>(scopeKey({ domain: message.domain })));
    const group = groupId ? await this.getGroup(groupId) : undefined;
    // A route left behind by another team (a deleted and re-added domain) must not carry this team's mail.
    if (group?.teamId && message.teamId && group.teamId !== message.teamId) return undefined;
    return group;
  }

  /** Messages sent through a relay on a UTC day (YYYYMMDD). */
  async usage(relayId: string, day: string): Promise<number> {
    const key = keys.relayUsage(relayId, day);
    let count = this.used.get(key);
    if (count === undefined) {
      count = (await this.kv.get<number>(key)) ?? 0;
      count = this.used.get(key) ?? count;
      this.used.set(key, count);
    }
    return count;
  }

  /** usage() for reports: reads without caching (past days are never counted again). */
  async usageOn(relayId: string, day: string): Promise<number> {
    const key = keys.relayUsage(relayId, day);
    return this.used.get(key) ?? (await this.kv.get<number>(key)) ?? 0;
  }

  /** Counts messages sent in a transaction; usage(relayId, day) must have been awaited. */
  countUse(tx: Tx, relayId: string, day: string, messages = 1): void {
    const key = keys.relayUsage(relayId, day);
    const count = (this.used.get(key) ?? 0) + messages;
    this.used.set(key, count);
    tx.put(key, count);
  }
}
