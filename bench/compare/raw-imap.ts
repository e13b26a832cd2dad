// A wire-level IMAP client for timing the server alone: it sends a command and counts bytes until the
// tagged reply, parsing nothing (imapflow's parsing of 10,000 ENVELOPEs costs the client as much as
// the server, on both sides, and so blurs the comparison).
import { connect, type Socket } from 'node:net';

export class RawImap {
  private socket: Socket;
  private tail = '';
  private bytes = 0;
  private waiting: {
    tag: string;
    resolve: (r: { bytes: number; status: string }) => void;
    reject: (e: Error) => void;
  } | null = null;
  private seq = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.waiting?.reject(err));
    socket.on('close', () => this.waiting?.reject(new Error('connection closed')));
  }

  static async login(port: number, user: string, password: string): Promise<RawImap> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawImap(socket);
    await client.untilLine((line) => line.startsWith('* '), 10_000);
    const r = await client.command(`LOGIN ${quote(user)} ${quote(password)}`);
    if (r.status !== 'OK') throw new Error(`LOGIN: ${r.status}`);
    return client;
  }

  private lineWaiter: ((line: string) => void) | null = null;

  private onData(chunk: Buffer): void {
    this.bytes += chunk.length;
    // Keep only the end: the tagged reply is the last line the server sends for a command.
    this.tail = (this.tail + chunk.toString('latin1')).slice(-4096);
    if (!this.tail.endsWith('\r\n')) return;
    const before = this.tail.lastIndexOf('\r\n', this.tail.length - 3);
    const last = this.tail.slice(before < 0 ? 0 : before + 2, -2);
    if (this.lineWaiter) {
      this.lineWaiter(last);
      return;
    }
    if (this.waiting && last.startsWith(`${this.waiting.tag} `)) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ bytes: this.bytes, status: last.split(' ')[1] ?? '' });
    }
  }

  private untilLine(match: (line: string) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no greeting')), timeoutMs);
      this.lineWaiter = (line) => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.lineWaiter = null;
        resolve();
      };
    });
  }

  /** Sends one command; resolves with the reply's size in bytes and its status (OK, NO, BAD). */
  command(text: string, timeoutMs = 60_000): Promise<{ bytes: number; status: string }> {
    const tag = `R${++this.seq}`;
    this.bytes = 0;
    this.tail = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${text}: no reply in ${timeoutMs / 1000} s`)), timeoutMs);
      this.waiting = {
        tag,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(`${tag} ${text}\r\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}
