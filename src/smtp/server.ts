// Package smtp implements the MX (mx.ts) and submission (submission.ts) listeners on smtp-server. This
// file is what they share: the smtp-server setup with the extensions we advertise, replies that carry
// our own enhanced status codes, bounded DATA reading with bare-newline (SMTP smuggling) detection, and
// promise-based listen/close. Invariant: a 250 for DATA only once the message is on disk (inbound
// pipeline or outbound queue, docs/ARCHITECTURE.md §5, §6). May import services, pipelines, foundation
// and base.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerOptions } from 'smtp-server';
import type { TlsSource } from '../tls/source.ts';
import { keepConnectionsAlive } from '../net/keepalive.ts';
import { withRoomBefore } from '../mime/prepend.ts';

/** A handler error whose text starts with its own enhanced status code ("5.7.1 Relaying denied"). */
export interface SmtpReplyError extends Error {
  responseCode: number;
}

export function smtpError(code: number, enhanced: string, text: string): SmtpReplyError {
  return Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
}

const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3}) /;

/**
 * smtp-server picks the enhanced status code of a handler error from the reply code alone (550 is
 * always 5.1.1), so "550 5.7.1 relaying denied" cannot be said. Each connection's send() is wrapped:
 * a reply whose text already starts with an enhanced code goes out as given.
 */
export class WrenSmtpServer extends SMTPServer {
  constructor(options: WrenSmtpOptions) {
    super(options);
    keepConnectionsAlive(this.server);
    // A certificate reload replaces the default context (clients without SNI) for new handshakes.
    const source = options.tlsSource;
    const stop = source?.onChange?.(() => this.updateSecureContext({ key: source.key, cert: source.cert }));
    if (stop) this.server.once('close', stop);
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: Parameters<SMTPServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    const connection = [...this.connections].at(-1); // the one super.connect just added
    if (!connection) return;
    const send = connection.send.bind(connection) as (code: number, data?: unknown, context?: unknown) => void;
    (connection as { send: typeof send }).send = (code, data, context) => {
      if (typeof data === 'string' && ENHANCED.test(data)) return send(code, data, false);
      return send(code, data, context);
    };
    strictCommandLines(connection as unknown as Connection);
  }
}

/** The parts of smtp-server's SMTPConnection and SMTPStream (its command parser) used below. */
interface CommandParser extends DataParser {
  _dataMode: boolean;
  _remainder: string;
  _write(chunk: Buffer, encoding: string, next: (err?: Error) => void): void;
  oncommand(line: Buffer, callback?: () => void): void;
}

/** SMTPStream's state and steps in data mode (smtp-server's lib/smtp-stream.js). */
export interface DataParser {
  _dataStream: import('node:stream').PassThrough | null;
  _lastBytes: Buffer | false;
  _atDataStart: boolean;
  _countDataBytes(length: number): void;
  _endDataMode(chunk: Buffer | false, remainder: Buffer, done: (err?: Error) => void): void;
  _feedDataStream(chunk: Buffer, done: (err?: Error) => void): void;
}

const LF_DOT = Buffer.from('\n.');
const NONE = Buffer.alloc(0);

/**
 * smtp-server's _feedDataStream (RFC 5321 §4.5.2: a line "." ends DATA, a leading "." is removed),
 * step for step, except in two ways that change no result. It jumps from one "\n." to the next with
 * indexOf where the original looks at every byte in JS. And the up to four bytes held back from the
 * last chunk (`_lastBytes`, a terminator may start there) are read in place before the new chunk,
 * not copied together with it into a new Buffer. Those were two thirds of what reading a 100 KB
 * message cost (bench/RESULTS.md, SMTP fifth pass). What is emitted, where DATA ends and what follows
 * it are the same for every input and every way of cutting it (test/unit/smtp-data-stream.test.ts
 * runs both side by side); only the Buffers the message arrives in may be cut differently.
 */
