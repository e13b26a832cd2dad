import type { Addresses } from './addresses.ts';
import { normalizeAddress, splitAddress } from './addresses.ts';
import type { Kv, Notifier } from './db.ts';
import type { DeepReadonly } from './directory.ts';
import type { Folders } from './folders.ts';
import { DEFAULT_FOLDERS, StoreError } from './folders.ts';
import { keys, listPrefixes } from './keys.ts';
import type { Messages } from './messages.ts';
import type { KeyedMutex } from './mutex.ts';
import type { TeamTallies } from './team-tallies.ts';
import { newId } from './teams.ts';
import { Tx } from './tx.ts';
import type { Account, AddressRoute, CredentialEnded } from './types.ts';

export interface NewAccount {
  teamId: string;
  address: string;
  name?: string;
  passwordHash?: string | null;
  quotaBytes?: number;
  /** The team's mailbox limit, checked in the batch (StoreError 'limit'); absent: not checked (the CLI, fixtures). */
  maxMailboxes?: number;
}

/** Mailboxes (accounts): their record, their primary address and their default folders, created atomically. */
export class Accounts {
  private readonly kv: Kv;
  private readonly addresses: Addresses;
  private readonly folders: Folders;
  private readonly messages: Messages;
  private readonly directory: KeyedMutex;
  private readonly notifier: Notifier;
  private readonly tallies: TeamTallies;

  constructor(
    kv: Kv,
    addresses: Addresses,
    folders: Folders,
    messages: Messages,
    directory: KeyedMutex,
    notifier: Notifier,
    tallies: TeamTallies,
  ) {
    this.tallies = tallies;
    this.kv = kv;
    this.addresses = addresses;
    this.folders = folders;
    this.messages = messages;
    this.directory = directory;
    this.notifier = notifier;
  }

  private ended(tx: Tx, accountId: string, credential: string | null, reason: string): void {
    const ended: CredentialEnded = { accountId, credential, reason };
    tx.onCommit(() => this.notifier.emit('credential-ended', ended));
  }

  get(accountId: string): Promise<Account | undefined> {
    return this.kv.directory.get<Account>(keys.account(accountId));
  }

  /** The account to read only, shared with other readers (DirectoryCache.view): no copy decoded per call. */
  view(accountId: string): Promise<DeepReadonly<Account> | undefined> {
    return this.kv.directory.view<Account>(keys.account(accountId));
  }

  async byAddress(address: string): Promise<Account | undefined> {
    const route = await this.addresses.get(address);
    return route?.kind === 'account' ? this.get(route.accountId) : undefined;
  }

  /**
   * The account as the database has it now, past the directory cache: on a shared store a login must
   * see another node's password change or suspension even before that node's note has arrived.
   */
  async byAddressStored(address: string): Promise<Account | undefined> {
    const route = await this.kv.get<AddressRoute>(keys.address(normalizeAddress(address)));
    return route?.kind === 'account' ? this.kv.get<Account>(keys.account(route.accountId)) : undefined;
  }

  async listForTeam(teamId: string): Promise<Account[]> {
    const ids = (await this.kv.directory.list(listPrefixes.teamAccounts(teamId))).map((k) =>
      k.slice(k.lastIndexOf('/') + 1),
    );
    return (await this.kv.directory.getMany<Account>(ids.map(keys.account))).filter(
      (a): a is Account => a !== undefined,
    );
  }

