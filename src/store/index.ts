// Package store implements all persistence: repositories over one LevelDB (docs/ARCHITECTURE.md §4), a
// narrow interface that another engine could stand behind. Nothing here knows a protocol.
// Invariants: a write is one Tx built without an await and committed durably (sync, group commit) in
// submission order; UIDs, MODSEQs, global sequences and blob refcounts are owned in memory and written
// in the batch that uses them; an event is written in the batch of the change it reports; notifications
// fire only after commit; reads that must agree go through one view (snapshot). May import mime and base.
import { Accounts } from './accounts.ts';
import { Addresses } from './addresses.ts';
import { ApiKeys } from './api-keys.ts';
import { Blobs, blobHash } from './blobs.ts';
import { Counters } from './counters.ts';
import { Kv, Notifier } from './db.ts';
import { type Engine, StoreReadError } from './engine.ts';
import { openEngine } from './copy.ts';
import { isDirectoryKey } from './directory.ts';
import { Domains } from './domains.ts';
import type { NewEvent } from './events.ts';
import { Events } from './events.ts';
import { Folders, StoreError } from './folders.ts';
import { Fulltext } from './fulltext.ts';
import { Messages } from './messages.ts';
import { KeyedMutex } from './mutex.ts';
import { Queue } from './queue.ts';
import { Sends } from './sends.ts';
import { RecentWatermarks } from './recent.ts';
import { SpamCounts } from './spam.ts';
import { TeamTallies } from './team-tallies.ts';
import { Teams } from './teams.ts';
import { Tx, decode } from './tx.ts';
import { keys, prefixRange, ranges, unhex } from './keys.ts';
import { StoreConflictError, StoreUnavailableError, withRetries } from './committer.ts';
import { StoreView } from './view.ts';
import type { Account, Folder, Message, StoredEvent } from './types.ts';
import { indexMessage } from '../mime/index.ts';
import type { MessageIndex } from '../mime/types.ts';

export * from './types.ts';
export { canonicalFlag, hasFlag, SYSTEM_FLAGS, uniqueFlags } from './flags.ts';
export { StoreConflictError, StoreError, StoreReadError, StoreUnavailableError, StoreView, Tx };

export interface DeliveryTarget {
  folder: Folder;
  flags?: string[];
  quotaBytes?: number; // 0 or absent: unlimited
}

/** The bytes an account's folders hold, as the quota check of an append sees them (Store.commitAppends). */
type Usage = (accountId: string) => number;

export interface Delivered {
  folder: Folder;
  message: Message;
}

/** One message of an appendMany batch. */
export interface Upload {
  raw: Buffer;
  flags?: string[];
  internalDate?: number;
}

export interface DeliveryOptions {
  internalDate?: number;
  index?: MessageIndex; // when the caller already parsed the message
  /** Events to write in the same batch, built from what was delivered. */
  events?: (delivered: Delivered[]) => NewEvent[];
}

export class Store {
  readonly kv: Kv;
  readonly notifier = new Notifier();
  readonly counters: Counters;
  readonly blobs: Blobs;
  readonly folders: Folders;
  readonly messages: Messages;
  readonly fulltext: Fulltext;
  readonly teams: Teams;
  readonly domains: Domains;
  readonly addresses: Addresses;
  readonly accounts: Accounts;
  readonly apiKeys: ApiKeys;
  /** What counts against each team's limits (mailboxes, domains, API keys), claimed in the batch that adds one. */
  readonly tallies: TeamTallies;
  readonly events: Events;
  readonly queue: Queue;
  readonly spam: SpamCounts;
  /** Per-sender sending budgets, shared by SMTP submission and the Sending API. */
  readonly sends: Sends;
  /** Shared store only: \Recent watermarks agreed between nodes (imap/recent.ts keeps them in memory otherwise). */
  readonly recentWatermarks?: RecentWatermarks;
  /** Serialises directory changes (domains, addresses, accounts) so uniqueness checks hold. */
  readonly directory = new KeyedMutex();

