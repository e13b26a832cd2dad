// The submission listeners (587 with STARTTLS, 465 with implicit TLS): authenticated accounts send
// as their own addresses and aliases only, within their sending limits. Each message is DKIM-signed
// with its From domain's keys and queued; the 250 comes only once the queue batch is on disk.
import { metrics } from '../metrics/registry.ts';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pino, type Logger } from 'pino';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { parseHeaders } from '../mime/parsed-headers.ts';
import type { LoginService } from '../security/login.ts';
import { sessionRegistry } from '../security/sessions.ts';
import { type Account, type Store, StoreConflictError, StoreReadError, StoreUnavailableError } from '../store/index.ts';
import { splitAddress } from '../store/addresses.ts';
import type { Queue } from '../store/queue.ts';
import {
  canonicalLineEnds,
  checkSubmittedHeader,
  completeHeader,
  mayUseAddress,
  SendLimitExceeded,
  sendingSubject,
  submitMessage,
} from '../outbound/submit.ts';
import { ConnectionCounter } from './limits.ts';
import { baseServerOptions, closeServer, listenServer, readMessage, smtpError, WrenSmtpServer } from './server.ts';
import { SEND_LIMIT_DEFAULTS, type SendingLimits } from '../store/sends.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

/**
 * Options of createSubmissionServer:
 * - store; login: the shared LoginService (per-IP and per-account failure throttling)
 * - queue: where accepted messages go (store.queue)
 * - tls {key, cert}; hostname (banner, Message-ID of messages that lack one)
 * - implicitTls: true for 465 (TLS from the first byte), false for 587 (STARTTLS required before AUTH)
 * - maxMessageBytes; maxRecipients: per message
 * - limits.perHour / limits.perDay: messages per account (0: none; over → 451 4.7.1);
 *   one budget in the store, shared with every other listener and the Sending API
 * - limits.maxConnectionsPerIp; limits.idleTimeoutMs
 *   (defaults of these: the [smtp] config section's, as the server passes them)
 * - logger: pino, default silent
 */
export interface SubmissionServerOptions {
  store: Store;
  login: LoginService;
  queue: Pick<Queue, 'enqueue'>;
  tls: { key: string; cert: string };
  hostname: string;
  implicitTls?: boolean;
  maxMessageBytes?: number;
  maxRecipients?: number;
  limits?: Partial<SendingLimits> & { maxConnectionsPerIp?: number; idleTimeoutMs?: number };
  logger?: Logger;
}

export interface SubmissionServer {
  listen(port: number, host?: string): Promise<{ port: number }>;
  close(): Promise<void>;
}

export const SUBMISSION_DEFAULTS = {
  maxMessageBytes: CONFIG_DEFAULTS.smtp.max_message_bytes,
  maxRecipients: CONFIG_DEFAULTS.smtp.max_recipients,
  ...SEND_LIMIT_DEFAULTS,
  maxConnectionsPerIp: CONFIG_DEFAULTS.smtp.max_connections_per_ip,
  idleTimeoutMs: CONFIG_DEFAULTS.smtp.idle_timeout_ms,
};

export { canonicalLineEnds, mayUseAddress };

/**
 * With AUTH withheld before TLS, smtp-server answers an AUTH command there with "500 unrecognized";
 * RFC 4954 §4 has the proper reply, which tells the client what to do.
 */
class SubmissionSmtpServer extends WrenSmtpServer {
  /** Says 421 to one connection and closes it (RFC 5321 §3.8). */
  endSession(sessionId: string, text: string): void {
    for (const connection of this.connections) {
      const c = connection as unknown as { id: string; send: (code: number, data: string) => void; close: () => void };
      if (c.id !== sessionId) continue;
      c.send(421, text);
      c.close();
    }
  }

