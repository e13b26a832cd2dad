import { randomBytes } from 'node:crypto';
import type { Kv } from './db.ts';
import { keys, listPrefixes } from './keys.ts';
import { Tx } from './tx.ts';
import type { Team } from './types.ts';

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/** A ULID in lower case (48-bit time, 80 random bits): ids sort by creation time (docs/API.md §2). */
export function newId(now = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32]! + time;
  const random = randomBytes(16);
  let tail = '';
  for (let i = 0; i < 16; i++) tail += CROCKFORD[random[i]! % 32]!;
  return time + tail;
}

export const DEFAULT_TEAM_LIMITS: Team['limits'] = { maxApiKeys: 100, maxDomains: 1000, maxMailboxes: 100_000 };

export class Teams {
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  async create(name: string, limits: Partial<Team['limits']> = {}): Promise<Team> {
    const team: Team = { id: newId(), name, limits: { ...DEFAULT_TEAM_LIMITS, ...limits }, createdAt: Date.now() };
    const tx = new Tx();
    tx.put(keys.team(team.id), team);
    await this.kv.commit(tx);
    return team;
  }

  get(teamId: string): Promise<Team | undefined> {
    return this.kv.directory.get<Team>(keys.team(teamId));
  }

  async list(): Promise<Team[]> {
    const ids = await this.kv.directory.list(listPrefixes.teams());
    return (await this.kv.directory.getMany<Team>(ids)).filter((t): t is Team => t !== undefined);
  }

  async update(team: Team): Promise<void> {
    const tx = new Tx();
    tx.put(keys.team(team.id), team);
    await this.kv.commit(tx);
  }
}
