// The MX listener (port 25): accepts mail for hosted domains only and hands each message to the
// inbound pipeline; replies 250 only once every recipient's copy is durably stored.
import { senderAllowed } from '../inbound/sender-filter.ts';
import { domainOf } from '../inbound/message.ts';
import { metrics } from '../metrics/registry.ts';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerEnvelope, SMTPServerSession } from 'smtp-server';
import type { DnsResolver } from '../dns/resolver.ts';
import { DeliveryRefused } from '../inbound/deliver.ts';
import type { InboundMessage } from '../inbound/message.ts';
import { processMessage, silentLogger, type Logger, type PipelineOptions } from '../inbound/pipeline.ts';
import { resolveRecipient, type RecipientRoute } from '../inbound/route.ts';
import { StoreUnavailableError, type Store } from '../store/index.ts';
import { FailureThrottle } from '../security/throttle.ts';
import { ConnectionCounter, SlidingWindowLimiter } from './limits.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/schema.ts';
import { baseServerOptions, closeServer, listenServer, readMessage, smtpError, WrenSmtpServer } from './server.ts';

/**
 * Options of createMxServer:
 * - store, resolver (the process's one resolver), tls {key, cert} (STARTTLS), hostname (banner, Received, Authentication-Results)
 * - maxMessageBytes (SIZE is advertised; over it → 552 5.3.4)
 * - maxRecipients per transaction (RFC 5321 asks for at least 100); more → 452 4.5.3
 * - limits.maxConnections: whole listener, default 1000
 * - limits.maxConnectionsPerIp (more → 421 4.7.0 at connect)
 * - limits.messagesPerIpPerMinute: MAIL FROM commands per client IP per minute (more → 450 4.7.1)
 * - limits.idleTimeoutMs (RFC 5321 §4.5.3.2.7 server timeout)
 * - limits.badRcptPerConnection: refused recipients (unknown user, bad SRS hash, relaying) one
 *   connection may try; the one that reaches it gets 421 4.7.0 and the connection closes
 * - limits.badRcptPerIp / badRcptWindowMs: the same across connections of one client address;
 *   beyond it every RCPT gets 421 4.7.0 until the window frees
 * - limits.badRcptTarpitMs: each refused recipient is answered after k × this (k-th of the connection,
 *   at most 5 s): enumeration and hash guessing crawl
 *   (defaults of these: the [smtp] config section's, through mxSettings)
 * - postmaster: where RCPT TO:<postmaster> (no domain, RFC 5321 §4.5.1) goes; default postmaster@ the
 *   hosted domain of `hostname` (or a parent of it), else of the oldest hosted domain
 * - spam: { junkScore = 5, rejectScore = 15, scorers = [header rules] }
 * - reverseLookup: PTR lookup of clients through the resolver, default true
 * - logger: pino-compatible, default silent
 */
export interface MxServerOptions {
  store: Store;
  resolver: DnsResolver;
  tls: { key: string; cert: string };
  hostname: string;
  maxMessageBytes?: number;
  maxRecipients?: number;
  limits?: Partial<typeof MX_DEFAULTS>;
  postmaster?: string;
  spam?: PipelineOptions['spam'];
  reverseLookup?: boolean;
  /** SRS secret for forwarded mail (see src/inbound/srs.ts). */
  srsSecret?: string;
  /** Forwarding budgets (see src/inbound/forward-budget.ts). */
  forwardLimits?: PipelineOptions['forwardLimits'];
  logger?: Logger;
}

export interface MxServer {
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Stops accepting, lets sessions finish (up to 10 s), then resolves. */
  close(): Promise<void>;
}