function feedDataStream(this: DataParser, input: Buffer, done: (err?: Error) => void): void {
  const dataStream = this._dataStream!;
  // The original's chunk is head + body: positions below are in it, as there.
  let head = this._lastBytes !== false ? this._lastBytes : NONE;
  let body = input;
  this._lastBytes = false;
  const byte = (i: number) => (i < head.length ? head[i] : body[i - head.length]);
  /** Bytes [from, to) of head + body; copied only when they straddle the two (a few bytes, or a remainder). */
  const bytes = (from: number, to: number): Buffer => {
    if (to <= head.length) return head.subarray(from, to);
    if (from >= head.length) return body.subarray(from - head.length, to - head.length);
    return Buffer.concat([head.subarray(from), body.subarray(0, to - head.length)]);
  };
  /** Bytes [0, to) to the data stream, head and body apart; the last one is returned, not written. */
  const leading = (to: number): Buffer => {
    if (to <= head.length || head.length === 0) return bytes(0, to);
    if (dataStream.writable) dataStream.write(head);
    return body.subarray(0, to - head.length);
  };
  let len = head.length + body.length;
  // A "." line right at the start of DATA ends it (an empty message): only while nothing was consumed.
  if (this._atDataStart && len >= 3 && byte(0) === 0x2e && byte(1) === 0x0d && byte(2) === 0x0a) {
    this._endDataMode(false, bytes(3, len), done);
    return;
  }
  if (this._atDataStart && len >= 2 && byte(0) === 0x2e && byte(1) === 0x2e) {
    if (head.length > 0) head = head.subarray(1);
    else body = body.subarray(1);
    len--;
    this._atDataStart = false;
  }
  // The original visits i = 2 .. len - 3 for an LF at i - 1 and a "." at i: those with the LF in head
  // one by one, then each "\n." in body (at i - 1 >= 1 of the whole) found by indexOf.
  const last = len - 3;
  const seam = Math.min(head.length, last);
  let i = 2;
  for (;;) {
    if (i <= seam) {
      if (byte(i - 1) !== 0x0a || byte(i) !== 0x2e) {
        i++;
        continue;
      }
    } else {
      const from = Math.max(i - 1 - head.length, 0);
      const at = body.indexOf(LF_DOT, from);
      if (at === -1 || at + head.length + 1 > last) break;
      i = at + head.length + 1;
    }
    if (byte(i - 2) === 0x0d && byte(i + 1) === 0x0d && byte(i + 2) === 0x0a) {
      this._countDataBytes(i);
      const rest = bytes(i + 3, len);
      this._endDataMode(leading(i), rest, done);
      return;
    }
    if (byte(i + 1) === 0x2e) {
      this._countDataBytes(i);
      const buf = leading(i);
      if (dataStream.writable) dataStream.write(buf);
      const rest = bytes(i + 1, len);
      setImmediate(() => this._feedDataStream(rest, done));
      return;
    }
    i++;
  }
  this._lastBytes = bytes(Math.max(len - 4, 0), len);
  if (len <= 4) {
    done();
    return;
  }
  this._countDataBytes(len - 4);
  const buf = leading(len - 4);
  if (!dataStream.writable) {
    done();
    return;
  }
  if (dataStream.write(buf) || dataStream.destroyed) {
    done();
    return;
  }
  // Wait for drain; a stream the application destroys never drains, it only closes.
  const onDrain = () => {
    dataStream.removeListener('drain', onDrain);
    dataStream.removeListener('close', onDrain);
    done();
  };
  dataStream.once('drain', onDrain);
  dataStream.once('close', onDrain);
}

/** Makes an SMTPStream read DATA with feedDataStream. */
export function fastDataStream<T extends DataParser>(parser: T): T {
  parser._feedDataStream = feedDataStream;
  return parser;
}
interface Connection {
  _parser: CommandParser | false;
  _upgrading: boolean;
  _createParser(): CommandParser;
  send(code: number, data?: unknown, context?: unknown): void;
}

/**
 * RFC 5321 §2.3.8: a command line ends in CRLF. smtp-server's parser also ends one at a bare LF (only
 * DATA is strict), so "RSET\n" would run; a client (or a proxy in between) that reads lines
 * differently from us is how command smuggling starts. Each parser of the connection (a new one
 * after STARTTLS) is wrapped: its input is scanned for the line ends it is about to split on, in
 * the same order, and a command whose line ended in a bare LF (or in nothing, at end of input) gets
 * 500 5.5.2 instead of running.
 */
function strictCommandLines(connection: Connection): void {
  const guard = (parser: CommandParser): CommandParser => {
    const bare: boolean[] = []; // for each complete line of the chunk being parsed: did it end in a bare LF?
    const write = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) => {
      if (!parser._dataMode) {
        // The parser splits remainder + chunk on /\r?\n/ and hands over one line per oncommand call.
        bare.length = 0;
        for (const end of (parser._remainder + chunk.toString('binary')).matchAll(/\r?\n/g)) bare.push(end[0] === '\n');
      }
      write(chunk, encoding, next);
    };
    const oncommand = parser.oncommand.bind(parser);
    parser.oncommand = (line, callback) => {
      if (bare.shift() === false || connection._upgrading) return oncommand(line, callback);
      connection.send(500, '5.5.2 Syntax error: command lines must end with CRLF', false);
      if (callback) setImmediate(callback);
    };
    return fastDataStream(parser);
  };
  if (connection._parser) guard(connection._parser);
  const create = connection._createParser.bind(connection);
  connection._createParser = () => guard(create());
}