  private constructor(kv: Kv) {
    this.kv = kv;
    this.counters = new Counters(kv);
    this.blobs = new Blobs(kv);
    this.folders = new Folders(kv, this.counters, this.notifier);
    this.messages = new Messages(kv, this.folders, this.blobs, this.notifier);
    this.fulltext = new Fulltext(kv, this.folders, this.blobs, (id) => this.messages.listShared(id));
    this.messages.onRemoveFolder = (tx, id) => this.fulltext.removeFolder(tx, id);
    this.messages.onChanged = (id, expunged) => this.fulltext.changed(id, expunged);
    this.teams = new Teams(kv);
    this.tallies = new TeamTallies(kv);
    this.domains = new Domains(kv, this.directory, this.tallies);
    this.addresses = new Addresses(kv);
    this.accounts = new Accounts(
      kv,
      this.addresses,
      this.folders,
      this.messages,
      this.directory,
      this.notifier,
      this.tallies,
    );
    this.apiKeys = new ApiKeys(kv, this.notifier, this.tallies);
    this.events = new Events(kv, this.counters, this.notifier);
    this.queue = new Queue(kv, this.counters, this.blobs, this.events, this.notifier);
    this.spam = new SpamCounts(kv);
    this.sends = new Sends(kv);
    kv.committer.onFailure(() => this.recover());
    if (kv.engine.shared) {
      this.recentWatermarks = new RecentWatermarks(kv);
      this.kv.refresh = this.messages.refresh = (conflict) => this.refresh(conflict);
      kv.engine.shared.watch((changed) => void this.foreignCommit(changed));
    }
  }

  // ---- shared store (docs/ARCHITECTURE.md §4.8): several nodes on one database ----

  /** Serialises the reloads of one folder (a note and a conflict may ask at once). */
  private readonly refreshing = new KeyedMutex();

  /**
   * After a StoreConflictError: makes memory what the database has for `stale` (folder snapshots,
   * blob counts, sequences, folder names), so the operation starts again from there.
   */
  async refresh(conflict: StoreConflictError): Promise<void> {
    let allFolders = false;
    for (const key of conflict.keys) {
      // Reloaded since the batch was built (another operation's conflict did it, or does it now):
      // waiting for that reload is enough.
      const seen = conflict.generations.get(key);
      if (seen !== undefined && seen !== this.kv.generation(key)) {
        await this.refreshing.run(key, async () => {});
        continue;
      }
      if (key.startsWith('f/')) await this.reloadFolder(key, true);
      else if (key.startsWith('br/'))
        await this.refreshing.run(key, async () => this.blobs.reload(key.slice(3), await this.kv.quiesce(key)));
      else if (key.startsWith('n/')) await this.counters.refill(key.slice(2));
      else if (key.startsWith('fn/'))
        allFolders = true; // another node made a folder of that name
      else if (isDirectoryKey(key)) this.kv.directory.forget([key]); // another node took the name
    }
    if (allFolders) await this.reloadAllFolders().catch(() => {}); // the database is away: the retry fails
  }

  /**
   * A note of the change feed: what other nodes committed (`+f/…`, `-f/…` folders, `~key` directory
   * records and lists and Bayes totals, `!n/event` events, `^fm/…` full-text runs, or `*`: anything).
   */
  private async foreignCommit(changed: string[]): Promise<void> {
    try {
      const directory = changed.filter((note) => note.startsWith('~')).map((note) => note.slice(1));
      // What this node held of the accounts written, to tell a changed password or state from other edits.
      const accounts = directory
        .filter((key) => key.startsWith('u/'))
        .map((key) => [key.slice(2), this.kv.directory.cached<Account>(key)] as const);
      if (directory.length) {
        this.kv.directory.forget(directory);
        this.spam.forgetTotals(directory);
      }
      if (changed.includes('*') || changed.includes(`!${keys.counter('event')}`)) void this.events.catchUp();
      for (const note of changed) if (note.startsWith('^fm/')) this.fulltext.foreign(unhex(note.slice(4)));
      // Credentials ended on another node end this node's sessions too (§4.8).
      for (const [id, before] of accounts) await this.accounts.changedElsewhere(id, before);
      for (const key of directory) if (key.startsWith('k/')) await this.apiKeys.changedElsewhere(key.slice(2));
      if (changed.includes('*')) {
        this.kv.directory.clear(); // notes may have been lost while the feed was down
        this.apiKeys.forgetAll();
        // Live sessions are checked against the stored accounts and keys (security/sessions.ts).
        this.notifier.emit('feed-resumed');
        this.spam.foreignAll();
        this.fulltext.foreign('*');
        return await this.reloadAllFolders();
      }
      for (const note of changed) if (note[0] === '+' || note[0] === '-') await this.reloadFolder(note.slice(1), false);
    } catch {
      // The database is away: the next conflict or note reloads again.
    }
  }

