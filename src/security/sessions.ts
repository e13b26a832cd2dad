// The live sessions of every protocol (IMAP, POP3, SMTP submission, SSE streams), by account and by
// the credential they logged in with, so that a credential that stops being valid ends them at once:
// a revoked API key (a rotated one lives until it is revoked), a changed password, a
// suspended or deleted mailbox. The store announces those ('credential-ended', src/store/api-keys.ts
// and accounts.ts) and a key's new expiry ('credential-expiry'); every protocol server registers its
// authenticated sessions here. One registry per store, in process.
import type { CredentialEnded, CredentialExpiry, Store } from '../store/index.ts';

export interface LiveSession {
  protocol: string;
  /** The mailbox it acts for (null: a root key's team-wide SSE stream). */
  accountId: string | null;
  /** The API key id it authenticated with, or 'password'. */
  credential: string;
  /** When the key expires, the session ends too (null: never). */
  expiresAt?: number | null;
  /**
   * A password session: the stored hash its password was checked against, so that after the change feed
   * was down (a shared store's `*`) a password changed meanwhile on another node still ends it (left
   * out: it ends then, the safe side).
   */
  passwordHash?: string | null;
  /** Ends the session with its protocol's goodbye (IMAP `* BYE`, SMTP 421, POP3 -ERR, an SSE frame). */
  end(reason: string): void;
}

/** setTimeout's longest delay; a key expiring later is checked again when the session is not over by then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class SessionRegistry {
  private readonly byCredential = new Map<string, Set<LiveSession>>();
  private readonly byAccount = new Map<string, Set<LiveSession>>();
  private readonly timers = new Map<LiveSession, NodeJS.Timeout>();

  /** Adds a session; call the returned function when it closes. */
  register(session: LiveSession): () => void {
    const credential = this.credentialKey(session.accountId, session.credential);
    const add = (map: Map<string, Set<LiveSession>>, key: string) => {
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      set.add(session);
    };
    add(this.byCredential, credential);
    if (session.accountId) add(this.byAccount, session.accountId);
    this.armExpiry(session);
    return () => {
      clearTimeout(this.timers.get(session));
      this.timers.delete(session);
      const remove = (map: Map<string, Set<LiveSession>>, key: string) => {
        const set = map.get(key);
        set?.delete(session);
        if (set?.size === 0) map.delete(key);
      };
      remove(this.byCredential, credential);
      if (session.accountId) remove(this.byAccount, session.accountId);
    };
  }

  /** Ends the session when its key expires (checked again when that is past setTimeout's reach). */
  private armExpiry(session: LiveSession): void {
    clearTimeout(this.timers.get(session));
    this.timers.delete(session);
    if (!session.expiresAt) return;
    const wait = session.expiresAt - Date.now();
    if (wait <= 0) return void session.end('key expired');
    const timer = setTimeout(() => this.armExpiry(session), Math.min(wait, MAX_TIMER_MS));
    timer.unref();
    this.timers.set(session, timer);
  }

  /** A key's expiry changed (PATCH expires_at): its sessions end at the new time, or now if it is past. */
  expiryChanged(change: CredentialExpiry): number {
    const sessions = [...(this.byCredential.get(change.credential) ?? [])];
    for (const session of sessions) {
      session.expiresAt = change.expiresAt;
      this.armExpiry(session);
    }
    return sessions.length;
  }

  /** Ends the sessions a credential change concerns; returns how many. */
  end(event: CredentialEnded): number {
    const sessions =
      event.credential === null
        ? event.accountId
          ? this.byAccount.get(event.accountId)
          : undefined
        : this.byCredential.get(this.credentialKey(event.accountId, event.credential));
    const ending = [...(sessions ?? [])];
    for (const session of ending) session.end(event.reason);
    return ending.length;
  }

  /**
   * A shared store's change feed was down, so notes of credentials ended on other nodes may be lost
   * ('feed-resumed'): every account and key with a live session here is checked against what is stored
   * now, and the store announces what ended as the writer did ('credential-ended').
   */
  async recheck(store: Store): Promise<void> {
    const held = new Map<string, (string | null | undefined)[]>();
    for (const [accountId, sessions] of this.byAccount)
      held.set(
        accountId,
        [...sessions].filter((s) => s.credential === 'password').map((s) => s.passwordHash),
      );
    const keyIds = [...this.byCredential.keys()].filter((credential) => !credential.startsWith('password:'));
    await store.accounts.recheck(held);
    await store.apiKeys.recheck(keyIds);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byCredential.values()) n += set.size;
    return n;
  }

  /** Password sessions are per account; a key id is unique on its own. */
  private credentialKey(accountId: string | null, credential: string): string {
    return credential === 'password' ? `password:${accountId}` : credential;
  }
}

const registries = new WeakMap<Store, SessionRegistry>();

/** The registry of the sessions over this store, fed by its 'credential-ended' announcements. */
export function sessionRegistry(store: Store): SessionRegistry {
  let registry = registries.get(store);
  if (!registry) {
    const created = new SessionRegistry();
    store.notifier.on('credential-ended', (event: CredentialEnded) => created.end(event));
    store.notifier.on('credential-expiry', (change: CredentialExpiry) => created.expiryChanged(change));
    // The database is away again: the next reconnect of the feed checks again.
    store.notifier.on('feed-resumed', () => void created.recheck(store).catch(() => {}));
    registries.set(store, (registry = created));
  }
  return registry;
}
