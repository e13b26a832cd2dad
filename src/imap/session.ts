// One IMAP connection: the state machine (RFC 3501 3) and the command loop; the selected mailbox's
// view (UID list for sequence numbers, changes waiting to be announced) is in selected.ts.
import { isLoopback } from '../security/net.ts';
import { metrics } from '../metrics/registry.ts';
import {
  StoreConflictError,
  StoreReadError,
  StoreUnavailableError,
  type Account,
  type FolderChange,
  type Message,
} from '../store/index.ts';
import { imapString } from '../mime/imap-syntax.ts';
import { Args, BadArguments } from './args.ts';
import { ImapError, type Reply, type State, type Status } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { decodeMutf7, encodeMutf7, Mutf7Error } from '../mime/mutf7.ts';
import { Framer, FramingError, parseCommand, ParseError, type Frame } from './parser.ts';
import { formatSequenceSet } from './sequence.ts';
import { reportAdditions, reportRemovals } from './search-context.ts';
import type { NotifySettings } from './notify.ts';
import type { ServerContext } from './context.ts';
import type { Transport } from '../net/transport.ts';
import type { Selected } from './selected.ts';

const MAX_BAD_COMMANDS = 20;

export class Session {
  readonly id: string;
  readonly ctx: ServerContext;
  readonly transport: Transport;
  readonly framer: Framer;
  readonly clientIp: string;
  state: State = 'notAuthenticated';
  account: Account | null = null;
  selected: Selected | null = null;
  /** ENABLEd extensions (upper case); CONDSTORE also turns on when a command uses it. */
  readonly enabled = new Set<string>();
  /** When set, the next input line goes here instead of the command parser (IDLE, AUTHENTICATE). */
  lineHandler: ((line: string) => Promise<void>) | null = null;
  /** Tag of the IDLE in progress. */
  idleTag: string | null = null;
  /** NOTIFY settings (RFC 5465); null: only the responses of RFC 3501. */
  notify: NotifySettings | null = null;
  /** NOTIFY output waiting for the command in progress to finish (never written into its responses). */
  private notifyQueue: (() => Promise<void> | void)[] = [];
  private processing = false;
  private badCommands = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private announcing: Promise<void> = Promise.resolve();
  private onCloseHooks: (() => void)[] = [];

  constructor(ctx: ServerContext, transport: Transport, id: string) {
    this.ctx = ctx;
    this.transport = transport;
    this.id = id;
    this.clientIp = transport.remoteAddress;
    this.framer = new Framer(ctx.limits, {
      continuation: () => this.send('+ Ready for literal data'),
      refuse: (tag, text) => this.send(`${tag} BAD ${text}`),
    });
    this.armIdleTimer();
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }

  get condstore(): boolean {
    return this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC');
  }

  /**
   * A CONDSTORE-enabling command (FETCH MODSEQ, SEARCH MODSEQ, STORE UNCHANGEDSINCE...) turns CONDSTORE
   * on; the first one in the selected state is told the mailbox's HIGHESTMODSEQ (RFC 7162 3.1).
   */
  useCondstore(): void {
    if (!this.condstore && this.selected)
      this.send(`* OK [HIGHESTMODSEQ ${this.selected.folder.highestModSeq}] Highest`);
    this.enabled.add('CONDSTORE');
  }

  get qresync(): boolean {
    return this.enabled.has('QRESYNC');
  }

  greet(): void {
    this.send(`* OK [CAPABILITY ${this.capabilities().join(' ')}] ${this.ctx.hostname} Wren Mail IMAP ready`);
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE'];
    if (this.state === 'notAuthenticated') {
      if (!this.transport.secure) caps.push('STARTTLS');
      if (this.plainAuthAllowed()) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
      else caps.push('LOGINDISABLED');
      return caps;
    }
    caps.push(
      'IDLE',
      'NOTIFY',
      'NAMESPACE',
      'UNSELECT',
      'UIDPLUS',
      'MULTIAPPEND',
      'CATENATE',
      'MOVE',
      'CHILDREN',
      'SPECIAL-USE',
      'LIST-EXTENDED',
      'LIST-STATUS',
      'STATUS=SIZE',
      'CONDSTORE',
      'QRESYNC',
      'ESEARCH',
      'SORT',
      'SORT=DISPLAY',
      'ESORT',
      'CONTEXT=SEARCH',
      'CONTEXT=SORT',
      'THREAD=ORDEREDSUBJECT',
      'THREAD=REFERENCES',
      'QUOTA',
      'QUOTA=RES-STORAGE',
      'SAVEDATE',
      `APPENDLIMIT=${this.ctx.limits.maxLiteralBytes}`,
      'BINARY',
      'UTF8=ACCEPT',
      'WITHIN',
      'URLAUTH',
      'URLAUTH=BINARY',
    );
    if (!this.transport.compressed) caps.push('COMPRESS=DEFLATE');
    return caps;
  }