  /** Every folder stored or held, reloaded where another node changed it. */
  private async reloadAllFolders(): Promise<void> {
    const stored = await this.kv.keys(ranges.allFolders());
    const known = [...this.folderKeys()];
    for (const key of new Set([...stored, ...known])) await this.reloadFolder(key, false);
  }

  private *folderKeys(): Iterable<string> {
    for (const accountId of this.folders.accounts())
      for (const folder of this.folders.list(accountId)) yield keys.folder(folder.accountId, folder.id);
  }

  /**
   * Reads the folder's stored snapshot and adopts it unless memory is already there or ahead (this
   * node's own commits in flight; `force` after a conflict adopts it whatever memory says), then
   * announces the changes the other nodes made to it.
   */
  private reloadFolder(key: string, force: boolean): Promise<void> {
    return this.refreshing.run(key, async () => {
      if (!force) {
        const bytes = await this.kv.getBytes(key);
        if (bytes && this.folders.covers(decode<Folder>(bytes)!)) return; // this node wrote it
      }
      const done = await this.kv.quiesce(key);
      let adopted: ReturnType<Folders['adopt']>;
      try {
        adopted = this.folders.adopt(key, await this.kv.getBytes(key));
      } finally {
        done();
      }
      const { before, after } = adopted;
      if (after) await this.messages.foreignChanges(after, before?.highestModSeq ?? 0);
      else if (before) {
        this.messages.foreignRemoval(before.id);
        this.notifier.emit('folder-deleted', before);
      }
    });
  }

  /**
   * After a failed write: reopens the database, then makes what memory keeps (counters, folders,
   * refcounts, cached lists, the directory, spam models, send counts) what the disk has, since memory counted in batches that
   * never reached it. The reads come first; the replacement happens at once, with no await between
   * it and the committer taking writes again, so every later batch starts from the disk's state.
   */
  private async recover(): Promise<void> {
    await this.kv.reopen();
    const shas = this.blobs.loaded();
    const [counters, folders, refs] = await Promise.all([
      this.kv.entries<number>(prefixRange('n/')),
      this.kv.engine.entries(ranges.allFolders()),
      this.kv.getMany<number>(shas.map(keys.blobRefs)),
    ]);
    this.counters.reset(counters);
    this.kv.directory.clear();
    this.folders.reset(folders);
    this.blobs.reset(shas, refs);
    this.messages.forgetCached();
    this.fulltext.forget();
    this.spam.forget();
    this.sends.forgetAll();
  }

  /**
   * Opens the store: on LevelDB in `dir`, or, with `postgresUrl`, on that PostgreSQL database (then
   * `dir` is unused), or over an engine already open. `directoryBytes` bounds the directory cache.
   */
  static async open(
    dir: string,
    options: {
      groupCommit?: boolean;
      postgresUrl?: string;
      shared?: boolean;
      engine?: Engine;
      directoryBytes?: number;
    } = {},
  ): Promise<Store> {
    const engine = options.engine ?? (await openEngine(dir, options.postgresUrl, { shared: options.shared }));
    const store = new Store(new Kv(engine, options.groupCommit ?? true, options.directoryBytes));
    await store.counters.load();
    await store.events.load();
    await store.folders.load();
    return store;
  }

