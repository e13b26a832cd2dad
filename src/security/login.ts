// Package security implements who may do what: passwords (scrypt), API keys (`wm_…`, stored as SHA-256),
// permissions and presets, failure throttles, a credential cache, live sessions that end with their
// credential, and the data directory's file modes (docs/API.md §5, §6). This file is the LoginService,
// one per process, shared by IMAP, POP3, SMTP AUTH, the console and the compat API's Basic logins.
// Invariants: no secret is stored in clear; an unknown user costs the time of a wrong password; a key is
// a key however it is presented. May import store and base.
import type { Account, ApiKey, Store } from '../store/index.ts';
import type { EngineWindows } from '../store/engine.ts';
import { CredentialCache, type CredentialCacheOptions } from './credential-cache.ts';
import { verifyPassword } from './passwords.ts';
import { hashApiKey } from './api-keys.ts';
import { hasPermission } from './permissions.ts';
import { type Counted, FailureThrottle } from './throttle.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

export type LoginResult =
  /** credential: the mailbox key's id, or 'password'; expiresAt: the key's expiry (sessions end then). */
  | { ok: true; account: Account; credential: string; expiresAt: number | null }
  | { ok: false; reason: 'invalid' | 'suspended' | 'throttled' | 'authzid'; retryAfterSeconds?: number };

/** The byPair throttle's key of an account (as logged in with) and a client address. */
export const pairKey = (username: string, clientIp: string): string => `${username.trim().toLowerCase()}\0${clientIp}`;

export interface LoginThrottleOptions {
  /** Failures from one client address, whatever the accounts, before that address is refused (default auth.max_failures_per_ip). */
  maxFailuresPerIp?: number;
  /** Failures for one account from one client address before that pair is refused (default auth.max_failures_per_account). */
  maxFailuresPerAccount?: number;
  /** Failures for one account from all addresses after which its logins are slowed, never refused (default auth.account_slowdown_after). */
  accountSlowdownAfter?: number;
  /** The wait added to each login of such an account (default auth.account_slowdown_ms). */
  accountSlowdownMs?: number;
  windowMs?: number;
  /** The verified-password cache (default auth.credential_cache_seconds, 10,000 entries); `ttlMs: 0` turns it off. */
  credentialCache?: CredentialCacheOptions;
}

/**
 * Password login shared by IMAP, POP3 and SMTP submission. Failures are counted three ways:
 * - per client address (all accounts): a guesser is refused, whoever it aims at;
 * - per (account, client address): that pair is refused, so a stranger who fails 10 times cannot
 *   lock the owner out: the right password from an address that has not failed still works;
 * - per account (all addresses), with a much higher threshold past which every login to the
 *   account waits (a distributed guess slows down) but is never refused.
 * A success clears only its own pair: logging in to one's own account must not reset the counter of
 * the address that guessed at others.
 * On a store several nodes share, the failures are counted in the database (`Engine.windows`) and read
 * back before each decision, so guesses spread over N nodes are not N times as many (issue 20); on a
 * store of one node they stay in this process's memory, as fast as before.
 */
export class LoginService {
  readonly byIp: FailureThrottle;
  readonly byPair: FailureThrottle;
  readonly byAccount: FailureThrottle;
  private readonly store: Store;
  private readonly accountSlowdownMs: number;
  private readonly verified: CredentialCache | null;
  private readonly shared: EngineWindows | undefined;

  constructor(store: Store, options: LoginThrottleOptions = {}) {
    this.store = store;
    const d = CONFIG_DEFAULTS.auth;
    const windowMs = options.windowMs ?? d.failure_window_ms;
    this.shared = store.kv.engine.shared ? store.kv.engine.windows : undefined;
    const shared = (count: string) => this.shared && { windows: this.shared, prefix: `login/${count}` };
    this.byIp = new FailureThrottle(options.maxFailuresPerIp ?? d.max_failures_per_ip, windowMs, shared('ip'));
    this.byPair = new FailureThrottle(
      options.maxFailuresPerAccount ?? d.max_failures_per_account,
      windowMs,
      shared('pair'),
    );
    this.byAccount = new FailureThrottle(
      options.accountSlowdownAfter ?? d.account_slowdown_after,
      windowMs,
      shared('account'),
    );
    this.accountSlowdownMs = options.accountSlowdownMs ?? d.account_slowdown_ms;
    this.verified = options.credentialCache?.ttlMs === 0 ? null : new CredentialCache(options.credentialCache);
  }

