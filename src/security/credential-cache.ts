// A short-lived memory of passwords that verified, as Dovecot's auth cache keeps (auth_cache_ttl):
// a client that logs in again and again (a phone polling, a mail client opening five connections)
// costs one scrypt, not one per login. Only a keyed digest of (account, password, stored hash) is
// kept, under a key that lives in this process alone: a memory dump yields nothing to replay or
// crack offline. A changed password changes the stored hash, so the old entry can never match.
// Logins that arrive together (a client opening its connections at once) share one check in flight.
import { createHmac, randomBytes } from 'node:crypto';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export interface CredentialCacheOptions {
  /** How long a verified password is remembered (default auth.credential_cache_seconds). */
  ttlMs?: number;
  /** Entries kept at most; the oldest go first (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

export class CredentialCache {
  private readonly key = randomBytes(32);
  /** digest → expiry; a Map iterates in insertion order, so the first entry is the oldest. */
  private readonly entries = new Map<string, number>();
  /** digest → the check under way for it: one scrypt for a burst of identical logins, not one each. */
  private readonly checking = new Map<string, Promise<boolean>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: CredentialCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? CONFIG_DEFAULTS.auth.credential_cache_seconds * 1000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  private digest(account: string, password: string, storedHash: string): string {
    return createHmac('sha256', this.key)
      .update(`${account}\0${storedHash}\0`)
      .update(password.normalize('NFC'))
      .digest('base64');
  }

  /** Did this password verify against this stored hash within the TTL? */
  has(account: string, password: string, storedHash: string): boolean {
    return this.fresh(this.digest(account, password, storedHash));
  }

  remember(account: string, password: string, storedHash: string): void {
    this.keep(this.digest(account, password, storedHash));
  }

  /**
   * Whether the password is right: true from memory, else `check` (the real verification), whose
   * result is remembered when true. Calls for the same (account, password, stored hash) while a check
   * is under way wait for that one instead of starting their own.
   */
  verify(account: string, password: string, storedHash: string, check: () => Promise<boolean>): Promise<boolean> {
    const digest = this.digest(account, password, storedHash);
    if (this.fresh(digest)) return Promise.resolve(true);
    let pending = this.checking.get(digest);
    if (!pending) {
      pending = check()
        .then((valid) => {
          if (valid) this.keep(digest);
          return valid;
        })
        .finally(() => this.checking.delete(digest));
      this.checking.set(digest, pending);
    }
    return pending;
  }

  private fresh(digest: string): boolean {
    const expires = this.entries.get(digest);
    if (expires === undefined) return false;
    if (expires <= this.now()) {
      this.entries.delete(digest);
      return false;
    }
    return true;
  }

  private keep(digest: string): void {
    this.entries.delete(digest);
    this.entries.set(digest, this.now() + this.ttlMs);
    while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