  /**
   * Stores one message into one or more folders in a single durable batch: the blob (once), a
   * message record per folder, folder counters, change records and the events the caller asks for.
   * Resolves only when the batch is on disk. Throws StoreError('quota') if a target is over quota.
   */
  deliver(
    raw: Buffer,
    targets: DeliveryTarget[],
    options: DeliveryOptions = {},
  ): Promise<{ delivered: Delivered[]; events: StoredEvent[] }> {
    // Shared store: another node's commit to a target folder makes this one start again (§4.8).
    const once = (): ReturnType<Store['deliverOnce']> => this.deliverOnce(raw, targets, options);
    if (!this.kv.engine.shared) return once();
    return withRetries(this.messages.refresh, () =>
      this.messages.exclusive(
        targets.map((t) => t.folder.id),
        once,
      ),
    );
  }

  private async deliverOnce(
    raw: Buffer,
    targets: DeliveryTarget[],
    options: DeliveryOptions,
  ): Promise<{ delivered: Delivered[]; events: StoredEvent[] }> {
    const sha = blobHash(raw);
    await this.blobs.load(sha);
    let index = this.blobs.refCount(sha) === 0 ? (options.index ?? indexMessage(raw)) : undefined;
    let delivered: Delivered[] = [];
    let events: StoredEvent[] = [];
    // From here to commit() nothing awaits: allocation, refcounts and the batch stay in step.
    const build = (used: Usage): Tx => {
      if (this.blobs.refCount(sha) === 0) index ??= options.index ?? indexMessage(raw); // freed meanwhile
      const tx = new Tx();
      delivered = [];
      for (const target of targets) {
        if (target.quotaBytes && used(target.folder.accountId) + raw.length > target.quotaBytes) {
          throw new StoreError('quota', `mailbox ${target.folder.accountId} is over quota`);
        }
      }
      for (const target of targets) {
        this.blobs.addRef(tx, sha, index && { raw, index });
        const message = this.messages.append(
          tx,
          target.folder,
          { sha, size: raw.length },
          target.flags ?? [],
          options.internalDate ?? Date.now(),
        );
        delivered.push({ folder: target.folder, message });
      }
      events = (options.events?.(delivered) ?? []).map((e) => this.events.append(tx, e));
      return tx;
    };
    await this.commitAppends(
      targets.map((t) => t.folder),
      [sha],
      build,
      targets.filter((t) => t.quotaBytes).map((t) => t.folder.accountId),
    );
    return { delivered, events };
  }

  /**
   * Commits a batch of appends. On a shared store (§4.8) it is built inside the commit's transaction
   * from the folders' snapshots and blob counts as stored (another node's deliveries included), so it
   * takes the next UIDs there and cannot conflict; what it learnt of other nodes' changes is announced
   * before its own. `build` gets the bytes each account uses: with `quotaAccounts` on a shared store,
   * summed from all their folders' snapshots as stored, read and locked in that transaction, so two
   * nodes appending to different folders of one mailbox cannot both take its last room.
   */
  private async commitAppends(
    folders: Folder[],
    shas: string[],
    build: (used: Usage) => Tx,
    quotaAccounts: string[] = [],
  ): Promise<void> {
    const inMemory: Usage = (accountId) => this.folders.usage(accountId).bytes;
    if (!this.kv.engine.shared) {
      await this.kv.commit(build(inMemory));
      return;
    }
    const folderKeys = folders.map((f) => keys.folder(f.accountId, f.id));
    const quotaKeys = [...new Set(quotaAccounts)].flatMap((id) =>
      this.folders.list(id).map((f) => keys.folder(id, f.id)),
    );
    const reads = [...new Set([...folderKeys, ...quotaKeys])];
    const foreign: [Folder, number, number][] = [];
    const tx = await this.kv.commitBuilt([...reads, ...shas.map(keys.blobRefs)], (stored) => {
      foreign.length = 0;
      folders.forEach((folder, i) => {
        const before = this.folders.sync(folder, stored.get(folderKeys[i]!));
        if (before !== undefined) foreign.push([folder, before, folder.highestModSeq]);
      });
      for (const sha of shas) this.blobs.sync(sha, stored.get(keys.blobRefs(sha)));
      // The other folders' memory is not taken from here (this node may have writes to them in flight).
      const asStored: Usage = (accountId) =>
        this.folders
          .list(accountId)
          .reduce((n, f) => n + (decode<Folder>(stored.get(keys.folder(accountId, f.id)))?.size ?? 0), 0);
      return build(quotaKeys.length ? asStored : inMemory);
    });
    for (const [folder, from, to] of foreign) await this.messages.foreignChanges(folder, from, to);
    for (const fn of tx.afterCommit) fn();
  }

