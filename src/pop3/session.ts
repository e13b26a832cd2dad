// One POP3 connection (RFC 1939): AUTHORIZATION → TRANSACTION → UPDATE, one command at a time
// (pipelined input waits in the line reader, RFC 2449 PIPELINING).
import { isLoopback } from '../security/net.ts';
import { sessionRegistry } from '../security/sessions.ts';
import type { Account, Message, StoreView } from '../store/index.ts';
import { BLOB_CHUNK } from '../store/blobs.ts';
import type { Transport } from '../net/transport.ts';
import { metrics } from '../metrics/registry.ts';
import { COMMANDS } from './commands.ts';
import type { Pop3Context } from './context.ts';
import { DotStuffer } from './dot-stuff.ts';
import { LineReader, LineTooLong } from './lines.ts';
import { Maildrop } from './maildrop.ts';

export type Pop3State = 'authorization' | 'transaction' | 'update';

/** Longest line accepted: RFC 2449 allows 255 octets per command, SASL responses get more room. */
const MAX_LINE_BYTES = 4096;
const MAX_ERRORS = 20;
/** Slice of message bytes dot-stuffed and written at a time. */
const WRITE_SLICE = 64 * 1024;

export class Pop3Session {
  readonly id: string;
  readonly ctx: Pop3Context;
  readonly transport: Transport;
  readonly clientIp: string;
  readonly reader = new LineReader(MAX_LINE_BYTES);
  state: Pop3State = 'authorization';
  /** Name given by USER, waiting for PASS. */
  user: string | null = null;
  account: Account | null = null;
  maildrop: Maildrop | null = null;
  /** When set, the next input line goes here instead of the command table (AUTH continuation). */
  lineHandler: ((line: string) => Promise<void>) | null = null;
  private processing = false;
  private errors = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private unregister: (() => void) | null = null;

  constructor(ctx: Pop3Context, transport: Transport, id: string) {
    this.ctx = ctx;
    this.transport = transport;
    this.id = id;
    this.clientIp = transport.remoteAddress;
    this.armIdleTimer();
  }

  greet(): void {
    this.ok(`${this.ctx.hostname} Wren Mail POP3 ready`);
  }

  /** Passwords only over TLS; the opt-in exception is for local tools on loopback, never a remote client. */
  plainAuthAllowed(): boolean {
    return this.transport.secure || (this.ctx.allowPlainAuthWithoutTls && isLoopback(this.clientIp));
  }

  // ---- output ----

  send(line: string): boolean {
    return this.transport.write(`${line}\r\n`);
  }

  ok(text: string): void {
    this.errors = 0;
    this.send(text ? `+OK ${text}` : '+OK');
  }

  /** A negative reply; `code` is an RFC 2449/3206 response code (IN-USE, AUTH, SYS/TEMP …). */
  err(text: string, code?: string): void {
    this.send(`-ERR ${code ? `[${code}] ` : ''}${text}`);
  }

  /** A multi-line reply: status line, the lines (dot-stuffed), then ".". */
  async multiline(status: string, lines: Iterable<string>): Promise<void> {
    this.ok(status);
    for (const line of lines) if (!this.send(line.startsWith('.') ? `.${line}` : line)) await this.transport.drain();
    this.send('.');
  }

  /**
   * RETR (bodyLines Infinity) and TOP: streams the message in slices, waiting for the client to
   * take each one, so a large message never sits in memory whole nor floods a slow reader. All
   * slices come from one snapshot (StoreView): an IMAP EXPUNGE meanwhile cannot cut the message off.
   */
  async sendMessage(message: Message, bodyLines: number, status: string): Promise<boolean> {
    const view = this.ctx.store.view();
    try {
      return await this.sendFrom(view, message, bodyLines, status);
    } finally {
      await view.close();
    }
  }

  private async sendFrom(view: StoreView, message: Message, bodyLines: number, status: string): Promise<boolean> {
    let start = 0;
    let data: Buffer;
    try {
      data = await view.read(message, 0, Math.min(message.size, BLOB_CHUNK));
    } catch {
      // Removed by another client (IMAP EXPUNGE) since this session's login.
      this.err('Message was removed by another session', 'SYS/TEMP');
      return false;
    }
    this.ok(status);
    const stuffer = new DotStuffer(bodyLines);
    for (;;) {
      for (let i = 0; i < data.length && !stuffer.done; i += WRITE_SLICE) {
        if (!this.transport.write(stuffer.push(data.subarray(i, i + WRITE_SLICE)))) await this.transport.drain();
        if (this.transport.closed) return false;
        this.armIdleTimer();
      }
      start += data.length;
      if (stuffer.done || start >= message.size) break;
      data = await view.read(message, start, Math.min(message.size, start + BLOB_CHUNK));
    }
    this.transport.write(stuffer.end());
    return true;
  }

  // ---- input ----

