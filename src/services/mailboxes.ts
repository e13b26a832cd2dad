// Mailboxes: accounts with a login, a quota, extra addresses (aliases), and their removal with
// everything that points at them.
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../security/passwords.ts';
import { normalizeAddress, splitAddress } from '../store/addresses.ts';
import { type Account, StoreError, type Team, Tx } from '../store/index.ts';
import { sieveScripts } from '../store/sieve.ts';
import { type ServiceDeps, ServiceError } from './index.ts';

/** A new mailbox (the native API's field names). */
export interface NewMailbox {
  email: string;
  display_name?: string | undefined;
  /** 0 or absent: unlimited. */
  quota_bytes?: number | undefined;
  /** Absent: one is generated and returned. */
  password?: string | undefined;
}

/** A change of display name (null: none) and quota (0: unlimited). */
export interface MailboxChange {
  display_name?: string | null | undefined;
  quota_bytes?: number | undefined;
}

/** Read-modify-write of one account record, serialised per account. */
export async function updateAccount(
  deps: Pick<ServiceDeps, 'store'>,
  id: string,
  change: (account: Account) => Promise<void> | void,
): Promise<Account> {
  return deps.store.directory.run(`account/${id}`, async () => {
    const current = await deps.store.accounts.get(id);
    if (!current) throw new ServiceError('not_found', `no mailbox mbx_${id}`, 'id');
    await change(current);
    await deps.store.accounts.update(current);
    return current;
  });
}

/** A new address must be in one of the team's domains (`invalid` otherwise, naming `field`). */
export async function assertTeamDomain(
  deps: Pick<ServiceDeps, 'store'>,
  teamId: string,
  address: string,
  field: string,
): Promise<void> {
  const domain = await deps.store.domains.get(splitAddress(address).domain);
  if (!domain || domain.teamId !== teamId)
    throw new ServiceError('invalid', `${splitAddress(address).domain} is not a domain of this team`, field);
}

const generatedPassword = (): string => randomBytes(18).toString('base64url');

/**
 * Creates a mailbox in one of the team's domains (`invalid` otherwise), within the team's limit, at a
 * free address (`conflict`); without a password one is generated and returned (shown once).
 */
export async function createMailbox(
  deps: ServiceDeps,
  team: Team,
  input: NewMailbox,
): Promise<{ account: Account; generated: string | null }> {
  await assertTeamDomain(deps, team.id, input.email, 'email');
  const generated = input.password === undefined ? generatedPassword() : null;
  const passwordHash = await hashPassword(input.password ?? generated!);
  try {
    // The limit is checked in the batch that creates it (store/team-tallies.ts): on a shared store too.
    const account = await deps.store.accounts.create({
      teamId: team.id,
      address: input.email,
      name: input.display_name ?? '',
      passwordHash,
      quotaBytes: input.quota_bytes ?? 0,
      maxMailboxes: team.limits.maxMailboxes,
    });
    return { account, generated };
  } catch (err) {
    if (err instanceof StoreError && err.code === 'limit') throw new ServiceError('limit_exceeded', err.message);
    if (err instanceof StoreError && err.code === 'exists')
      throw new ServiceError('conflict', `${input.email} is taken`, 'email');
    throw err;
  }
}

/** Display name and quota (not below what is stored: `invalid`); `check` sees the current record first (If-Match). */
export function patchMailbox(
  deps: ServiceDeps,
  id: string,
  change: MailboxChange,
  check?: (a: Account) => Promise<void>,
): Promise<Account> {
  return updateAccount(deps, id, async (a) => {
    await check?.(a);
    if (change.quota_bytes) {
      const used = deps.store.folders.usage(a.id).bytes;
      if (change.quota_bytes < used)
        throw new ServiceError('invalid', `quota_bytes is below the ${used} bytes already stored`, 'quota_bytes');
    }
    if (change.quota_bytes !== undefined) a.quotaBytes = change.quota_bytes;
    if (change.display_name !== undefined) a.name = change.display_name ?? '';
  });
}

