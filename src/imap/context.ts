// What every session shares with the server that accepted it.
import type { SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { LoginService } from '../security/login.ts';
import type { Folder, Store } from '../store/index.ts';
import type { RecentTracker } from './recent.ts';
import type { UidLists } from './uid-lists.ts';
import type { Session } from './session.ts';
import type { MailboxEvent } from './notify.ts';

export interface ImapLimits {
  /** Longest command line, and the most a non-APPEND command may carry in literals. */
  maxLineBytes: number;
  /** Largest APPEND literal (advertised as APPENDLIMIT). */
  maxLiteralBytes: number;
  maxConnectionsPerIp: number;
  maxConnectionsPerAccount: number;
  /** Distinct keywords a mailbox (and so each message) may hold; adding more is NO [LIMIT]. */
  maxKeywordsPerMailbox: number;
  /** A connection with no input for this long is closed (RFC 9051 asks for at least 30 minutes). */
  idleTimeoutMs: number;
  /** In IDLE, an untagged OK this often: NATs and mobile networks drop connections that stay silent. */
  idleKeepaliveMs: number;
}

export interface ServerContext {
  store: Store;
  login: LoginService;
  tlsContext: SecureContext;
  hostname: string;
  allowPlainAuthWithoutTls: boolean;
  limits: ImapLimits;
  logger?: Logger;
  /** Told after a COPY/MOVE is durable (spam training from moves into and out of Junk). */
  onCopy?: (accountId: string, source: Folder, target: Folder, targetUids: number[]) => void;
  /** Told after a STORE is durable: UID → the flags each message gained (spam training from $Junk, $NotJunk). */
  onFlagsGained?: (accountId: string, folder: Folder, gained: Map<number, string[]>) => void;
  recent: RecentTracker;
  /** Selected folders' UID lists, shared by the sessions that see the same one. */
  uidLists: UidLists;
  watch(session: Session, folderId: number): void;
  unwatch(session: Session, folderId: number): void;
  /** Tells the account's other sessions that have NOTIFY set of a mailbox event made over IMAP. */
  mailboxEvent(origin: Session, event: MailboxEvent): void;
  addAccountSession(session: Session, accountId: string): boolean;
  removeAccountSession(session: Session, accountId: string): void;
}
