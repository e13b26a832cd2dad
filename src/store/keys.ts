// The keyspace (docs/ARCHITECTURE.md §4.1). Keys are UTF-8 strings: a short prefix per record kind, then
// fixed-width lower-case hex numbers so that LevelDB's byte order is numeric order in range scans.

export const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
export const unhex = (s: string): number => parseInt(s, 16);

const UID = 8; // uint32
const SEQ = 12; // up to 2^48: modseq, event and job sequences
const FOLDER = 8;

export const keys = {
  counter: (name: string) => `n/${name}`,
  /** Written and deleted to see whether the disk takes writes again after a failure (db.ts). */
  writeProbe: () => 'x/write-probe',
  /** The console's admin password hash (`wrenmail admin passwd`). */
  adminPassword: () => 'cfg/admin-password',
  team: (teamId: string) => `t/${teamId}`,
  domain: (domain: string) => `d/${domain}`,
  teamDomain: (teamId: string, domain: string) => `td/${teamId}/${domain}`,
  address: (address: string) => `a/${address}`,
  account: (accountId: string) => `u/${accountId}`,
  teamAccount: (teamId: string, accountId: string) => `tu/${teamId}/${accountId}`,
  /** What counts against one of the team's limits (team-tallies.ts): `mailboxes`, `domains`, `api-keys`. */
  teamTally: (teamId: string, kind: string) => `tn/${teamId}/${kind}`,
  folder: (accountId: string, folderId: number) => `f/${accountId}/${hex(folderId, FOLDER)}`,
  folderName: (accountId: string, name: string) => `fn/${accountId}/${name}`,
  /** A subscribed name with no folder (deleted while subscribed, or subscribed before it existed). */
  subscription: (accountId: string, name: string) => `fs/${accountId}/${name}`,
  message: (folderId: number, uid: number) => `m/${hex(folderId, FOLDER)}/${hex(uid, UID)}`,
  /** Shared store: the highest UID some session was told of as \Recent (recent.ts). */
  recentWatermark: (folderId: number) => `rw/${hex(folderId, FOLDER)}`,
  change: (folderId: number, modseq: number) => `c/${hex(folderId, FOLDER)}/${hex(modseq, SEQ)}`,
  blobChunk: (sha: string, chunk: number) => `b/${sha}/${hex(chunk, 4)}`,
  blobRefs: (sha: string) => `br/${sha}`,
  blobIndex: (sha: string) => `bi/${sha}`,
  blobSearch: (sha: string) => `bs/${sha}`,
  /** The search fields without the body text: what SEARCH FROM/SUBJECT, SORT and THREAD read. */
  blobHeaders: (sha: string) => `bh/${sha}`,
  /** ENVELOPE and BODYSTRUCTURE as IMAP FETCH sends them, formatted at delivery (Blobs.fetchItems). */
  blobFetchItems: (sha: string) => `be/${sha}`,
  /** Full-text index (fulltext.ts): a content's folded searchable text. */
  fulltext: (sha: string) => `ft/${sha}`,
  /** A run of a folder's word index: the words of its messages and, per word, their UIDs. */
  fulltextRun: (folderId: number, firstUid: number) => `fr/${hex(folderId, FOLDER)}/${hex(firstUid, UID)}`,
  /** The runs a folder has as stored ([first, last, count] each): what nodes sharing a store compare and expect. */
  fulltextMap: (folderId: number) => `fm/${hex(folderId, FOLDER)}`,
  /** Watermarks of the trigram layouts before the word index: their folders are indexed again. */
  legacyFulltextMarks: (folderId: number) => [`fv/${hex(folderId, FOLDER)}`, `fw/${hex(folderId, FOLDER)}`],
  apiKey: (publicId: string) => `k/${publicId}`,
  apiKeyHash: (secretHash: string) => `kh/${secretHash}`,
  teamApiKey: (teamId: string, publicId: string) => `tk/${teamId}/${publicId}`,
  event: (seq: number) => `e/${hex(seq, SEQ)}`,
  teamEvent: (teamId: string, seq: number) => `et/${teamId}/${hex(seq, SEQ)}`,
  accountEvent: (accountId: string, seq: number) => `ea/${accountId}/${hex(seq, SEQ)}`,
  queue: (dueAt: number, jobId: string) => `q/${hex(dueAt, SEQ)}/${jobId}`,
  queueJob: (jobId: string) => `qj/${jobId}`,
  relay: (relayId: string) => `rl/${relayId}`,
  relayGroup: (groupId: string) => `rg/${groupId}`,
  relayRoute: (scope: string) => `rr/${scope}`,
  relayUsage: (relayId: string, day: string) => `ru/${relayId}/${day}`,
  accountAlias: (accountId: string, address: string) => `ua/${accountId}/${address}`,
  list: (listId: string) => `l/${listId}`,
  teamList: (teamId: string, listId: string) => `tl/${teamId}/${listId}`,
  idempotency: (scope: string) => `i/${scope}`,
  idempotencyExpiry: (expiresAt: number, scope: string) => `ix/${hex(expiresAt, SEQ)}/${scope}`,
  /** Greylisting (greylist.ts): a first attempt waiting for its retry, a source that retried, their expiry index. */
  greylistAttempt: (triplet: string) => `gl/${triplet}`,
  greylistPass: (source: string) => `gp/${source}`,
  greylistExpiry: (expiresAt: number, key: string) => `gx/${hex(expiresAt, SEQ)}/${key}`,
  /** Bayesian spam model; scope 's' is the server-wide model, 'u/<accountId>' one account's. */
  spamTotals: (scope: string) => `sp/${scope}/n`,
  spamToken: (scope: string, token: string) => `sp/${scope}/t/${token}`,
  spamRecord: (scope: string, sha: string) => `sp/${scope}/r/${sha}`,
  /** A shared store's log of the token counts one training batch wrote (version `v` of the totals). */
  spamLog: (scope: string, v: number) => `sp/${scope}/v/${String(v).padStart(12, '0')}`,
  /** A mailbox's URLAUTH access key (RFC 4467 7; urlauth-keys.ts). */
  urlAuthKey: (accountId: string, folderId: number) => `uak/${accountId}/${hex(folderId, FOLDER)}`,
};

