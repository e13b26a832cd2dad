// One SMTP client session to a remote MX or relay, on nodemailer's SMTP connection: opportunistic
// STARTTLS by default (a failed upgrade continues in plain text, certificates are not checked, as
// between MTAs), or TLS required with the certificate checked against the MX name (MTA-STS enforce,
// relays), or implicit TLS. Replies are classified per recipient: 2xx delivered, 4xx deferred, 5xx bounced.
import { isIP } from 'node:net';
import type { NodemailerError } from 'nodemailer/lib/errors';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpTarget {
  /** Address (or name) to connect to. */
  host: string;
  port: number;
  /** Name the certificate must carry (the MX host name); also sent as SNI. */
  servername?: string;
  tls: 'opportunistic' | 'required' | 'implicit' | 'none';
  verifyCertificate: boolean;
  /** Extra trusted CA certificates (PEM), e.g. a private relay's. */
  ca?: string[];
  auth?: { user: string; pass: string } | null;
  /** Our name in EHLO. */
  helo: string;
  localAddress?: string;
  connectTimeoutMs?: number;
  /** Inactivity limit per command (RFC 5321 §4.5.3.2 suggests minutes; we stay shorter). */
  socketTimeoutMs?: number;
}

export interface RecipientReply {
  address: string;
  code: number;
  response: string;
}

export interface SendResult {
  accepted: string[];
  rejected: RecipientReply[];
  /** The reply to the end of DATA (or to the last RCPT when every recipient was refused). */
  response: string;
}

/** A failure of the whole session or transaction; `code` is the SMTP reply code when the server gave one. */
export class SmtpFailure extends Error {
  readonly code: number | null;
  readonly response: string;
  /** Nothing was said to the server about this message yet: the next MX may be tried. */
  readonly beforeTransaction: boolean;
  constructor(message: string, code: number | null, response: string, beforeTransaction: boolean) {
    super(message);
    this.code = code;
    this.response = response;
    this.beforeTransaction = beforeTransaction;
  }

  get permanent(): boolean {
    return this.code !== null && this.code >= 500 && this.code !== 503;
  }
}

const replyCode = (response: string | undefined): number => Number(/^(\d{3})/.exec(response ?? '')?.[1] ?? 0);

function failure(err: NodemailerError, beforeTransaction: boolean): SmtpFailure {
  // A refused STARTTLS where TLS is required is a TLS failure, not the server's reply code (often a
  // 500 "command not recognized"), and the log has to say so.
  if (err.code === 'ETLS') return new SmtpFailure(err.message, null, `ETLS ${err.message}`, beforeTransaction);
  const response = err.response?.trim() || `${err.code ?? 'ERROR'} ${err.message}`;
  // A reply at connection setup (421 greeting, refused EHLO) ends this host's session, not the message.
  return new SmtpFailure(err.message, err.responseCode ?? null, response, beforeTransaction);
}

export class SmtpSession {
  readonly target: SmtpTarget;
  private readonly connection: SMTPConnection;
  private closed = false;
  /** The session's error before a command caught it (socket closed, timeout). */
  private lastError: NodemailerError | null = null;

  private constructor(target: SmtpTarget, connection: SMTPConnection) {
    this.target = target;
    this.connection = connection;
  }

  /** Connects, says EHLO, upgrades to TLS as the target asks and logs in when it has credentials. */
  static open(target: SmtpTarget): Promise<SmtpSession> {
    const connection = new SMTPConnection({
      host: target.host,
      port: target.port,
      secure: target.tls === 'implicit',
      requireTLS: target.tls === 'required',
      opportunisticTLS: target.tls === 'opportunistic',
      ignoreTLS: target.tls === 'none',
      // SNI carries names only (RFC 6066); an IP target is checked against its IP.
      servername: target.servername && !isIP(target.servername) ? target.servername : undefined,
      name: target.helo,
      localAddress: target.localAddress,
      connectionTimeout: target.connectTimeoutMs ?? 30_000,
      greetingTimeout: target.connectTimeoutMs ?? 30_000,
      socketTimeout: target.socketTimeoutMs ?? 120_000,
      allowInternalNetworkInterfaces: true,
      logger: false,
      tls: {
        rejectUnauthorized: target.verifyCertificate,
        ...(target.ca ? { ca: target.ca } : {}),
        ...(target.verifyCertificate ? {} : { checkServerIdentity: () => undefined }),
      },
    });
    const session = new SmtpSession(target, connection);
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: NodemailerError) => {
        session.lastError = err;
        session.closed = true;
        if (settled) return;
        settled = true;
        connection.close();
        reject(failure(err, true));
      };
      connection.on('error', fail);
      connection.once('end', () => {
        session.closed = true;
        fail(Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }) as NodemailerError);
      });
      connection.connect(() => {
        if (settled) return;
        if (!target.auth) {
          settled = true;
          return resolve(session);
        }
        connection.login({ user: target.auth.user, pass: target.auth.pass }, (err) => {
          if (settled) return;
          if (err) return fail(err as NodemailerError);
          settled = true;
          resolve(session);
        });
      });
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  /** TLS in use for this session (STARTTLS done or implicit). */
  get tls(): boolean {
    return this.connection.secure;
  }

  /** Sends one message; per-recipient refusals come back in the result, a refused transaction throws. */
  send(envelope: { from: string; to: string[] }, raw: Buffer): Promise<SendResult> {
    if (this.closed)
      return Promise.reject(
        failure(
          this.lastError ?? (Object.assign(new Error('Connection closed'), { code: 'ECONNECTION' }) as NodemailerError),
          true,
        ),
      );
    return new Promise((resolve, reject) => {
      this.connection.send(
        { from: envelope.from || false, to: envelope.to, size: raw.length, use8BitMime: true },
        raw,
        (err, info) => {
          if (err) {
            const e = err as NodemailerError;
            // Every recipient refused: report them one by one, as a partial refusal would be.
            if (e.command === 'RCPT TO' && e.rejectedErrors?.length) {
              return resolve({ accepted: [], rejected: rejectedReplies(e.rejectedErrors), response: e.response ?? '' });
            }
            return reject(failure(e, false));
          }
          const result = info as unknown as {
            accepted: string[];
            rejectedErrors?: NodemailerError[];
            response: string;
          };
          resolve({
            accepted: result.accepted,
            rejected: rejectedReplies(result.rejectedErrors ?? []),
            response: String(result.response ?? '').trim(),
          });
        },
      );
    });
  }

  /** RSET between messages on a reused session. */
  reset(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.connection.reset((err) => (err ? reject(failure(err as NodemailerError, true)) : resolve())),
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection.quit();
    // quit() waits for the reply; make sure the socket goes even if the peer says nothing.
    setTimeout(() => this.connection.close(), 1000).unref();
  }
}

function rejectedReplies(errors: NodemailerError[]): RecipientReply[] {
  return errors.map((e) => ({
    address: e.recipient ?? '',
    code: e.responseCode ?? replyCode(e.response),
    response: (e.response ?? e.message).trim(),
  }));
}