  /** Passwords only over TLS; the opt-in exception is for local tools on loopback, never a remote client. */
  plainAuthAllowed(): boolean {
    return this.transport.secure || (this.ctx.allowPlainAuthWithoutTls && isLoopback(this.clientIp));
  }

  // ---- output ----

  /** Writes one response line; false when the client is not keeping up (await drain()). */
  send(line: string): boolean {
    return this.transport.write(`${line}\r\n`);
  }

  write(data: string | Buffer): boolean {
    return this.transport.write(data);
  }

  /** Several buffers written as they are, in one go (see Transport.writeAll). */
  writeAll(chunks: readonly Buffer[]): boolean {
    return this.transport.writeAll(chunks);
  }

  drain(): Promise<void> {
    return this.transport.drain();
  }

  /** A mailbox name as sent to this client: modified UTF-7 unless UTF-8 was enabled. */
  mailboxName(name: string): string {
    return imapString(this.utf8 ? name : encodeMutf7(name));
  }

  /** A mailbox name as the client sent it, in the store's UTF-8 form. */
  parseMailboxName(raw: string): string {
    let name = raw;
    if (!this.utf8) {
      try {
        name = decodeMutf7(raw);
      } catch (err) {
        // a well-formed astring naming no possible mailbox: NO, as for any other missing name
        if (err instanceof Mutf7Error) throw new ImapError('NO', err.message, 'NONEXISTENT');
        throw err;
      }
    }
    name = name.normalize('NFC');
    if (name.length > 1 && name.endsWith('/')) name = name.slice(0, -1);
    return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  // ---- input ----

  onData(chunk: Buffer): void {
    if (this.state === 'logout') return; // after BYE nothing more is read (a framing error, LOGOUT)
    this.armIdleTimer();
    this.framer.feed(chunk);
    if (this.processing && this.framer.buffered > this.ctx.limits.maxLineBytes * 2) this.transport.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.transport.closed && this.state !== 'logout') {
        let frame: Frame | null;
        try {
          frame = this.framer.next(this.lineHandler !== null);
        } catch (err) {
          if (!(err instanceof FramingError)) throw err;
          this.bye(err.message);
          return;
        }
        if (!frame) break;
        await this.announcing; // unsolicited output already under way finishes before the command starts
        await this.handleFrame(frame);
      }
    } catch (err) {
      this.ctx.logger?.error({ err, session: this.id }, 'imap session failed');
      this.bye('Internal error');
    } finally {
      this.processing = false;
      if (!this.transport.closed) this.transport.resume();
    }
  }

  private async handleFrame(frame: Frame): Promise<void> {
    if (this.lineHandler) {
      const handler = this.lineHandler;
      this.lineHandler = null;
      await handler(frame.segments[0]!.toString('utf8'));
      return;
    }
    let tag: string | null = null;
    try {
      const command = parseCommand(frame);
      tag = command.tag;
      const spec = COMMANDS.get(command.name);
      metrics.command('imap', spec ? command.name : 'unknown');
      if (!spec) throw new ImapError('BAD', `Unknown command ${command.name.slice(0, 40)}`);
      if (!spec.states.includes(this.state)) throw new ImapError('BAD', `${command.name} not allowed now`);
      const args = new Args(command.args);
      const parsed = spec.parse(args, this);
      args.end();
      const reply = (await spec.run(this, parsed, command.tag)) ?? {};
      if (this.idleTag || this.lineHandler) return; // the command goes on with the next line
      await this.finish(command.tag, command.name, reply, !spec.holdsExpunges);
    } catch (err) {
      if (err instanceof ParseError || err instanceof BadArguments) {
        await this.error(err.message, err instanceof ParseError ? err.tag : tag, 'BAD');
      } else if (err instanceof ImapError) {
        await this.error(err.message, tag, err.status, err.code);
      } else if (err instanceof StoreUnavailableError) {
        // Disk full or failing: nothing was stored; the store recovers by itself (RFC 5530 3).
        await this.error('Mail storage is temporarily unavailable, try again later', tag, 'NO', 'SERVERUNAVAILABLE');
      } else if (err instanceof StoreConflictError) {
        // Other servers kept changing the same mailbox and retries ran out: nothing was stored (RFC 5530 3).
        await this.error('The mailbox is busy, try again', tag, 'NO', 'UNAVAILABLE');
      } else if (err instanceof StoreReadError) {
        // The database is away (restarting, unreachable): a subsystem is down, try later (RFC 5530 3).
        await this.error('Mail storage is temporarily unavailable, try again later', tag, 'NO', 'UNAVAILABLE');
      } else {
        this.ctx.logger?.error({ err, session: this.id }, 'imap command failed');
        await this.error('Internal server error', tag, 'NO', 'SERVERBUG');
      }
    }
  }

  async finish(tag: string, name: string, reply: Reply, allowExpunges: boolean): Promise<void> {
    if (reply.done) return;
    await this.announce(allowExpunges);
    await this.flushNotify();
    const status = reply.status ?? 'OK';
    if (status === 'OK') this.badCommands = 0;
    this.send(`${tag} ${status} ${reply.code ? `[${reply.code}] ` : ''}${reply.text ?? `${name} completed`}`);
    await this.drain();
    if (this.state === 'logout') this.transport.end();
  }

  private async error(text: string, tag: string | null, status: Status, code?: string): Promise<void> {
    if (status === 'BAD' && ++this.badCommands > MAX_BAD_COMMANDS) {
      this.bye('Too many bad commands');
      return;
    }
    // The tagged reply goes out even when the store cannot be read for the updates before it (§4.4).
    if (tag)
      await this.announce(false).catch((err) =>
        this.ctx.logger?.error({ err, session: this.id }, 'imap announce failed'),
      );
    this.send(`${tag ?? '*'} ${status} ${code ? `[${code}] ` : ''}${text}`);
    await this.drain();
  }

  // ---- changes from other sessions ----

  /** Called by the server for changes to the folder this session has selected. */
  onChange(change: FolderChange): void {
    if (!this.selected || change.folderId !== this.selected.folder.id) return;
    this.selected.pending.push(change);
    if (this.idleTag) this.announceSoon();
  }

  announceSoon(allowExpunges = true): void {
    this.announcing = this.announcing
      .then(() => this.announce(allowExpunges))
      .catch((err) => {
        this.ctx.logger?.error({ err, session: this.id }, 'imap announce failed');
      });
  }

  /** Unsolicited NOTIFY output: now when no command is running, else after the running one's responses. */
  queueNotify(fn: () => Promise<void> | void): void {
    this.notifyQueue.push(fn);
    if (this.processing) return;
    this.announcing = this.announcing
      .then(() => this.flushNotify())
      .catch((err) => {
        this.ctx.logger?.error({ err, session: this.id }, 'imap notify failed');
      });
  }

  private async flushNotify(): Promise<void> {
    for (const fn of this.notifyQueue.splice(0)) if (!this.transport.closed) await fn();
  }

  /** Waits for announcements started while idling. */
  settle(): Promise<void> {
    return this.announcing;
  }

  /**
   * Applies pending store changes to the session's view and tells the client: FETCH for flags
   * changed elsewhere, EXPUNGE (VANISHED under QRESYNC) when allowed, then EXISTS (and RECENT for
   * IMAP4rev1) for new messages.
   */
  async announce(allowExpunges: boolean): Promise<void> {
    const sel = this.selected;
    if (!sel) return;
    const changes = sel.pending.splice(0);
    const knownCount = sel.uids.length;
    const added: number[] = [];
    const addedSet = new Set<number>();
    const flagged = new Set<number>();
    for (const change of changes) {
      if (change.kind === 'add') {
        for (const uid of change.uids)
          if (uid > (added.at(-1) ?? sel.uids.at(-1) ?? 0)) {
            added.push(uid);
            addedSet.add(uid);
          }
      } else if (change.kind === 'expunge') {
        for (const uid of change.uids) if (sel.seqOf(uid) || addedSet.has(uid)) sel.expunged.add(uid);
      } else if (!sel.ownModseqs.delete(change.modseq)) {
        for (const uid of change.uids) flagged.add(uid);
      }
    }
    // Replaced, not pushed to: the list may be shared with other sessions (uid-lists.ts).
    if (added.length) sel.uids = this.ctx.uidLists.append(sel.folder.id, sel.uids, added);
    if (flagged.size) {
      const uids = [...flagged].filter(
        (uid) => !sel.expunged.has(uid) && sel.seqOf(uid) && sel.seqOf(uid) <= knownCount,
      );
      const read = await this.ctx.store.messages
        .getMany(
          sel.folder.id,
          uids.sort((a, b) => a - b),
        )
        .catch((err: Error): (Message | undefined)[] => {
          // The store is unreachable (§4.4): these flag changes are announced with a later command.
          sel.pending.unshift(...changes.filter((c) => c.kind !== 'add' && c.kind !== 'expunge'));
          this.ctx.logger?.warn({ err, session: this.id }, 'imap flag updates deferred');
          return [];
        });
      const messages = read.filter((m): m is Message => m !== undefined);
      this.announceKeywords(messages);
      for (const message of messages) {
        const items = [`FLAGS ${sel.flagList(message)}`];
        if (this.qresync) items.unshift(`UID ${message.uid}`);
        if (this.condstore) items.push(`MODSEQ (${message.modseq})`);
        this.send(`* ${sel.seqOf(message.uid)} FETCH (${items.join(' ')})`);
      }
    }
    const recheck = sel.contexts.length > 0 && changes.length > 0;
    if (recheck) await reportRemovals(this, sel);
    if (allowExpunges && sel.expunged.size) {
      const gone = [...sel.expunged].sort((a, b) => a - b);
      sel.expunged.clear();
      for (const uid of gone) sel.recent.delete(uid);
      if (this.qresync) this.send(`* VANISHED ${formatSequenceSet(gone)}`);
      else {
        // Highest first: each EXPUNGE shifts only the numbers above it, so the ones below stay as listed now.
        for (let i = gone.length - 1; i >= 0; i--) {
          const seq = sel.seqOf(gone[i]!);
          if (seq) this.send(`* ${seq} EXPUNGE`);
        }
      }
      sel.uids = this.ctx.uidLists.remove(sel.folder.id, sel.uids, gone);
    }
    if (added.length) {
      // The new messages' keywords for FLAGS; when the store is unreachable, FETCH tells them later.
      const read = await this.ctx.store.messages.getMany(sel.folder.id, added).catch((): (Message | undefined)[] => []);
      this.announceKeywords(read.filter((m): m is Message => m !== undefined));
      this.send(`* ${sel.uids.length} EXISTS`);
      if (!this.rev2) {
        // A shared store that cannot be reached leaves them not recent: never recent for two sessions.
        const recent = await this.ctx.recent.claim(sel.folder.id, added, !sel.readOnly).catch((): number[] => []);
        for (const uid of recent) sel.recent.add(uid);
        this.send(`* ${sel.recent.size} RECENT`);
      }
    }
    if (recheck) reportAdditions(this, sel);
  }

  /** Sends FLAGS and PERMANENTFLAGS again when the messages carry a keyword the client was not told of. */
  announceKeywords(messages: Iterable<Message>): void {
    const sel = this.selected;
    if (sel?.learnKeywords(messages))
      for (const line of sel.flagsResponses(this.ctx.limits.maxKeywordsPerMailbox)) this.send(line);
  }

  select(selected: Selected | null): void {
    if (this.selected) this.ctx.unwatch(this, this.selected.folder.id);
    this.selected = selected;
    if (selected) this.ctx.watch(this, selected.folder.id);
    this.state = selected ? 'selected' : this.account ? 'authenticated' : this.state;
  }

  /** Registers the session's account (per-account connection limit); false when it is over the limit. */
  authenticate(account: Account): boolean {
    if (!this.ctx.addAccountSession(this, account.id)) return false;
    this.account = account;
    this.state = 'authenticated';
    this.onClose(() => this.ctx.removeAccountSession(this, account.id));
    return true;
  }

  // ---- lifetime ----

  armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      // Time the server spends on a command is not the client's idleness; a client that stops
      // reading our output is, though.
      if (this.processing && !this.transport.congested) this.armIdleTimer();
      else this.bye('Idle timeout, closing connection');
    }, this.ctx.limits.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /**
   * While in IDLE, an untagged OK every few minutes: NAT and mobile-network middleboxes forget
   * connections that stay silent, and the client would stop getting pushes without knowing.
   */
  startKeepalive(): void {
    this.stopKeepalive();
    this.keepaliveTimer = setInterval(() => {
      if (this.idleTag) this.send('* OK Still here');
    }, this.ctx.limits.idleKeepaliveMs);
    this.keepaliveTimer.unref();
  }

  stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  onClose(fn: () => void): void {
    this.onCloseHooks.push(fn);
  }

  bye(text: string): void {
    if (this.transport.closed) return;
    this.state = 'logout';
    this.send(`* BYE ${text}`);
    this.transport.end();
  }

  /** The transport is gone: release everything the session holds. */
  closed(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stopKeepalive();
    if (this.selected) this.ctx.unwatch(this, this.selected.folder.id);
    this.state = 'logout';
    for (const fn of this.onCloseHooks.splice(0)) fn();
  }
}
