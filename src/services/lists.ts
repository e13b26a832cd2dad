// Distribution lists and forwarders: one address of a team domain delivering to the team's mailboxes
// and/or addresses elsewhere.
import { StoreError } from '../store/index.ts';
import type { MailList } from '../store/lists.ts';
import { type ServiceDeps, ServiceError } from './index.ts';
import { assertTeamDomain, listTargets } from './mailboxes.ts';

/** A new list (the native API's field names); `members` are mailbox public ids (`mbx_…`). */
export interface NewList {
  name: string;
  email: string;
  description?: string | null | undefined;
  members: string[];
  external_members: string[];
}

/** The fields to change; `members` replace the current ones. */
export type ListChange = { [F in keyof NewList]?: NewList[F] | undefined };

/** Member mailbox ids must be the team's (`invalid` otherwise, naming `members.<i>`); returns store ids. */
async function memberIds(deps: ServiceDeps, teamId: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [i, id] of ids.entries()) {
    const account = /^mbx_[0-9a-hjkmnp-tv-z]{26}$/.test(id) ? await deps.store.accounts.get(id.slice(4)) : undefined;
    if (!account || account.teamId !== teamId)
      throw new ServiceError('invalid', `no mailbox ${JSON.stringify(id)} in this team`, `members.${i}`);
    if (!out.includes(account.id)) out.push(account.id);
  }
  return out;
}

const taken = (err: unknown, address: string): unknown =>
  err instanceof StoreError && err.code === 'exists'
    ? new ServiceError('conflict', `${address} is taken`, 'email')
    : err;

/** Creates a list at a free address (`conflict`) of a team domain (`invalid`), with at least one member (`invalid`). */
export async function createList(deps: ServiceDeps, teamId: string, input: NewList): Promise<MailList> {
  await assertTeamDomain(deps, teamId, input.email, 'email');
  if (input.members.length + input.external_members.length === 0)
    throw new ServiceError('invalid', 'a list needs at least one member', 'members');
  const list = {
    teamId,
    name: input.name,
    address: input.email,
    description: input.description ?? null,
    members: await memberIds(deps, teamId, input.members),
    externalMembers: [...new Set(input.external_members)],
  };
  return deps.lists.create(list, await listTargets(deps, list)).catch((err) => Promise.reject(taken(err, input.email)));
}

/** Applies the given fields (members replace the current ones) under the same rules as creation; returns the saved list. */
export async function updateList(deps: ServiceDeps, list: MailList, change: ListChange): Promise<MailList> {
  if (change.email !== undefined) await assertTeamDomain(deps, list.teamId, change.email, 'email');
  const next: MailList = {
    ...list,
    name: change.name ?? list.name,
    address: change.email ?? list.address,
    description: change.description === undefined ? list.description : change.description,
    members: change.members === undefined ? list.members : await memberIds(deps, list.teamId, change.members),
    externalMembers:
      change.external_members === undefined ? list.externalMembers : [...new Set(change.external_members)],
  };
  if (next.members.length + next.externalMembers.length === 0)
    throw new ServiceError('invalid', 'a list needs at least one member', 'members');
  await deps.lists
    .update(list, next, await listTargets(deps, next))
    .catch((err) => Promise.reject(taken(err, next.address)));
  return next;
}