/** Range bounds for every key that starts with `prefix`. */
export const prefixRange = (prefix: string) => ({ gte: prefix, lt: `${prefix}\xff` });

/** Prefixes of the trigram layouts (postings, per-folder texts, segments; `fp/` the first one). */
const LEGACY_FULLTEXT = ['fq', 'fu', 'fx', 'fp'];

export const ranges = {
  teamApiKeys: (teamId: string) => prefixRange(`tk/${teamId}/`),
  accountFolders: (accountId: string) => prefixRange(`f/${accountId}/`),
  allFolders: () => prefixRange('f/'),
  allSubscriptions: () => prefixRange('fs/'),
  blobChunks: (sha: string) => prefixRange(`b/${sha}/`),
  folderMessages: (folderId: number, fromUid = 1) => ({
    gte: keys.message(folderId, fromUid),
    lt: `m/${hex(folderId, FOLDER)}/\xff`,
  }),
  fulltextRuns: (folderId: number) => prefixRange(`fr/${hex(folderId, FOLDER)}/`),
  /** Every full-text key of a folder: its runs, and the postings, texts and segments of older layouts. */
  fulltextFolder: (folderId: number) =>
    ['fr', ...LEGACY_FULLTEXT].map((p) => prefixRange(`${p}/${hex(folderId, FOLDER)}/`)),
  legacyFulltextFolder: (folderId: number) => LEGACY_FULLTEXT.map((p) => prefixRange(`${p}/${hex(folderId, FOLDER)}/`)),
  folderChanges: (folderId: number, afterModseq: number) => ({
    gt: keys.change(folderId, afterModseq),
    lt: `c/${hex(folderId, FOLDER)}/\xff`,
  }),
  events: (afterSeq: number) => ({ gt: keys.event(afterSeq), lt: 'e/\xff' }),
  teamEvents: (teamId: string, afterSeq: number) => ({ gt: keys.teamEvent(teamId, afterSeq), lt: `et/${teamId}/\xff` }),
  accountEvents: (accountId: string, afterSeq: number) => ({
    gt: keys.accountEvent(accountId, afterSeq),
    lt: `ea/${accountId}/\xff`,
  }),
  /** Queue index entries due at or before `until` (ms), earliest first. */
  queueDue: (until: number) => ({ gte: 'q/', lt: `q/${hex(until + 1, SEQ)}` }),
  queueIndex: () => prefixRange('q/'),
  queueJobs: (afterJobId?: string) =>
    afterJobId ? { gt: keys.queueJob(afterJobId), lt: 'qj/\xff' } : prefixRange('qj/'),
  relays: () => prefixRange('rl/'),
  relayGroups: () => prefixRange('rg/'),
  teamLists: (teamId: string) => prefixRange(`tl/${teamId}/`),
  /** Idempotency records that expired at or before `until` (ms). */
  idempotencyExpired: (until: number) => ({ gte: 'ix/', lt: `ix/${hex(until + 1, SEQ)}` }),
  /** Greylisting expiry entries at or before `until` (ms). */
  greylistExpired: (until: number) => ({ gte: 'gx/', lt: `gx/${hex(until + 1, SEQ)}` }),
  /** Tokens are any UTF-8, so the bound is the next character after '/', not '\xff'. */
  accountUrlAuthKeys: (accountId: string) => prefixRange(`uak/${accountId}/`),
  spamTokens: (scope: string) => ({ gte: `sp/${scope}/t/`, lt: `sp/${scope}/t0` }),
  /** The log entries of versions `from`…`to` (spamLog). */
  spamLog: (scope: string, from: number, to: number) => ({
    gte: keys.spamLog(scope, from),
    lte: keys.spamLog(scope, to),
  }),
};

/** The prefixes of the key lists the directory cache holds whole (directory.ts), read as prefixRange(prefix). */
export const listPrefixes = {
  teams: () => 't/',
  teamDomains: (teamId: string) => `td/${teamId}/`,
  teamAccounts: (teamId: string) => `tu/${teamId}/`,
  accountAliases: (accountId: string) => `ua/${accountId}/`,
};

/** Last fixed-width hex segment of a key, as a number. */
export const lastNumber = (key: string): number => unhex(key.slice(key.lastIndexOf('/') + 1));