  /**
   * Appends several messages to one folder in a single durable batch (IMAP MULTIAPPEND): all of them
   * get consecutive UIDs in the given order, or, on a quota error or a failed write, none is stored.
   */
  appendMany(folder: Folder, uploads: Upload[], quotaBytes = 0): Promise<Message[]> {
    const once = (): Promise<Message[]> => this.appendOnce(folder, uploads, quotaBytes);
    if (!this.kv.engine.shared) return once();
    return withRetries(this.messages.refresh, () => this.messages.exclusive([folder.id], once));
  }

  private async appendOnce(folder: Folder, uploads: Upload[], quotaBytes: number): Promise<Message[]> {
    const shas = uploads.map((u) => blobHash(u.raw));
    await Promise.all([...new Set(shas)].map((sha) => this.blobs.load(sha)));
    // From here to commit() nothing awaits, as in deliver().
    const bytes = uploads.reduce((n, u) => n + u.raw.length, 0);
    let messages: Message[] = [];
    const build = (used: Usage): Tx => {
      if (quotaBytes && used(folder.accountId) + bytes > quotaBytes) {
        throw new StoreError('quota', `mailbox ${folder.accountId} is over quota`);
      }
      const tx = new Tx();
      messages = uploads.map((upload, i) => {
        const sha = shas[i]!;
        const index = this.blobs.refCount(sha) === 0 ? indexMessage(upload.raw) : undefined;
        this.blobs.addRef(tx, sha, index && { raw: upload.raw, index });
        return this.messages.append(
          tx,
          folder,
          { sha, size: upload.raw.length },
          upload.flags ?? [],
          upload.internalDate ?? Date.now(),
        );
      });
      return tx;
    };
    await this.commitAppends([folder], [...new Set(shas)], build, quotaBytes ? [folder.accountId] : []);
    return messages;
  }

  /** Raw bytes of a stored message, or a byte range of it. */
  read(message: Message, start = 0, end = message.size): Promise<Buffer> {
    return this.blobs.read(message.blob, message.size, start, end);
  }

  /** A consistent view for reads that span several awaits (see StoreView); close it when done. */
  view(): StoreView {
    return new StoreView(this.kv.snapshot(), this.messages, this.blobs, this.fulltext);
  }

  /** Runs `fn` with a view and closes the view afterwards, whatever happens. */
  async withView<T>(fn: (view: StoreView) => Promise<T>): Promise<T> {
    const view = this.view();
    try {
      return await fn(view);
    } finally {
      await view.close();
    }
  }

  createFolder(accountId: string, name: string, specialUse: Folder['specialUse'] = null): Promise<Folder> {
    // Shared store: a name another node just took shows as `exists` on the retry (§4.8).
    return withRetries(this.messages.refresh, async () => {
      const tx = new Tx();
      const folder = this.folders.create(tx, accountId, name, specialUse);
      await this.kv.commit(tx);
      return folder;
    });
  }

  deleteFolder(folder: Folder): Promise<void> {
    return withRetries(this.messages.refresh, async () => {
      const tx = new Tx();
      await this.messages.removeAll(tx, folder); // the full-text keys too (onRemoveFolder)
      this.folders.remove(tx, folder);
      await this.kv.commit(tx);
    });
  }

  /** Writes an event alone (resource changes that have no other record in the batch). */
  async emit(event: NewEvent): Promise<StoredEvent> {
    const tx = new Tx();
    const stored = this.events.append(tx, event);
    await this.kv.commit(tx);
    return stored;
  }

  async close(): Promise<void> {
    await this.fulltext.close();
    return this.kv.close();
  }
}
