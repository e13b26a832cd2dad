// Console sessions: what a browser's cookie stands for. The browser never holds a secret (no key, no
// password): its HttpOnly cookie names a session kept here, in memory, and each request resolves
// that session afresh to the principal behind it, so a revoked key, a changed password or a
// suspended mailbox ends the session on its next request.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PRESETS } from '../security/permissions.ts';
import type { Account, ApiKey, Store } from '../store/index.ts';

export const SESSION_COOKIE = 'wm_console';
/** Idle sessions end after an hour; none lives longer than twelve. */
const IDLE_MS = 60 * 60_000;
const MAX_AGE_MS = 12 * 60 * 60_000;

export type SessionSource =
  | { kind: 'key'; keyId: string }
  | { kind: 'admin'; teamId: string; stamp: string }
  | { kind: 'owner'; accountId: string; stamp: string };

interface Session {
  id: string;
  csrf: string;
  source: SessionSource;
  createdAt: number;
  seenAt: number;
}

/** What a stored password hash (or its absence) stands for, without keeping the hash itself. */
export const passwordStamp = (hash: string | null | undefined): string =>
  createHash('sha256')
    .update(hash ?? '')
    .digest('base64url');

/** The principal of an admin-password session: a root:full key that exists only for this request. */
export function adminPrincipal(id: string, teamId: string, createdAt: number): ApiKey {
  return {
    id,
    teamId,
    type: 'root',
    name: 'console (admin password)',
    prefix: '',
    permissions: PRESETS['root:full']!,
    accountId: null,
    domain: null,
    createdAt,
    lastUsedAt: null,
    revokedAt: null,
    expiresAt: null,
  };
}

/** The principal of a mailbox owner's session: exactly what a mailbox key of that mailbox may do. */
export function ownerPrincipal(id: string, account: Account, createdAt: number): ApiKey {
  return {
    id,
    teamId: account.teamId,
    type: 'mailbox',
    name: 'console (mailbox password)',
    prefix: '',
    permissions: PRESETS['mailbox:full']!,
    accountId: account.id,
    domain: null,
    createdAt,
    lastUsedAt: null,
    revokedAt: null,
    expiresAt: null,
  };
}

export interface ResolvedSession {
  id: string;
  csrf: string;
  kind: SessionSource['kind'];
  principal: ApiKey;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, Session>();
  private readonly store: Store;
  /** The admin password's current stamp (null: none set). */
  private readonly adminStamp: () => Promise<string | null>;

  constructor(store: Store, adminStamp: () => Promise<string | null>) {
    this.store = store;
    this.adminStamp = adminStamp;
  }

  create(source: SessionSource): { id: string; csrf: string } {
    this.sweep();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      source,
      createdAt: Date.now(),
      seenAt: Date.now(),
    };
    this.sessions.set(session.id, session);
    return { id: session.id, csrf: session.csrf };
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  /** The live session for a cookie value, or undefined (and the session forgotten) when what it stood for is gone. */
  async resolve(id: string): Promise<ResolvedSession | undefined> {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    const now = Date.now();
    if (now - session.seenAt > IDLE_MS || now - session.createdAt > MAX_AGE_MS) return this.drop(id);
    const principal = await this.principal(session);
    if (!principal) return this.drop(id);
    session.seenAt = now;
    return { id, csrf: session.csrf, kind: session.source.kind, principal };
  }

  /** Does a presented token match the session's (constant time)? */
  static csrfMatches(session: ResolvedSession, presented: string): boolean {
    const a = Buffer.from(session.csrf);
    const b = Buffer.from(presented);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async principal({ id, source, createdAt }: Session): Promise<ApiKey | undefined> {
    // Its own id per session (never a stored key's): rate limits and idempotency keep sessions apart.
    const principalId = `key_session_${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
    switch (source.kind) {
      case 'key': {
        const key = await this.store.apiKeys.get(source.keyId);
        if (!key || key.revokedAt || (key.expiresAt && key.expiresAt < Date.now()) || key.type !== 'root')
          return undefined;
        return key;
      }
      case 'admin':
        return (await this.adminStamp()) === source.stamp
          ? adminPrincipal(principalId, source.teamId, createdAt)
          : undefined;
      case 'owner': {
        const account = await this.store.accounts.get(source.accountId);
        if (account?.state !== 'active' || passwordStamp(account.passwordHash) !== source.stamp) return undefined;
        return ownerPrincipal(principalId, account, createdAt);
      }
    }
  }

  private drop(id: string): undefined {
    this.sessions.delete(id);
    return undefined;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions)
      if (now - s.seenAt > IDLE_MS || now - s.createdAt > MAX_AGE_MS) this.sessions.delete(id);
  }
}
