// Records as stored. Public ids (dom_, mbx_, key_, evt_ …) are made from these in the API layer.

export interface Team {
  id: string;
  name: string;
  limits: { maxApiKeys: number; maxDomains: number; maxMailboxes: number };
  createdAt: number;
}

export interface DkimKey {
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  privateKey: string; // PEM
  publicKey: string; // base64 DER (the DNS p= value)
  createdAt: number;
  active: boolean;
}

/** Sender allow/deny lists (docs/API.md §12.5): patterns are addresses, `@domain`, `domain` or `*` wildcards. */
export interface SenderFilter {
  mode: 'off' | 'allowlist' | 'denylist';
  rules: { pattern: string; type: 'allow' | 'deny'; note?: string }[];
}

export interface Domain {
  name: string; // lower-case ASCII (A-label)
  teamId: string;
  catchAll: string | null; // account id receiving mail for unknown local parts
  dkim: DkimKey[];
  verifiedAt: number | null;
  createdAt: number;
  senderFilter?: SenderFilter;
}

/** What an address resolves to. */
export type AddressRoute =
  | { kind: 'account'; accountId: string; teamId: string }
  | { kind: 'alias'; targets: string[]; teamId: string } // local or external addresses
  | { kind: 'forward'; targets: string[]; keepCopy: string | null; teamId: string };

export interface FilterRule {
  field: 'from' | 'to' | 'subject' | 'header';
  header?: string;
  contains: string;
  action: 'folder' | 'flag' | 'discard';
  value?: string; // folder name or flag
}

/** The sending identity apps show: display name and signatures. */
export interface Identity {
  name?: string;
  textSignature?: string | null;
  htmlSignature?: string | null;
}

export interface Account {
  id: string;
  teamId: string;
  address: string;
  name: string;
  passwordHash: string | null;
  quotaBytes: number; // 0: unlimited
  state: 'active' | 'suspended';
  settings: {
    saveSent: boolean;
    plusFolders: boolean;
    filters: FilterRule[];
    senderFilter?: SenderFilter;
    identity?: Identity;
  };
  createdAt: number;
}

export type SpecialUse = '\\Drafts' | '\\Sent' | '\\Junk' | '\\Trash' | '\\Archive' | null;

export interface Folder {
  id: number;
  accountId: string;
  name: string; // UTF-8, hierarchy delimiter "/"
  specialUse: SpecialUse;
  subscribed: boolean;
  uidValidity: number;
  uidNext: number;
  highestModSeq: number;
  exists: number;
  unseen: number;
  size: number;
  createdAt: number;
}

export interface Message {
  uid: number;
  blob: string; // sha256 hex of the raw message
  size: number;
  internalDate: number; // ms since epoch
  /**
   * When the message was saved in this folder (ms since epoch): its save date (RFC 8514), which a copy
   * or move sets anew while the internal date travels with the message. Absent on records stored before
   * it was kept: read it through `saveDate()`.
   */
  savedAt?: number;
  flags: string[];
  modseq: number;
}

/** A message's save date; a record from before save dates were kept falls back on its internal date. */
export const saveDate = (m: Message): number => m.savedAt ?? m.internalDate;

export type ChangeKind = 'add' | 'flags' | 'expunge';
export interface Change {
  modseq: number;
  kind: ChangeKind;
  uids: number[];
}

export interface ApiKey {
  id: string; // public id: key_…
  teamId: string;
  type: 'root' | 'sending' | 'mailbox';
  name: string;
  prefix: string; // first characters of the secret, shown in listings
  suffix?: string; // its last 4 characters (keys made before suffixes were kept have none)
  permissions: string[];
  accountId: string | null; // mailbox keys: the one mailbox they reach
  domain: string | null; // sending keys may be limited to a domain
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  expiresAt: number | null;
  /**
   * The key that minted this one, when that key lacked `mailbox.admin.manage` (a mailbox key adding
   * an app password): revoking the parent revokes it too, so no key outlives its maker.
   */
  parentKeyId?: string | null;
  /** The key this one was rotated from (which works until it is revoked). */
  rotatedFrom?: string | null;
}

/**
 * A credential stopped being valid (notifier event 'credential-ended'): live sessions that logged in
 * with it must end. `credential` is an API key id, 'password' (the account's password changed), or
 * null for every session of the account (suspended or deleted).
 */
export interface CredentialEnded {
  accountId: string | null;
  credential: string | null;
  reason: string;
}

/** An API key's expiry changed (notifier event 'credential-expiry'): its live sessions end at the new time. */
export interface CredentialExpiry {
  credential: string;
  expiresAt: number | null;
}

export interface StoredEvent {
  seq: number;
  id: string; // evt_…
  type: string;
  time: number;
  teamId: string;
  accountId: string | null;
  data: Record<string, unknown>;
}

/** What a store change notifies in-process listeners of (IMAP sessions, SSE, webhooks). */
export interface FolderChange {
  accountId: string;
  folderId: number;
  kind: ChangeKind;
  uids: number[];
  modseq: number;
}
