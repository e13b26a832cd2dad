// POP3 test fixtures: a temp store with one account, a POP3 server on loopback (plain with STLS, and
// implicit TLS), a raw line-level client, and a runner for Python's poplib.
import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createPop3Server, type Pop3Server, type Pop3ServerOptions } from '../../src/pop3/server.ts';
import { LoginService } from '../../src/security/login.ts';
import type { Store, Account, Folder } from '../../src/store/index.ts';
import { makeSelfSigned, type KeyPair } from '../../src/tls/certificates.ts';
import { addTestAccount, openTestStore } from './store.ts';
import { tempDir } from './tmp.ts';

export const USER = 'pat@wren.test';
export const PASSWORD = 'pop goes the weasel';

let certificate: Promise<KeyPair> | undefined;
const pop3Certificate = (): Promise<KeyPair> => (certificate ??= makeSelfSigned('pop.wren.test'));

export interface Pop3Fixture {
  store: Store;
  account: Account;
  server: Pop3Server;
  login: LoginService;
  port: number;
  tlsPort: number;
  inbox: Folder;
  /** Adds a message to INBOX (or `folder`); returns its UID. */
  deliver(raw: Buffer | string, flags?: string[], folder?: Folder): Promise<number>;
  close(): Promise<void>;
}

export async function startPop3(
  options: Partial<Omit<Pop3ServerOptions, 'store' | 'login' | 'tls' | 'hostname'>> = {},
  loginLimits: ConstructorParameters<typeof LoginService>[1] = {},
): Promise<Pop3Fixture> {
  const dir = tempDir('wren-pop3-');
  const store = await openTestStore(dir.path);
  const account = await addTestAccount(store, USER, PASSWORD);
  const login = new LoginService(store, loginLimits);
  const server = createPop3Server({
    store,
    login,
    tls: await pop3Certificate(),
    hostname: 'pop.wren.test',
    ...options,
  });
  const { port } = await server.listen(0, '127.0.0.1', false);
  const { port: tlsPort } = await server.listen(0, '127.0.0.1', true);
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  return {
    store,
    account,
    server,
    login,
    port,
    tlsPort,
    inbox,
    async deliver(raw, flags = [], folder = inbox) {
      const { delivered } = await store.deliver(Buffer.isBuffer(raw) ? raw : Buffer.from(raw), [{ folder, flags }]);
      return delivered[0]!.message.uid;
    },
    async close() {
      await server.close();
      await store.close();
      dir.remove();
    },
  };
}

/** What RawPop3.line() answers once the server has closed the connection. */
export const CLOSED = '<connection closed>';

/** A raw POP3 client: send lines, read single lines or multi-line replies, see the connection close. */
export class RawPop3 {
  socket: Socket;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  private attach(socket: Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** `localAddress` (127.0.0.2 …) makes the session come from another loopback client address. */
  static async connect(port: number, tls = false, localAddress?: string): Promise<RawPop3> {
    const at = { port, host: '127.0.0.1', ...(localAddress ? { localAddress } : {}) };
    const socket = tls ? tlsConnect({ ...at, rejectUnauthorized: false }) : netConnect(at);
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawPop3(socket);
  }

  send(line: string | Buffer): void {
    this.socket.write(typeof line === 'string' ? `${line}\r\n` : line);
  }

  /** Waits (up to 5 s) until `ready(buffer)` tells how many bytes to take, or the connection closes. */
  private async take(ready: (b: Buffer) => number): Promise<Buffer | null> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const n = ready(this.buffer);
      if (n > 0) {
        const out = this.buffer.subarray(0, n);
        this.buffer = this.buffer.subarray(n);
        return out;
      }
      if (this.closed) return null;
      if (Date.now() > deadline)
        throw new Error(`timed out; buffered: ${this.buffer.toString('latin1').slice(0, 200)}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  /** One reply line without CRLF; CLOSED when the server closed first. */
  async line(): Promise<string> {
    const got = await this.take((b) => b.indexOf('\r\n') + (b.indexOf('\r\n') >= 0 ? 2 : 0));
    return got ? got.subarray(0, -2).toString('latin1') : CLOSED;
  }

  /** A multi-line reply: the status line and the raw (still dot-stuffed) body before the final ".". */
  async multiline(): Promise<{ status: string; body: Buffer }> {
    const status = await this.line();
    if (!status.startsWith('+OK')) return { status, body: Buffer.alloc(0) };
    const end = (b: Buffer) =>
      b.subarray(0, 3).toString() === '.\r\n' ? 3 : b.indexOf('\r\n.\r\n') >= 0 ? b.indexOf('\r\n.\r\n') + 5 : 0;
    const got = await this.take(end);
    if (!got) throw new Error('connection closed inside a multi-line reply');
    return { status, body: got.length === 3 ? Buffer.alloc(0) : got.subarray(0, -3) };
  }

  async command(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  /** Upgrades to TLS after the +OK of STLS. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
  }

  /** Resolves when the server has closed the connection (or after 5 s: false). */
  async waitClosed(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Runs a Python script with args; resolves with its exit code, stdout and stderr (kills it after `timeoutMs`). */
export function runPython(
  script: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-c', script, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
