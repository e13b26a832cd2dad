// One client's byte stream: plain, TLS (implicit or after STARTTLS) and optionally DEFLATE-compressed
// (RFC 4978). Writes report backpressure so that a slow reader only ever slows its own session.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { SniCallback } from '../tls/source.ts';
import type { Readable, Writable } from 'node:stream';
import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from 'node:zlib';

/**
 * Inflated input is made in chunks this small and only as fast as the session reads them: a pause()
 * stops the inflater within one chunk, so a deflate bomb costs the server no more than its parser
 * holds (zlib streams honour backpressure inside a single input chunk).
 */
const INFLATE_CHUNK = 16 * 1024;

export interface TransportEvents {
  data(chunk: Buffer): void;
  close(): void;
}

export class Transport {
  socket: Socket;
  secure: boolean;
  compressed = false;
  closed = false;
  private input: Readable;
  private output: Writable;
  private deflate: DeflateRaw | null = null;
  private inflate: InflateRaw | null = null;
  /** No more input is wanted (the session is saying goodbye). */
  private ended = false;
  private flushScheduled = false;
  private readonly events: TransportEvents;
  private readonly sni: SniCallback | undefined;
  private readonly onData = (chunk: Buffer): void => this.events.data(chunk);

  /** sni: picks the certificate by the client's server name at STARTTLS (else the given context). */
  constructor(socket: Socket, secure: boolean, events: TransportEvents, sni?: SniCallback) {
    // Replies go out in several writes; Nagle would hold each tail back ~40 ms waiting for an ACK.
    socket.setNoDelay(true);
    this.socket = socket;
    this.secure = secure;
    this.events = events;
    this.sni = sni;
    this.input = socket;
    this.output = socket;
    socket.on('data', this.onData);
    this.watch(socket);
  }

  private watch(socket: Socket): void {
    socket.on('error', () => this.destroy());
    socket.on('close', () => this.destroy());
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** Queues bytes; false when the caller should await drain() before writing much more. */
  write(data: string | Buffer): boolean {
    if (this.closed) return true;
    if (this.deflate && !this.flushScheduled) {
      // Compressed output is flushed once per turn of the event loop, after the writes it makes.
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return this.output.write(data);
  }

  /**
   * Queues several buffers as one write, each sent as it is (no copy into a joined buffer): corked,
   * so the socket hands them to the kernel in one writev. False as for write().
   */
  writeAll(chunks: readonly Buffer[]): boolean {
    if (chunks.length === 1) return this.write(chunks[0]!);
    if (this.closed || !chunks.length) return true;
    this.output.cork();
    let ok = true;
    for (const chunk of chunks) ok = this.write(chunk);
    this.output.uncork();
    return ok;
  }

  /** Pushes compressed output out now. */
  flush(): void {
    this.flushScheduled = false;
    if (this.deflate && !this.closed) this.deflate.flush(constants.Z_SYNC_FLUSH);
  }

  /** Output is waiting for the client to read. */
  get congested(): boolean {
    return this.output.writableNeedDrain || this.socket.writableNeedDrain;
  }

  /** Resolves once the outgoing buffers are below their high-water mark again (or the peer is gone). */
  drain(): Promise<void> {
    this.flush();
    const pending = this.output.writableNeedDrain || (this.output !== this.socket && this.socket.writableNeedDrain);
    if (!pending || this.closed) return Promise.resolve();
    const target = this.output.writableNeedDrain ? this.output : this.socket;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        target.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      target.on('drain', done);
      this.socket.on('close', done);
    }).then(() => this.drain());
  }

  pause(): void {
    this.input.pause();
  }

  resume(): void {
    this.input.resume();
  }

  /** Wraps the socket in TLS; input read before the handshake has been discarded by the caller. */
  async startTls(context: SecureContext): Promise<void> {
    const plain = this.socket;
    plain.off('data', this.onData);
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = new TLSSocket(plain, {
      isServer: true,
      secureContext: context,
      ...(this.sni ? { SNICallback: this.sni } : {}),
    });
    this.socket = secure;
    this.input = secure;
    this.output = secure;
    this.watch(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('error', reject);
    });
    this.secure = true;
    secure.on('data', this.onData);
  }

  /** From here on both directions are raw DEFLATE; the caller has already sent the OK in clear. */
  startCompression(): void {
    const inflate = createInflateRaw({ chunkSize: INFLATE_CHUNK });
    const deflate = createDeflateRaw({ flush: constants.Z_NO_FLUSH });
    this.socket.off('data', this.onData);
    this.socket.pipe(inflate);
    inflate.on('data', this.onData);
    inflate.on('error', () => this.destroy());
    deflate.pipe(this.socket);
    deflate.on('error', () => this.destroy());
    this.input = inflate;
    this.output = deflate;
    this.deflate = deflate;
    this.inflate = inflate;
    this.compressed = true;
  }

  /** Sends what is queued, then closes. Input stops at once: nothing more is read or inflated. */
  end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.stopInput();
    this.flush();
    if (this.deflate) this.deflate.end();
    else this.socket.end();
    setTimeout(() => this.destroy(), 2000).unref();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopInput();
    this.socket.destroy();
    this.deflate?.destroy();
    this.events.close();
  }

  /** Stops taking input: the inflater (and its zlib memory) is released, raw bytes still arriving are dropped unread. */
  private stopInput(): void {
    this.socket.off('data', this.onData);
    if (this.inflate) {
      this.socket.unpipe(this.inflate);
      this.inflate.off('data', this.onData);
      this.inflate.destroy();
      this.inflate = null;
    }
    // Keep the socket flowing (into nothing) so that the peer's close is seen at once.
    this.socket.resume();
  }
}
