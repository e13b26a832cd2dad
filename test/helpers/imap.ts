// IMAP test fixtures: a temp store with one account, an IMAP server on loopback (plain with STARTTLS,
// and implicit TLS), an imapflow client factory and a raw line-level client for malformed input.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ImapFlow } from 'imapflow';
import { createImapServer, type ImapServer, type ImapServerOptions } from '../../src/imap/server.ts';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import type { Store, Account, Folder } from '../../src/store/index.ts';
import { makeSelfSigned, type KeyPair } from '../../src/tls/certificates.ts';
import { openTestStore } from './store.ts';
import { tempDir } from './tmp.ts';

export const USER = 'alice@wren.test';
export const PASSWORD = 'correct horse battery staple';

let certificate: Promise<KeyPair> | undefined;
export const imapCertificate = (): Promise<KeyPair> => (certificate ??= makeSelfSigned('imap.wren.test'));

export interface ImapFixture {
  store: Store;
  account: Account;
  server: ImapServer;
  login: LoginService;
  port: number;
  tlsPort: number;
  inbox: Folder;
  deliver(raw: Buffer | string, folder?: Folder, flags?: string[]): Promise<number>;
  client(options?: { secure?: boolean; qresync?: boolean }): Promise<ImapFlow>;
  close(): Promise<void>;
}

export async function startImap(
  options: Partial<Omit<ImapServerOptions, 'store' | 'login' | 'tls' | 'hostname'>> & { quotaBytes?: number } = {},
): Promise<ImapFixture> {
  const dir = tempDir('wren-imap-');
  const store = await openTestStore(dir.path);
  const team = await store.teams.create('Team');
  await store.domains.create(team.id, 'wren.test');
  const account = await store.accounts.create({
    teamId: team.id,
    address: USER,
    passwordHash: await hashPassword(PASSWORD),
    quotaBytes: options.quotaBytes ?? 0,
  });
  const login = new LoginService(store);
  const server = createImapServer({
    store,
    login,
    tls: await imapCertificate(),
    hostname: 'imap.wren.test',
    allowPlainAuthWithoutTls: options.allowPlainAuthWithoutTls ?? true,
    limits: options.limits,
    logger: options.logger,
  });
  const { port } = await server.listen(0, '127.0.0.1', false);
  const { port: tlsPort } = await server.listen(0, '127.0.0.1', true);
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const clients: ImapFlow[] = [];
  return {
    store,
    account,
    server,
    login,
    port,
    tlsPort,
    inbox,
    async deliver(raw, folder = inbox, flags = []) {
      const { delivered } = await store.deliver(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), [{ folder, flags }]);
      return delivered[0]!.message.uid;
    },
    async client(opts = {}) {
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: opts.secure ? tlsPort : port,
        secure: opts.secure ?? false,
        doSTARTTLS: opts.secure ? undefined : false,
        tls: { rejectUnauthorized: false },
        auth: { user: USER, pass: PASSWORD },
        logger: false,
        qresync: opts.qresync,
      } as ConstructorParameters<typeof ImapFlow>[0]);
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.close();
      await server.close();
      await store.close();
      dir.remove();
    },
  };
}

/** A line-level client for what real clients never send. */
export class RawClient {
  socket: Socket;
  buffer = '';
  closed = false;
  private waiters: (() => void)[] = [];

  constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /** `localAddress` (127.0.0.2 …) makes the session come from another loopback client address. */
  static async connect(port: number, tls = false, localAddress?: string, host = '127.0.0.1'): Promise<RawClient> {
    const at = { port, host, ...(localAddress ? { localAddress } : {}) };
    const socket = tls ? tlsConnect({ ...at, rejectUnauthorized: false }) : netConnect(at);
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    await client.until(/^\* (OK|BYE).*\r\n/m);
    return client;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until the received text matches, or the socket closes, or the timeout passes. */
  async until(re: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.buffer)) {
      if (this.closed) throw new Error(`closed before ${re}; got ${JSON.stringify(this.buffer.slice(-500))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for ${re}; got ${JSON.stringify(this.buffer.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.buffer;
  }

  /** Sends a command and returns everything up to and including its tagged response; clears the buffer. */
  async command(tag: string, text: string | Buffer, timeoutMs = 5000): Promise<string> {
    this.socket.write(Buffer.isBuffer(text) ? text : `${tag} ${text}\r\n`);
    const out = await this.until(new RegExp(`^${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm'), timeoutMs);
    this.buffer = '';
    return out;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('socket not closed');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A raw session logged in as the fixture's user (LOGIN over plain loopback). */
export async function loggedInRaw(port: number): Promise<RawClient> {
  const client = await RawClient.connect(port);
  const reply = await client.command('l', `LOGIN ${USER} "${PASSWORD}"`);
  if (!/^l OK/m.test(reply)) throw new Error(`LOGIN refused: ${reply}`);
  return client;
}

/** Whether `user`/`pass` log in over IMAPS (imapflow, a real client) on `port`. */
export async function canLogInImaps(port: number, user: string, pass: string): Promise<boolean> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
  });
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    return false;
  }
}