/** Suspends or resumes a mailbox (suspended: no login, no API access for its keys, inbound mail deferred). */
export const setMailboxState = (deps: ServiceDeps, id: string, state: Account['state']): Promise<Account> =>
  updateAccount(deps, id, (a) => void (a.state = state));

/** Sets the IMAP/SMTP password (null: password login off; mailbox keys still work). */
export async function setMailboxPassword(
  deps: Pick<ServiceDeps, 'store'>,
  id: string,
  password: string | null,
): Promise<void> {
  const passwordHash = password === null ? null : await hashPassword(password);
  await updateAccount(deps, id, (a) => void (a.passwordHash = passwordHash));
}

/** An extra address delivering to the mailbox: in a team domain (`invalid`), free (`conflict`). */
export async function addAlias(deps: ServiceDeps, account: Account, address: string): Promise<void> {
  await assertTeamDomain(deps, account.teamId, address, 'address');
  // Shared store: another node taking the address first makes this start again and find it (§4.8).
  await deps.store.directory.run('directory', () =>
    deps.store.kv.retrying(async () => {
      if (await deps.store.addresses.get(address)) throw new ServiceError('conflict', `${address} is taken`, 'address');
      const tx = new Tx();
      deps.store.addresses.putAccountAlias(tx, address, account.id, account.teamId);
      await deps.store.kv.commit(tx);
    }),
  );
}

/** Removes one of the mailbox's extra addresses (`not_found` if it is not one). */
export async function removeAlias(deps: ServiceDeps, account: Account, alias: string): Promise<void> {
  const address = normalizeAddress(alias);
  await deps.store.directory.run('directory', async () => {
    if (!(await deps.store.addresses.accountAliases(account.id)).includes(address)) {
      throw new ServiceError(
        'not_found',
        `${JSON.stringify(address.slice(0, 254))} is not an alias of this mailbox`,
        'address',
      );
    }
    const tx = new Tx();
    deps.store.addresses.removeAccountAlias(tx, address, account.id);
    await deps.store.kv.commit(tx);
  });
}

/** Deletes a mailbox with its mail, aliases and keys; lists and catch-alls stop pointing at it. */
export async function deleteMailbox(deps: ServiceDeps, account: Account): Promise<void> {
  for (const k of await deps.store.apiKeys.listForTeam(account.teamId))
    if (k.accountId === account.id && !k.revokedAt) await deps.store.apiKeys.revoke(k);
  for (const list of await deps.lists.listForTeam(account.teamId)) {
    if (!list.members.includes(account.id)) continue;
    const members = list.members.filter((m) => m !== account.id);
    const next = { ...list, members };
    await deps.lists.update(list, next, await listTargets(deps, next));
  }
  for (const domain of await deps.store.domains.listForTeam(account.teamId)) {
    if (domain.catchAll === account.id)
      await deps.store.directory.run(`domain/${domain.name}`, async () => {
        const current = await deps.store.domains.get(domain.name);
        if (current?.catchAll === account.id) await deps.store.domains.update({ ...current, catchAll: null });
      });
  }
  await deps.store.directory.run('directory', async () => {
    const tx = new Tx();
    for (const alias of await deps.store.addresses.accountAliases(account.id))
      deps.store.addresses.removeAccountAlias(tx, alias, account.id);
    await deps.store.kv.commit(tx);
  });
  await deps.store.accounts.remove(account);
  await sieveScripts(deps.store.kv).remove(account.id);
}

/** The addresses a list's route expands to: its local members' current addresses, then external ones. */
export async function listTargets(
  deps: Pick<ServiceDeps, 'store'>,
  list: { members: string[]; externalMembers: string[] },
): Promise<string[]> {
  const accounts = await Promise.all(list.members.map((id) => deps.store.accounts.get(id)));
  return [...accounts.filter((a): a is Account => a !== undefined).map((a) => a.address), ...list.externalMembers];
}