  onData(chunk: Buffer): void {
    this.armIdleTimer();
    this.reader.feed(chunk);
    if (this.processing && this.reader.buffered > MAX_LINE_BYTES * 2) this.transport.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (!this.transport.closed && this.state !== 'update') {
        let line: string | null;
        try {
          line = this.reader.next();
        } catch (err) {
          if (!(err instanceof LineTooLong)) throw err;
          this.close('Line too long, closing connection');
          return;
        }
        if (line === null) break;
        await this.handleLine(line);
        await this.transport.drain();
      }
    } catch (err) {
      this.ctx.logger?.error({ err, session: this.id }, 'pop3 session failed');
      this.close('Internal error, closing connection', 'SYS/TEMP');
    } finally {
      this.processing = false;
      if (!this.transport.closed) this.transport.resume();
    }
  }

  private async handleLine(line: string): Promise<void> {
    if (this.lineHandler) {
      const handler = this.lineHandler;
      this.lineHandler = null;
      await handler(line);
      return;
    }
    const space = line.indexOf(' ');
    const name = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : line.slice(space + 1);
    const spec = COMMANDS.get(name);
    metrics.command('pop3', spec ? name : 'unknown');
    if (!spec) return this.fail('Unknown command');
    if (!spec.states.includes(this.state)) return this.fail(`${name} not valid in this state`);
    await spec.run(this, rest);
  }

  /** A client error: -ERR, and the connection closed after too many in a row. */
  fail(text: string, code?: string): void {
    if (++this.errors > MAX_ERRORS) {
      this.close('Too many errors, closing connection');
      return;
    }
    this.err(text, code);
  }

  // ---- authentication and the maildrop ----

  /** The end of USER/PASS and AUTH PLAIN: password check, maildrop lock, snapshot of INBOX. */
  async logIn(username: string, password: string, authzid = ''): Promise<void> {
    this.user = null;
    const result = await this.ctx.login.login(username, password, this.clientIp, {
      permission: 'mailbox.read',
      authzid,
    });
    metrics.login('pop3', result.ok ? 'ok' : result.reason);
    if (!result.ok) {
      this.ctx.logger?.info({ session: this.id, user: username, reason: result.reason }, 'pop3 login failed');
      if (result.reason === 'throttled') return this.fail('Too many failed logins, try again later', 'SYS/TEMP');
      if (result.reason === 'suspended') return this.fail('Account suspended', 'SYS/PERM');
      if (result.reason === 'authzid')
        return this.fail('Authorization identity must be empty or your own user name', 'AUTH');
      return this.fail('Invalid credentials', 'AUTH');
    }
    const account = result.account;
    if (!this.ctx.lock(account.id, this)) return this.err('Maildrop is in use by another session', 'IN-USE');
    const maildrop = await Maildrop.open(this.ctx.store, account.id).catch((err: unknown) => {
      this.ctx.unlock(account.id, this);
      throw err;
    });
    if (!maildrop) {
      this.ctx.unlock(account.id, this);
      return this.err('No INBOX for this account', 'SYS/PERM');
    }
    this.account = account;
    this.maildrop = maildrop;
    this.state = 'transaction';
    // A revoked key, a new password or a suspension ends the session (without UPDATE).
    this.unregister = sessionRegistry(this.ctx.store).register({
      protocol: 'pop3',
      accountId: account.id,
      credential: result.credential,
      expiresAt: result.expiresAt,
      passwordHash: account.passwordHash,
      end: (reason) => this.close(`Session ended: ${reason}`, 'AUTH'),
    });
    this.ctx.logger?.info({ session: this.id, account: account.id }, 'pop3 login');
    const { count, bytes } = maildrop.stat();
    this.ok(`Maildrop has ${count} messages (${bytes} octets)`);
  }

  /** QUIT in TRANSACTION: apply deletions and \Seen, release the lock, close. */
  async update(): Promise<void> {
    this.state = 'update';
    const maildrop = this.maildrop!;
    try {
      await maildrop.commit(this.ctx.store);
      this.ok(`${this.ctx.hostname} signing off (${maildrop.stat().count} messages left)`);
    } catch (err) {
      this.ctx.logger?.error({ err, session: this.id }, 'pop3 update failed');
      this.err('Some deleted messages were not removed', 'SYS/TEMP');
    }
    this.release();
    this.transport.end();
  }

  private release(): void {
    if (this.account) this.ctx.unlock(this.account.id, this);
  }

  // ---- lifetime ----

  private armIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.close('Autologout: idle for too long'), this.ctx.limits.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Closes the connection without UPDATE (RFC 1939 6: deletions are not applied). */
  close(text: string, code?: string): void {
    if (this.transport.closed || this.state === 'update') return;
    this.err(text, code);
    this.state = 'update';
    this.transport.end();
  }

  /** The transport is gone: release the maildrop lock and timers. */
  closed(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.unregister?.();
    this.unregister = null;
    this.state = 'update';
    this.release();
  }
}