  async create(input: NewAccount): Promise<Account> {
    const address = normalizeAddress(input.address);
    const account: Account = {
      id: newId(),
      teamId: input.teamId,
      address,
      name: input.name ?? splitAddress(address).local,
      passwordHash: input.passwordHash ?? null,
      quotaBytes: input.quotaBytes ?? 0,
      state: 'active',
      settings: { saveSent: true, plusFolders: false, filters: [] },
      createdAt: Date.now(),
    };
    // Shared store: another node taking the address (or a folder name, or the team's last place) first
    // makes this start again, and the retry finds the address taken or the limit reached (§4.8).
    const run = () =>
      this.kv.retrying(async () => {
        const tally = await this.tallies.read(account.teamId, 'mailboxes');
        const tx = new Tx();
        this.tallies.take(tx, tally, { id: account.id, expiresAt: null }, input.maxMailboxes);
        if (await this.addresses.get(address)) throw new StoreError('exists', `address ${address} is taken`);
        tx.put(keys.account(account.id), account);
        tx.put(keys.teamAccount(account.teamId, account.id), 1);
        this.addresses.claim(tx, address, { kind: 'account', accountId: account.id, teamId: account.teamId });
        const folders = DEFAULT_FOLDERS.map((f) => this.folders.create(tx, account.id, f.name, f.specialUse));
        try {
          await this.kv.commit(tx);
        } catch (err) {
          for (const folder of folders) this.folders.discard(folder); // memory took them; the disk did not
          throw err;
        }
        return account;
      });
    return this.directory.run('directory', () => this.tallies.run(account.teamId, 'mailboxes', run));
  }

  /**
   * Writes the account. A new password ends the sessions that logged in with the old one; a
   * suspension ends all of them ('credential-ended').
   */
  async update(account: Account): Promise<void> {
    const before = await this.get(account.id);
    const tx = new Tx();
    tx.put(keys.account(account.id), account);
    if (before && before.state === 'active' && account.state !== 'active')
      this.ended(tx, account.id, null, 'mailbox suspended');
    else if (before && before.passwordHash !== account.passwordHash)
      this.ended(tx, account.id, 'password', 'password changed');
    await this.kv.commit(tx);
  }

  /**
   * Another node wrote the account (a shared store's change feed); `before` is what the directory
   * cache held of it, if anything. Ends this node's sessions as update() ends the writer's: all of
   * them when the mailbox is no longer active, those that logged in with a password when it changed
   * (or when what it was is not known here: ending a password session too many is the safe side).
   */
  async changedElsewhere(accountId: string, before: { value: Account | undefined } | undefined): Promise<void> {
    const old = before?.value;
    if (before && !old) return; // created elsewhere: no session can have logged in with it here
    this.endChanged(accountId, old && { state: old.state, hashes: [old.passwordHash] }, await this.get(accountId));
  }

  /**
   * After a shared store's change feed was down (notes may be lost): `held` maps each account with live
   * sessions on this node to the password hashes its password sessions logged in with (all of them
   * active then). Ends them as changedElsewhere() does when the stored account is no longer active or
   * has another password.
   */
  async recheck(held: Map<string, (string | null | undefined)[]>): Promise<void> {
    const ids = [...held.keys()];
    const stored = await this.kv.getMany<Account>(ids.map(keys.account));
    ids.forEach((id, i) => this.endChanged(id, { state: 'active', hashes: held.get(id)! }, stored[i]));
  }

  /** `old`: what was held (undefined: not known, which ends password sessions too). */
  private endChanged(
    accountId: string,
    old: { state: Account['state']; hashes: (string | null | undefined)[] } | undefined,
    now: Account | undefined,
  ): void {
    let ended: CredentialEnded | undefined;
    if (now?.state !== 'active') {
      if (!old || old.state === 'active')
        ended = { accountId, credential: null, reason: now ? 'mailbox suspended' : 'mailbox deleted' };
    } else if (!old || old.hashes.some((hash) => hash !== now.passwordHash))
      ended = { accountId, credential: 'password', reason: 'password changed' };
    if (ended) this.notifier.emit('credential-ended', ended);
  }

  /** Deletes the account, its address, folders and messages (blobs released) in one batch. */
  async remove(account: Account): Promise<void> {
    await this.directory.run('directory', () =>
      this.tallies.run(account.teamId, 'mailboxes', async () => {
        const tx = new Tx();
        this.tallies.forget(tx, account.teamId, 'mailboxes');
        for (const folder of this.folders.list(account.id)) {
          await this.messages.removeAll(tx, folder);
          this.folders.remove(tx, folder, false);
        }
        this.folders.dropSubscriptions(tx, account.id);
        this.addresses.remove(tx, account.address);
        tx.del(keys.account(account.id));
        tx.del(keys.teamAccount(account.teamId, account.id));
        this.ended(tx, account.id, null, 'mailbox deleted');
        await this.kv.commit(tx);
      }),
    );
  }
}