  override connect(socket: Socket | TLSSocket, socketOptions?: Parameters<WrenSmtpServer['connect']>[1]): void {
    super.connect(socket, socketOptions);
    const connection = [...this.connections].at(-1); // the one super.connect just added
    if (!connection) return;
    const state = connection as unknown as {
      secure: boolean;
      send: (code: number, data?: unknown, context?: unknown) => void;
    };
    const send = state.send.bind(connection);
    state.send = (code, data, context) =>
      code === 500 && context === 'AUTH' && !state.secure
        ? send(538, '5.7.11 Encryption required: issue STARTTLS first', false)
        : send(code, data, context);
  }
}

export function createSubmissionServer(options: SubmissionServerOptions): SubmissionServer {
  const { store, login, queue, hostname } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const maxMessageBytes = options.maxMessageBytes ?? SUBMISSION_DEFAULTS.maxMessageBytes;
  const sendLimits: SendingLimits = {
    perHour: options.limits?.perHour ?? SUBMISSION_DEFAULTS.perHour,
    perDay: options.limits?.perDay ?? SUBMISSION_DEFAULTS.perDay,
  };
  const limitReply = (limit: string, retryAfterSeconds: number) =>
    smtpError(451, '4.7.1', `Sending limit reached (${limit}), try again in ${retryAfterSeconds} s`);
  const perIp = new ConnectionCounter(options.limits?.maxConnectionsPerIp ?? SUBMISSION_DEFAULTS.maxConnectionsPerIp);
  const counted = new Set<string>();
  const closers = new Map<string, () => void>(); // session id → its open-connection gauge release
  const accounts = new Map<string, Account>(); // session id → authenticated account
  const unregisters = new Map<string, () => void>(); // session id → its live-session registration

  const server = new SubmissionSmtpServer({
    ...baseServerOptions({
      hostname,
      tls: options.tls,
      maxMessageBytes,
      maxRecipients: options.maxRecipients ?? SUBMISSION_DEFAULTS.maxRecipients,
      idleTimeoutMs: options.limits?.idleTimeoutMs ?? SUBMISSION_DEFAULTS.idleTimeoutMs,
    }),
    secure: !!options.implicitTls,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    allowInsecureAuth: false,
    disableReverseLookup: true,

    onConnect(session, callback) {
      if (!perIp.acquire(session.remoteAddress)) {
        return callback(smtpError(421, '4.7.0', 'Too many connections from your address, try again later'));
      }
      counted.add(session.id);
      closers.set(session.id, metrics.connectionOpened('smtp-submission'));
      // AUTH is neither offered nor accepted before TLS: credentials never cross in plain text.
      if (!session.secure) session.disabledCommands = ['AUTH'];
      callback();
    },

    onSecure(_socket, session, callback) {
      session.disabledCommands = [];
      callback();
    },

    onClose(session) {
      closers.get(session.id)?.();
      closers.delete(session.id);
      accounts.delete(session.id);
      unregisters.get(session.id)?.();
      unregisters.delete(session.id);
      if (counted.delete(session.id)) perIp.release(session.remoteAddress);
    },

    onAuth(auth, session, callback) {
      const authzid = auth.method === 'PLAIN' ? ((auth as { authzid?: string }).authzid ?? '') : '';
      login
        .login(auth.username ?? '', auth.password ?? '', session.remoteAddress, { permission: 'email.send', authzid })
        .then(
          (result) => {
            metrics.login('smtp-submission', result.ok ? 'ok' : result.reason);
            if (result.ok) {
              accounts.set(session.id, result.account);
              // A revoked key, a new password or a suspension ends the session: 421 4.7.0, then close.
              unregisters.set(
                session.id,
                sessionRegistry(store).register({
                  protocol: 'smtp-submission',
                  accountId: result.account.id,
                  credential: result.credential,
                  expiresAt: result.expiresAt,
                  passwordHash: result.account.passwordHash,
                  end: (reason) => server.endSession(session.id, `4.7.0 Session ended: ${reason}`),
                }),
              );
              log.info({ session: session.id, account: result.account.id, method: auth.method }, 'submission login');
              return callback(null, { user: result.account.id });
            }
            log.info(
              { session: session.id, ip: session.remoteAddress, reason: result.reason },
              'submission login refused',
            );
            if (result.reason === 'throttled') {
              return callback(
                smtpError(454, '4.7.0', `Too many failed logins, try again in ${result.retryAfterSeconds ?? 60} s`),
              );
            }
            if (result.reason === 'suspended') return callback(smtpError(535, '5.7.13', 'Account suspended'));
            if (result.reason === 'authzid')
              return callback(smtpError(535, '5.7.8', 'Authorization identity must be empty or your own user name'));
            callback(smtpError(535, '5.7.8', 'Authentication credentials invalid'));
          },
          (err: Error) => {
            log.error({ err }, 'login failed');
            callback(smtpError(454, '4.7.0', 'Temporary authentication failure'));
          },
        );
    },

    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback) {
      const account = accounts.get(session.id);
      if (!account) return callback(smtpError(530, '5.7.0', 'Authentication required'));
      if (!address.address) return callback(smtpError(553, '5.7.1', 'The null sender is not accepted on submission'));
      // An early answer; the message is counted (atomically) when it is queued.
      Promise.all([
        store.sends.check(sendingSubject(account), sendLimits),
        mayUseAddress(store, account, address.address),
      ]).then(
        ([limit, ok]) => {
          if (!limit.ok) {
            log.info({ account: account.id, limit: limit.limit }, 'sending limit reached');
            return callback(limitReply(limit.limit, limit.retryAfterSeconds));
          }
          callback(ok ? null : smtpError(553, '5.7.1', `Sender address <${address.address}> is not yours`));
        },
        (err: Error) => {
          log.error({ err }, 'sender check failed');
          callback(smtpError(451, '4.3.0', 'Temporary failure, try again later'));
        },
      );
    },

    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const { local, domain } = splitAddress(address.address);
      if (!local || !domain?.includes('.')) return callback(smtpError(501, '5.1.3', 'Bad recipient address syntax'));
      callback();
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      handleData(stream, session).then(
        (reply) => callback(null, reply),
        (err: Error) => callback(err),
      );
    },
  });
  server.on('error', (err) => log.warn({ err }, 'submission connection error'));

  async function handleData(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<string> {
    const { raw: received } = await readMessage(stream, maxMessageBytes);
    if (!received) return 'over size'; // smtp-server answers 552 itself (rejectOversized)
    const known = accounts.get(session.id);
    const account = known && (await store.accounts.get(known.id));
    if (account?.state !== 'active') throw smtpError(535, '5.7.13', 'Account suspended');
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const rcpts = session.envelope.rcptTo.map((r) => r.address);

    const raw = completeHeader(canonicalLineEnds(received), hostname);
    const refusal = await checkSubmittedHeader(store, account, parseHeaders(raw));
    if (refusal) {
      log.info({ session: session.id, account: account.id, reason: refusal.text }, 'submitted message refused');
      throw smtpError(refusal.code, refusal.enhanced, refusal.text);
    }
    const queued = await submitMessage(
      store,
      queue,
      { teamId: account.teamId, account, from: mailFrom, to: rcpts, raw, limits: sendLimits },
      log,
    ).catch((err: unknown) => {
      if (err instanceof SendLimitExceeded) throw limitReply(err.limit, err.retryAfterSeconds);
      // Nothing was queued: the store could not be written or read now, or other nodes kept changing
      // what it needed (RFC 3463 4.3.0), not smtp-server's default 450 4.2.1 "mailbox busy".
      if (err instanceof StoreUnavailableError || err instanceof StoreConflictError || err instanceof StoreReadError)
        throw smtpError(451, '4.3.0', 'Temporary failure while queueing the message, try again later');
      throw err;
    });
    log.info(
      { session: session.id, account: account.id, message: queued.messageId, rcpts: rcpts.length, size: raw.length },
      'message submitted',
    );
    return `Ok: queued as ${queued.messageId}`;
  }

  return {
    listen: (port, host = '0.0.0.0') => listenServer(server, port, host),
    close: () => closeServer(server),
  };
}