/** The [smtp] config section as MX options: the server's settings and the defaults alike. */
export function mxSettings(c: Config['smtp']) {
  return {
    maxMessageBytes: c.max_message_bytes,
    maxRecipients: c.max_recipients,
    limits: {
      maxConnectionsPerIp: c.max_connections_per_ip,
      messagesPerIpPerMinute: c.messages_per_ip_per_minute,
      idleTimeoutMs: c.idle_timeout_ms,
      badRcptPerConnection: c.bad_rcpt_per_connection,
      badRcptPerIp: c.bad_rcpt_per_ip,
      badRcptWindowMs: c.bad_rcpt_window_ms,
      badRcptTarpitMs: c.bad_rcpt_tarpit_ms,
    },
    postmaster: c.postmaster,
  };
}

const configured = mxSettings(CONFIG_DEFAULTS.smtp);
export const MX_DEFAULTS = {
  maxMessageBytes: configured.maxMessageBytes,
  maxRecipients: configured.maxRecipients,
  /** All clients together (no config setting): smtp-server's guard against running out of sockets. */
  maxConnections: 1000,
  ...configured.limits,
};

/** Longest wait before answering a refused recipient. */
const MAX_TARPIT_MS = 5000;

export function createMxServer(options: MxServerOptions): MxServer {
  const { store, resolver, hostname } = options;
  const log = options.logger ?? silentLogger;
  const maxMessageBytes = options.maxMessageBytes ?? MX_DEFAULTS.maxMessageBytes;
  const limits = { ...MX_DEFAULTS, ...options.limits };
  const perIp = new ConnectionCounter(limits.maxConnectionsPerIp);
  const rate = new SlidingWindowLimiter(limits.messagesPerIpPerMinute, 60_000);
  const windows = store.kv.engine.shared ? store.kv.engine.windows : undefined;
  /** On a shared store, the per-address rate counted in the database: 0 when allowed, else seconds to wait. */
  const sharedRate =
    windows &&
    (async (ip: string): Promise<number> => {
      const limit = limits.messagesPerIpPerMinute;
      const now = Date.now();
      const { taken, times } = await windows.take(`mx/ip/${ip}`, now, 60_000, [{ limit, windowMs: 60_000 }]);
      return taken ? 0 : Math.max(1, Math.ceil((times[times.length - limit]! + 60_000 - now) / 1000));
    });
  const badRcptByIp = new FailureThrottle(limits.badRcptPerIp, limits.badRcptWindowMs);
  const badRcpts = new Map<string, number>(); // session id → refused recipients so far
  const counted = new Set<string>(); // sessions holding a per-IP slot
  const closers = new Map<string, () => void>(); // session id → its open-connection gauge release
  const transactions = new WeakMap<SMTPServerEnvelope, Map<string, RecipientRoute>>();
  const pipeline: PipelineOptions = {
    store,
    resolver,
    hostname,
    spam: options.spam,
    srsSecret: options.srsSecret,
    forwardLimits: options.forwardLimits,
    logger: log,
  };

  const server = new WrenSmtpServer({
    ...baseServerOptions({
      hostname,
      tls: options.tls,
      maxMessageBytes,
      maxRecipients: options.maxRecipients ?? MX_DEFAULTS.maxRecipients,
      idleTimeoutMs: limits.idleTimeoutMs,
      maxConnections: limits.maxConnections,
    }),
    disabledCommands: ['AUTH'],
    disableReverseLookup: options.reverseLookup === false,
    resolver: {
      reverse: (ip, callback) =>
        void resolver.ptr(ip).then(
          (names) => callback(null, names),
          (err: Error) => callback(err),
        ),
    },

    onConnect(session, callback) {
      if (!perIp.acquire(session.remoteAddress)) {
        log.warn({ ip: session.remoteAddress }, 'too many connections from one address');
        return callback(smtpError(421, '4.7.0', 'Too many connections from your address, try again later'));
      }
      counted.add(session.id);
      closers.set(session.id, metrics.connectionOpened('smtp-mx'));
      callback();
    },

    onClose(session) {
      closers.get(session.id)?.();
      closers.delete(session.id);
      badRcpts.delete(session.id);
      if (counted.delete(session.id)) perIp.release(session.remoteAddress);
    },

    onMailFrom(_address, session, callback) {
      const tooMany = (wait: number) =>
        callback(smtpError(450, '4.7.1', `Too many messages from your address, try again in ${wait} s`));
      if (sharedRate) {
        // Several nodes on one store: one count per address for all of them (docs/ARCHITECTURE.md §4.8).
        void sharedRate(session.remoteAddress).then(
          (wait) => {
            if (wait) return tooMany(wait);
            transactions.set(session.envelope, new Map());
            callback();
          },
          () => callback(smtpError(451, '4.3.0', 'Temporary failure, try again later')),
        );
        return;
      }
      if (!rate.hit(session.remoteAddress)) return tooMany(rate.retryAfterSeconds(session.remoteAddress));
      transactions.set(session.envelope, new Map());
      callback();
    },

    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback) {
      const ip = session.remoteAddress;
      if (badRcptByIp.blocked(ip)) {
        log.warn({ session: session.id, ip }, 'too many refused recipients from this address, closing');
        return callback(
          smtpError(
            421,
            '4.7.0',
            `Too many invalid recipients from your address, try again in ${badRcptByIp.retryAfterSeconds(ip)} s`,
          ),
        );
      }
      const { mailFrom } = session.envelope;
      const args = mailFrom ? mailFrom.args : false; // smtp-server types both as `false | …`
      const declared = Number((args ? args.SIZE : 0) || 0);
      resolveMxRecipient(address.address, declared).then(
        (decision) => {
          if (!decision.ok) {
            const { code, enhanced, text } = decision.refusal;
            if (code < 500) return callback(smtpError(code, enhanced, text));
            return refuseRecipient(session, address.address, smtpError(code, enhanced, text), callback);
          }
          return applySenderFilters(
            decision.route,
            session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          ).then(
            (route) => {
              if (!route) return callback(smtpError(550, '5.7.1', 'Sender not accepted by this recipient'));
              transactions.get(session.envelope)?.set(route.rcpt, route);
              callback();
            },
            (err: Error) => {
              log.error({ err, rcpt: address.address }, 'sender filter lookup failed');
              callback(smtpError(451, '4.3.0', 'Temporary failure, try again later'));
            },
          );
        },
        (err: Error) => {
          log.error({ err, rcpt: address.address }, 'recipient lookup failed');
          callback(smtpError(451, '4.3.0', 'Temporary failure, try again later'));
        },
      );
    },

    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const receivedAt = Date.now();
      handleData(stream, session, receivedAt).then(
        (reply) => callback(null, reply),
        (err: Error) => callback(err),
      );
    },
  });
  server.on('error', (err) => log.warn({ err }, 'smtp connection error'));

  /**
   * Every permanently refused recipient (no such user, forged SRS, relaying) counts against the
   * connection and the client address, and is answered late: the delay grows with each one, and the
   * one that reaches a limit gets 421 4.7.0 and the connection is closed. This is what stops both
   * mailbox enumeration and guessing an SRS hash (each guess is a refused RCPT).
   */
  function refuseRecipient(
    session: SMTPServerSession,
    rcpt: string,
    refusal: Error,
    callback: (err?: Error | null) => void,
  ): void {
    const ip = session.remoteAddress;
    const count = (badRcpts.get(session.id) ?? 0) + 1;
    badRcpts.set(session.id, count);
    badRcptByIp.fail(ip);
    const limited = count >= limits.badRcptPerConnection || badRcptByIp.blocked(ip);
    if (limited)
      log.warn(
        { session: session.id, ip, rcpt, refused: count, refusedFromIp: badRcptByIp.count(ip) },
        'too many refused recipients, closing',
      );
    else log.info({ session: session.id, ip, rcpt }, 'recipient refused');
    const reply = limited ? smtpError(421, '4.7.0', 'Too many invalid recipients, closing connection') : refusal;
    setTimeout(() => callback(reply), Math.min(MAX_TARPIT_MS, count * limits.badRcptTarpitMs));
  }

  /**
   * resolveRecipient, plus the postmaster RFC 5321 §4.5.1 requires every server to accept: the bare
   * "postmaster", and postmaster@ any hosted domain that has no such mailbox or alias of its own.
   */
  async function resolveMxRecipient(rcpt: string, size: number) {
    const resolve = (address: string) => resolveRecipient(store, address, size, { srsSecret: options.srsSecret });
    const [local, domain] = rcpt.toLowerCase().split('@');
    if (local !== 'postmaster') return resolve(rcpt);
    if (domain !== undefined) {
      const own = await resolve(rcpt);
      if (own.ok || !(await store.domains.get(domain))) return own;
    }
    const address = await postmasterAddress();
    const decision = await resolve(address);
    if (!decision.ok)
      log.error({ postmaster: address }, 'mail to postmaster refused: give the postmaster address an account or alias');
    return decision;
  }

  async function postmasterAddress(): Promise<string> {
    if (options.postmaster) return options.postmaster;
    const labels = hostname.toLowerCase().split('.');
    for (let i = 0; i < labels.length - 1; i++) {
      const domain = labels.slice(i).join('.');
      if (await store.domains.get(domain)) return `postmaster@${domain}`;
    }
    const domains = [];
    for (const team of await store.teams.list()) domains.push(...(await store.domains.listForTeam(team.id)));
    const oldest = domains.sort((a, b) => a.createdAt - b.createdAt)[0];
    return `postmaster@${oldest?.name ?? hostname}`;
  }

  /** Drops the accounts whose sender filters refuse `sender`; null when nobody is left to deliver to. */
  async function applySenderFilters(route: RecipientRoute, sender: string): Promise<RecipientRoute | null> {
    const accounts = [];
    for (const routed of route.accounts) {
      const domain = await store.domains.get(domainOf(routed.account.address));
      if (senderAllowed(routed.account, domain, sender)) accounts.push(routed);
    }
    if (accounts.length === 0 && route.forwards.length === 0) return null;
    return { ...route, accounts };
  }

  async function handleData(
    stream: SMTPServerDataStream,
    session: SMTPServerSession,
    receivedAt: number,
  ): Promise<string> {
    const { raw, bareNewline } = await readMessage(stream, maxMessageBytes);
    if (!raw) return 'over size'; // smtp-server answers 552 5.3.4 itself (rejectOversized)
    if (bareNewline) {
      log.warn({ session: session.id, ip: session.remoteAddress }, 'bare CR or LF in message, refused');
      throw smtpError(550, '5.5.2', 'Message refused: bare CR or LF line ending (lines must end with CRLF)');
    }
    const routes = [...(transactions.get(session.envelope)?.values() ?? [])];
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    const message: InboundMessage = {
      id: `${session.id}.${session.transaction}`,
      raw,
      mailFrom,
      rcptTo: routes.map((r) => r.rcpt),
      client: {
        ip: session.remoteAddress,
        helo: session.hostNameAppearsAs || '',
        hostname: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : null,
        protocol: session.transmissionType || 'ESMTP',
      },
      receivedAt,
    };
    try {
      const result = await processMessage(message, routes, pipeline);
      return `Ok: delivered as ${message.id}${result.verdict === 'junk' ? ' (junk)' : ''}`;
    } catch (err) {
      if (err instanceof DeliveryRefused) {
        metrics.delivery('inbound', 'rejected');
        log.info({ id: message.id, code: err.refusal.code, reason: err.refusal.text }, 'message refused');
        throw smtpError(err.refusal.code, err.refusal.enhanced, err.refusal.text);
      }
      log.error({ err, id: message.id }, 'delivery failed');
      // Disk full or failing: nothing was stored (RFC 3463 4.3.1 "mail system full").
      if (err instanceof StoreUnavailableError)
        throw smtpError(452, '4.3.1', 'Insufficient system storage, try again later');
      throw smtpError(451, '4.3.0', 'Temporary failure while storing the message, try again later');
    }
  }

  return {
    listen: (port, host = '0.0.0.0') => listenServer(server, port, host),
    close: () => closeServer(server),
  };
}
