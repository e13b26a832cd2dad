// Test fixtures for the MX server: a temp store, a loopback DNS server, the project resolver and a
// listening MX; plus a raw line-level SMTP client for sessions that real clients refuse to produce.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createResolver, type DnsResolver } from '../../src/dns/resolver.ts';
import { createMxServer, type MxServer, type MxServerOptions } from '../../src/smtp/mx.ts';
import type { Store, Message } from '../../src/store/index.ts';
import { openTestStore } from './store.ts';
import { makeSelfSigned, type KeyPair } from '../../src/tls/certificates.ts';
import { startDnsServer, type TestDnsServer, type Zone } from './dns-server.ts';

export const HOSTNAME = 'mx.wren.test';

let certificate: Promise<KeyPair> | undefined;
/** One self-signed certificate per test process (RSA key generation is slow). */
export const testCertificate = (): Promise<KeyPair> => (certificate ??= makeSelfSigned(HOSTNAME));

export interface MxFixture {
  dir: string;
  store: Store;
  dns: TestDnsServer;
  resolver: DnsResolver;
  mx: MxServer;
  port: number;
  close(): Promise<void>;
}

export async function startMx(
  options: { zone?: Zone; mx?: Partial<MxServerOptions>; openStore?: (dir: string) => Promise<Store> } = {},
): Promise<MxFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'wren-mx-'));
  const store = await (options.openStore ?? openTestStore)(join(dir, 'db'));
  const dns = await startDnsServer(options.zone ?? {});
  const resolver = createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 });
  const mx = createMxServer({ store, resolver, tls: await testCertificate(), hostname: HOSTNAME, ...options.mx });
  const { port } = await mx.listen(0, '127.0.0.1');
  return {
    dir,
    store,
    dns,
    resolver,
    mx,
    port,
    async close() {
      await mx.close();
      await dns.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every stored message of an account's folder, with its bytes. */
export async function messagesIn(
  store: Store,
  address: string,
  folder = 'INBOX',
): Promise<{ message: Message; raw: Buffer; text: string }[]> {
  const account = await store.accounts.byAddress(address);
  if (!account) throw new Error(`no account ${address}`);
  const f = store.folders.byName(account.id, folder);
  if (!f) throw new Error(`no folder ${folder}`);
  const out = [];
  for (const message of await store.messages.list(f.id)) {
    const raw = await store.read(message);
    out.push({ message, raw, text: raw.toString('utf8') });
  }
  return out;
}

/** The message as sent: what follows the fields our MX prepends (Received … X-Spam-Status). */
export function withoutTrace(raw: Buffer): Buffer {
  const marker = raw.indexOf('\r\nX-Spam-Status:');
  if (marker < 0) throw new Error('no X-Spam-Status field');
  return raw.subarray(raw.indexOf('\r\n', marker + 2) + 2);
}

export interface Reply {
  code: number;
  text: string;
  lines: string[];
}

/** A raw SMTP client: one command, one reply; write() sends bytes unmodified. */
export class SmtpClient {
  private buffer = '';
  private waiters: ((r: Reply) => void)[] = [];
  private replies: Reply[] = [];
  readonly socket: Socket;
  closed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  /** `localAddress` (127.0.0.2 …) makes the session come from another loopback client address. */
  static async connect(
    port: number,
    host = '127.0.0.1',
    localAddress?: string,
  ): Promise<{ client: SmtpClient; greeting: Reply }> {
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new SmtpClient(socket);
    return { client, greeting: await client.reply() };
  }

  private onData(data: string): void {
    this.buffer += data;
    const lines: string[] = [];
    for (let nl = this.buffer.indexOf('\r\n'); nl >= 0; nl = this.buffer.indexOf('\r\n')) {
      lines.push(this.buffer.slice(0, nl));
      this.buffer = this.buffer.slice(nl + 2);
    }
    let pending: string[] = [];
    for (const line of lines) {
      pending.push(line);
      if (line[3] !== '-') {
        const reply = {
          code: Number(line.slice(0, 3)),
          text: pending.map((l) => l.slice(4)).join('\n'),
          lines: pending,
        };
        pending = [];
        const waiter = this.waiters.shift();
        if (waiter) waiter(reply);
        else this.replies.push(reply);
      }
    }
    if (pending.length) this.buffer = pending.map((l) => `${l}\r\n`).join('') + this.buffer;
  }

  /** The next reply (rejects after `timeoutMs`, or when the server closes the connection first). */
  reply(timeoutMs = 10_000): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no SMTP reply in time')), timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        reject(new Error('connection closed'));
      };
      this.socket.once('close', onClose);
      this.waiters.push((r) => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        resolve(r);
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  command(line: string): Promise<Reply> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A plain message with CRLF line ends. */
export function plainMessage(fields: {
  from: string;
  to: string;
  subject?: string;
  body?: string;
  extra?: string[];
  date?: boolean;
  messageId?: boolean;
}): string {
  const lines = [`From: ${fields.from}`, `To: ${fields.to}`, `Subject: ${fields.subject ?? 'Hello'}`];
  if (fields.date !== false) lines.push(`Date: ${new Date().toUTCString()}`);
  if (fields.messageId !== false) lines.push(`Message-ID: <${Math.random().toString(36).slice(2)}@test>`);
  lines.push(...(fields.extra ?? []), '', fields.body ?? 'Hi there.', '');
  return lines.join('\r\n');
}

/** One mail transaction on an open session (after EHLO); returns every reply. */
export async function transaction(
  client: SmtpClient,
  from: string,
  rcpts: string[],
  data: string | Buffer,
): Promise<{ mail: Reply; rcpt: Reply[]; data: Reply | null; end: Reply | null }> {
  const mail = await client.command(`MAIL FROM:<${from}>`);
  const rcpt = [];
  for (const r of rcpts) rcpt.push(await client.command(`RCPT TO:<${r}>`));
  if (!rcpt.some((r) => r.code === 250)) {
    await client.command('RSET');
    return { mail, rcpt, data: null, end: null };
  }
  const dataReply = await client.command('DATA');
  if (dataReply.code !== 354) return { mail, rcpt, data: dataReply, end: null };
  // dot-stuffing (RFC 5321 §4.5.2), as every real client does
  const body = Buffer.from(
    (Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8')).toString('latin1').replace(/(^|\r\n)\./g, '$1..'),
    'latin1',
  );
  client.write(Buffer.concat([body, Buffer.from(body.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n')]));
  return { mail, rcpt, data: dataReply, end: await client.reply(30_000) };
}

/** Sends one message over a new raw session (EHLO, MAIL, RCPT…, DATA, QUIT). */
export async function sendRaw(
  port: number,
  from: string,
  rcpts: string[],
  data: string | Buffer,
): ReturnType<typeof transaction> {
  const { client } = await SmtpClient.connect(port);
  try {
    await client.command('EHLO client.test');
    const result = await transaction(client, from, rcpts, data);
    await client.command('QUIT').catch(() => undefined);
    return result;
  } finally {
    client.close();
  }
}
