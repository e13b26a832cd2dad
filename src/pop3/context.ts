// What every POP3 session shares with the server that accepted it.
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginService } from '../security/login.ts';
import type { Store } from '../store/index.ts';

export interface Pop3Limits {
  maxConnectionsPerIp: number;
  /** RFC 1939 asks for an autologout timer of at least 10 minutes. */
  idleTimeoutMs: number;
}

export interface Pop3Context {
  store: Store;
  login: LoginService;
  tlsContext: SecureContext;
  hostname: string;
  allowPlainAuthWithoutTls: boolean;
  limits: Pop3Limits;
  logger?: Logger;
  /** Takes the account's maildrop lock for `owner`; false when another session holds it. */
  lock(accountId: string, owner: object): boolean;
  unlock(accountId: string, owner: object): void;
}
