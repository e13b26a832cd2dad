import type { Kv } from './db.ts';
import { keys, listPrefixes } from './keys.ts';
import type { Tx } from './tx.ts';
import type { AddressRoute } from './types.ts';

/** Lower-cases the domain; the local part keeps its case but lookups are case-insensitive, as users expect. */
export const normalizeAddress = (address: string): string => address.trim().toLowerCase();

export const splitAddress = (address: string): { local: string; domain: string } => {
  const at = address.lastIndexOf('@');
  return at < 0 ? { local: address, domain: '' } : { local: address.slice(0, at), domain: address.slice(at + 1) };
};

/** Address → route (account, alias or forwarder); the routing stage resolves through these. */
export class Addresses {
  private readonly kv: Kv;

  constructor(kv: Kv) {
    this.kv = kv;
  }

  get(address: string): Promise<AddressRoute | undefined> {
    return this.kv.directory.get<AddressRoute>(keys.address(normalizeAddress(address)));
  }

  put(tx: Tx, address: string, route: AddressRoute): void {
    tx.put(keys.address(normalizeAddress(address)), route);
  }

  /**
   * A route at an address that must be free: on a shared store the commit fails if another node took
   * the address meanwhile (Kv.expectAbsent), and the caller's retry sees it taken.
   */
  claim(tx: Tx, address: string, route: AddressRoute): void {
    this.kv.expectAbsent(tx, keys.address(normalizeAddress(address)));
    this.put(tx, address, route);
  }

  remove(tx: Tx, address: string): void {
    tx.del(keys.address(normalizeAddress(address)));
  }

  /** An extra address delivering to an account, indexed under the account so it can be listed. */
  putAccountAlias(tx: Tx, address: string, accountId: string, teamId: string): void {
    this.claim(tx, address, { kind: 'account', accountId, teamId });
    tx.put(keys.accountAlias(accountId, normalizeAddress(address)), 1);
  }

  removeAccountAlias(tx: Tx, address: string, accountId: string): void {
    this.remove(tx, address);
    tx.del(keys.accountAlias(accountId, normalizeAddress(address)));
  }

  async accountAliases(accountId: string): Promise<string[]> {
    const prefix = listPrefixes.accountAliases(accountId);
    return (await this.kv.directory.list(prefix)).map((k) => k.slice(prefix.length));
  }
}