  /**
   * `permission`: what the protocol does with the login (IMAP/POP3 `mailbox.read`, SMTP submission
   * `email.send`). A mailbox key used as the password must hold it: a key is a key however it is
   * presented. The mailbox's own password may do everything a mailbox may.
   * `authzid` is a SASL PLAIN authorization identity (RFC 4616 §2): acting as another user is not
   * offered, so one that names anyone but the authenticating user is refused, not ignored.
   */
  async login(
    username: string,
    password: string,
    clientIp: string,
    options: { permission?: string; authzid?: string } = {},
  ): Promise<LoginResult> {
    const { permission, authzid = '' } = options;
    const user = username.trim().toLowerCase();
    if (authzid !== '' && authzid.trim().toLowerCase() !== user) return { ok: false, reason: 'authzid' };
    const pair = pairKey(user, clientIp);
    const counted: Counted[] = [
      [this.byIp, clientIp],
      [this.byPair, pair],
      [this.byAccount, user],
    ];
    await FailureThrottle.refresh(counted); // a shared store: what every node counted
    for (const [throttle, key] of [
      [this.byIp, clientIp],
      [this.byPair, pair],
    ] as const) {
      if (throttle.blocked(key))
        return { ok: false, reason: 'throttled', retryAfterSeconds: throttle.retryAfterSeconds(key) };
    }
    const slowed = this.byAccount.blocked(user) ? this.accountSlowdownMs : 0;
    const delay = Math.max(this.byIp.delayMs(clientIp), this.byPair.delayMs(pair), slowed);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    // Shared store: what the database holds now, not what another node's note has yet to correct.
    const account = this.shared
      ? await this.store.accounts.byAddressStored(user)
      : await this.store.accounts.byAddress(user);
    const key = await this.mailboxKey(account, password, permission);
    const valid = !!key || (await this.verifyPassword(user, password, account?.passwordHash));
    if (!account || !valid) {
      await FailureThrottle.record(counted);
      return { ok: false, reason: 'invalid' };
    }
    if (account.state !== 'active') return { ok: false, reason: 'suspended' };
    await this.byPair.clear(pair);
    return { ok: true, account, credential: key ? key.id : 'password', expiresAt: key?.expiresAt ?? null };
  }

  /**
   * The per-address throttle for a login that is no mailbox's (the console's operator form), as every
   * node counted it on a shared store: refused (seconds to wait) or the delay to wait first.
   */
  async addressCheck(clientIp: string): Promise<{ retryAfterSeconds: number } | { delayMs: number }> {
    await FailureThrottle.refresh([[this.byIp, clientIp]]);
    if (this.byIp.blocked(clientIp)) return { retryAfterSeconds: this.byIp.retryAfterSeconds(clientIp) };
    return { delayMs: this.byIp.delayMs(clientIp) };
  }

  /** The outcome of such a login: a failure counts on every node, a success clears the address. */
  async addressResult(clientIp: string, ok: boolean): Promise<void> {
    if (ok) await this.byIp.clear(clientIp);
    else await FailureThrottle.record([[this.byIp, clientIp]]);
  }

  /** scrypt, unless this very password verified against this very hash within the cache's TTL (or is being checked now). */
  private async verifyPassword(
    user: string,
    password: string,
    storedHash: string | null | undefined,
  ): Promise<boolean> {
    if (!storedHash || !this.verified) return verifyPassword(password, storedHash);
    return this.verified.verify(user, password, storedHash, () => verifyPassword(password, storedHash));
  }

  /** A mailbox API key (wm_mbx_…) is also that mailbox's IMAP/SMTP password (docs/API.md §5), never another's. */
  private async mailboxKey(
    account: Account | undefined,
    secret: string,
    permission: string | undefined,
  ): Promise<ApiKey | undefined> {
    if (!account || !secret.startsWith('wm_mbx_')) return undefined;
    const key = await this.store.apiKeys.bySecretHash(hashApiKey(secret), { stored: !!this.shared });
    const valid =
      !!key &&
      key.type === 'mailbox' &&
      key.accountId === account.id &&
      !key.revokedAt &&
      !(key.expiresAt && key.expiresAt < Date.now()) &&
      (permission === undefined || hasPermission(key.permissions, permission));
    return valid ? key : undefined;
  }
}
