import type { Account, ApiKey, Store } from '../store/index.ts';
import { verifyPassword } from './passwords.ts';
import { hashApiKey } from './api-keys.ts';
import { hasPermission } from './permissions.ts';
import { FailureThrottle } from './throttle.ts';

export type LoginResult =
  /** credential: the mailbox key's id, or 'password'; expiresAt: the key's expiry (sessions end then). */
  | { ok: true; account: Account; credential: string; expiresAt: number | null }
  | { ok: false; reason: 'invalid' | 'suspended' | 'throttled'; retryAfterSeconds?: number };

/**
 * Password login shared by IMAP, POP3 and SMTP submission: one throttle per client IP and one per
 * account, so neither a single source nor a distributed guess at one mailbox gets far.
 */
export class LoginService {
  readonly byIp: FailureThrottle;
  readonly byAccount: FailureThrottle;
  private readonly store: Store;

  constructor(store: Store, options: { maxFailuresPerIp?: number; maxFailuresPerAccount?: number; windowMs?: number } = {}) {
    this.store = store;
    this.byIp = new FailureThrottle(options.maxFailuresPerIp ?? 20, options.windowMs);
    this.byAccount = new FailureThrottle(options.maxFailuresPerAccount ?? 10, options.windowMs);
  }

  /**
   * `permission`: what the protocol does with the login (IMAP/POP3 `mailbox.read`, SMTP submission
   * `email.send`). A mailbox key used as the password must hold it: a key is a key however it is
   * presented (issue 13 §1). The mailbox's own password may do everything a mailbox may.
   */
  async login(username: string, password: string, clientIp: string, permission?: string): Promise<LoginResult> {
    const user = username.trim().toLowerCase();
    for (const [throttle, key] of [[this.byIp, clientIp], [this.byAccount, user]] as const) {
      if (throttle.blocked(key)) return { ok: false, reason: 'throttled', retryAfterSeconds: throttle.retryAfterSeconds(key) };
    }
    const delay = Math.max(this.byIp.delayMs(clientIp), this.byAccount.delayMs(user));
    if (delay) await new Promise((r) => setTimeout(r, delay));
    const account = await this.store.accounts.byAddress(user);
    const key = await this.mailboxKey(account, password, permission);
    const valid = !!key || (await verifyPassword(password, account?.passwordHash));
    if (!account || !valid) {
      this.byIp.fail(clientIp);
      this.byAccount.fail(user);
      return { ok: false, reason: 'invalid' };
    }
    if (account.state !== 'active') return { ok: false, reason: 'suspended' };
    this.byIp.reset(clientIp);
    this.byAccount.reset(user);
    return { ok: true, account, credential: key ? key.id : 'password', expiresAt: key?.expiresAt ?? null };
  }

  /** A mailbox API key (wm_mbx_…) is also that mailbox's IMAP/SMTP password (API.md §B1), never another's. */
  private async mailboxKey(account: Account | undefined, secret: string, permission: string | undefined): Promise<ApiKey | undefined> {
    if (!account || !secret.startsWith('wm_mbx_')) return undefined;
    const key = await this.store.apiKeys.bySecretHash(hashApiKey(secret));
    const valid =
      !!key && key.type === 'mailbox' && key.accountId === account.id && !key.revokedAt && !(key.expiresAt && key.expiresAt < Date.now()) &&
      (permission === undefined || hasPermission(key.permissions, permission));
    return valid ? key : undefined;
  }
}