export interface SmtpBaseOptions {
  hostname: string;
  /** {key, cert}, or the certificate store (SNI, reloads). */
  tls: TlsSource;
  maxMessageBytes: number;
  maxRecipients: number;
  idleTimeoutMs: number;
  /** Whole-server cap on open connections (0: none). */
  maxConnections?: number;
  /** How long close() lets sessions finish before dropping them with 421. */
  closeTimeoutMs?: number;
}

/** smtp-server options both listeners share: STARTTLS with our certificate, SIZE, PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES. */
export type WrenSmtpOptions = SMTPServerOptions & { tlsSource?: TlsSource };

export function baseServerOptions(o: SmtpBaseOptions): WrenSmtpOptions {
  return {
    name: o.hostname,
    banner: 'Wren Mail ESMTP',
    key: o.tls.key,
    cert: o.tls.cert,
    ...(o.tls.SNICallback ? { SNICallback: o.tls.SNICallback } : {}),
    tlsSource: o.tls,
    size: o.maxMessageBytes,
    rejectOversized: true,
    maxRecipients: o.maxRecipients,
    socketTimeout: o.idleTimeoutMs,
    closeTimeout: o.closeTimeoutMs ?? 10_000,
    maxClients: o.maxConnections || undefined,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    hideENHANCEDSTATUSCODES: false,
    hideSize: false,
    logger: false,
  };
}

export interface ReadMessage {
  /** The message as received (dot-unstuffed), or null when it went over maxBytes. */
  raw: Buffer | null;
  size: number;
  /** A LF without CR before it, or a CR without LF after it, was seen. */
  bareNewline: boolean;
}

/**
 * Reads a DATA stream into memory, up to maxBytes (the rest is drained, not kept). smtp-server ends
 * DATA only on CRLF.CRLF; bare line breaks are reported so the caller can refuse the message, as
 * Postfix does with smtpd_forbid_bare_newline: a receiver that treats LF.LF or CR.CR as the end
 * would otherwise see a second, smuggled message.
 */
/**
 * Whether `chunk` holds an LF not after a CR or a CR not before an LF; `prev` is the byte before it
 * (-1 at the start). A CR ending the chunk is judged with the next chunk. Jumps from line end to line
 * end with indexOf rather than visiting every byte (a 100 KB body has ~1,500 lines).
 */
function bareLineEnd(chunk: Buffer, prev: number): boolean {
  if (prev === 0x0d && chunk[0] !== 0x0a) return true;
  for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1))
    if ((i === 0 ? prev : chunk[i - 1]) !== 0x0d) return true;
  for (let i = chunk.indexOf(0x0d); i !== -1 && i < chunk.length - 1; i = chunk.indexOf(0x0d, i + 1))
    if (chunk[i + 1] !== 0x0a) return true;
  return false;
}

export function readMessage(stream: SMTPServerDataStream, maxBytes: number, roomBefore = 0): Promise<ReadMessage> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    let prev = -1;
    let bare = false;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!bare && chunk.length > 0) {
        bare = bareLineEnd(chunk, prev);
        prev = chunk[chunk.length - 1]!;
      }
      if (kept + chunk.length <= maxBytes) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    stream.once('error', reject);
    stream.once('end', () => {
      if (prev === 0x0d) bare = true; // data never ends on a lone CR: the terminator's CRLF is ours
      resolve({ raw: size > maxBytes ? null : joined(chunks, kept, roomBefore), size, bareNewline: bare });
    });
  });
}

/** The chunks in one Buffer, with `roomBefore` bytes free before it for prependFields() (src/mime/prepend.ts). */
function joined(chunks: Buffer[], length: number, roomBefore: number): Buffer {
  if (roomBefore === 0) return Buffer.concat(chunks, length);
  const out = withRoomBefore(length, roomBefore);
  let at = 0;
  for (const chunk of chunks) at += chunk.copy(out, at);
  return out;
}

export function listenServer(server: SMTPServer, port: number, host: string): Promise<{ port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.server.once('error', onError);
    server.listen(port, host, () => {
      server.server.off('error', onError);
      const address = server.server.address();
      resolve({ port: typeof address === 'object' && address ? address.port : port });
    });
  });
}

export function closeServer(server: SMTPServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
