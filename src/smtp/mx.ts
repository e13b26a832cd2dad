// The MX listener (port 25): accepts mail for hosted domains only and hands each message to the
// inbound pipeline; replies 250 only once every recipient's copy is durably stored.
import { senderAllowed } from '../inbound/sender-filter.ts';
import { domainOf } from '../inbound/message.ts';
import { metrics } from '../metrics/registry.ts';
import type { SMTPServerDataStream, SMTPServerEnvelope, SMTPServerSession } from 'smtp-server';
import type { DnsResolver } from '../dns/resolver.ts';
import { DeliveryRefused } from '../inbound/deliver.ts';
import type { InboundMessage } from '../inbound/message.ts';
import { processMessage, silentLogger, type Logger, type PipelineOptions } from '../inbound/pipeline.ts';
import { resolveRecipient, type RecipientRoute } from '../inbound/route.ts';
import { StoreUnavailableError, type Store } from '../store/index.ts';
import type { EngineWindows } from '../store/engine.ts';
import { FailureThrottle } from '../security/throttle.ts';
import { ConnectionCounter, SlidingWindowLimiter } from './limits.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/schema.ts';
import {
  baseServerOptions,
  closeServer,
  listenServer,
  readMessage,
  smtpError,
  type SmtpReplyError,
  WrenSmtpServer,
} from './server.ts';

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
  /** Spam auto-learning (see src/spam/autolearn.ts); absent: off. */
  autoLearn?: PipelineOptions['autoLearn'];
  /** Greylisting of suspect mail (see src/store/greylist.ts); absent: off. */
  greylist?: PipelineOptions['greylist'];
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

/**
 * One MX listener's settings and what it tracks across sessions; every step below takes it. The steps
 * run in session order: connection, MAIL FROM, RCPT TO (routing, then sender filters), DATA (read,
 * then the inbound pipeline), each answering with an SMTP reply error or nothing.
 */
interface MxContext {
  options: MxServerOptions;
  store: Store;
  resolver: DnsResolver;
  hostname: string;
  log: Logger;
  maxMessageBytes: number;
  limits: typeof MX_DEFAULTS;
  perIp: ConnectionCounter;
  rate: SlidingWindowLimiter;
  /** Shared store: the per-address rate counted in the database, for every node (0: allowed, else seconds to wait). */
  sharedRate: ((ip: string) => Promise<number>) | undefined;
  badRcptByIp: FailureThrottle;
  /** Shared store: sessions that have read their address's refused recipients from the database. */
  refusalsRead: Set<string>;
  badRcpts: Map<string, number>; // session id → refused recipients so far
  counted: Set<string>; // sessions holding a per-IP slot
  closers: Map<string, () => void>; // session id → its open-connection gauge release
  transactions: WeakMap<SMTPServerEnvelope, Map<string, RecipientRoute>>; // envelope → accepted routes by rcpt
  pipeline: PipelineOptions;
}

export function createMxServer(options: MxServerOptions): MxServer {
  const ctx = mxContext(options);
  const { resolver, limits } = ctx;

  const server = new WrenSmtpServer({
    ...baseServerOptions({
      hostname: ctx.hostname,
      tls: options.tls,
      maxMessageBytes: ctx.maxMessageBytes,
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
    onConnect: (session, callback) => callback(admitConnection(ctx, session)),
    onClose: (session) => releaseConnection(ctx, session),
    onMailFrom: (_address, session, callback) =>
      ctx.sharedRate
        ? answer(startSharedTransaction(ctx, session), callback)
        : callback(startTransaction(ctx, session)),
    onRcptTo: (address, session, callback) => answer(acceptRecipient(ctx, address.address, session), callback),
    onData: (stream, session, callback) => answer(receiveMessage(ctx, stream, session, Date.now()), callback),
  });
  server.on('error', (err) => ctx.log.warn({ err }, 'smtp connection error'));

  return {
    listen: (port, host = '0.0.0.0') => listenServer(server, port, host),
    close: () => closeServer(server),
  };
}

function mxContext(options: MxServerOptions): MxContext {
  const { store, resolver, hostname } = options;
  const log = options.logger ?? silentLogger;
  const limits = { ...MX_DEFAULTS, ...options.limits };
  const windows = store.kv.engine.shared ? store.kv.engine.windows : undefined;
  return {
    options,
    store,
    resolver,
    hostname,
    log,
    maxMessageBytes: options.maxMessageBytes ?? MX_DEFAULTS.maxMessageBytes,
    limits,
    perIp: new ConnectionCounter(limits.maxConnectionsPerIp),
    rate: new SlidingWindowLimiter(limits.messagesPerIpPerMinute, 60_000),
    sharedRate: sharedRate(windows, limits.messagesPerIpPerMinute),
    // Shared store: refused recipients per client address counted for every node.
    badRcptByIp: new FailureThrottle(
      limits.badRcptPerIp,
      limits.badRcptWindowMs,
      windows && { windows, prefix: 'mx/refused' },
    ),
    refusalsRead: new Set(),
    badRcpts: new Map(),
    counted: new Set(),
    closers: new Map(),
    transactions: new WeakMap(),
    pipeline: {
      store,
      resolver,
      hostname,
      spam: options.spam,
      srsSecret: options.srsSecret,
      forwardLimits: options.forwardLimits,
      autoLearn: options.autoLearn,
      greylist: options.greylist,
      logger: log,
    },
  };
}

/** A step's promise as an smtp-server callback: its value is the reply, its error the refusal. */
function answer<T>(work: Promise<T>, callback: (err: Error | null, value?: T) => void): void {
  work.then(
    (value) => callback(null, value),
    (err: Error) => callback(err),
  );
}

// ── Connection ──────────────────────────────────────────────────────────────────────────────────────

/** The per-address connection limit (421 4.7.0 at connect); an admitted session is counted until closed. */
function admitConnection(ctx: MxContext, session: SMTPServerSession): SmtpReplyError | undefined {
  if (!ctx.perIp.acquire(session.remoteAddress)) {
    ctx.log.warn({ ip: session.remoteAddress }, 'too many connections from one address');
    return smtpError(421, '4.7.0', 'Too many connections from your address, try again later');
  }
  ctx.counted.add(session.id);
  ctx.closers.set(session.id, metrics.connectionOpened('smtp-mx'));
  return undefined;
}

function releaseConnection(ctx: MxContext, session: SMTPServerSession): void {
  ctx.closers.get(session.id)?.();
  ctx.closers.delete(session.id);
  ctx.badRcpts.delete(session.id);
  ctx.refusalsRead.delete(session.id);
  if (ctx.counted.delete(session.id)) ctx.perIp.release(session.remoteAddress);
}

// ── MAIL FROM ───────────────────────────────────────────────────────────────────────────────────────

const tooManyMessages = (wait: number): SmtpReplyError =>
  smtpError(450, '4.7.1', `Too many messages from your address, try again in ${wait} s`);

/** The per-address message rate (450 4.7.1); an accepted MAIL FROM starts an empty set of routes. */
function startTransaction(ctx: MxContext, session: SMTPServerSession): SmtpReplyError | undefined {
  if (!ctx.rate.hit(session.remoteAddress)) return tooManyMessages(ctx.rate.retryAfterSeconds(session.remoteAddress));
  ctx.transactions.set(session.envelope, new Map());
  return undefined;
}

/**
 * Several nodes on one store: one count per address for all of them (docs/ARCHITECTURE.md §4.8). When
 * the database cannot count (an error under load, a restart), this node's own count decides: a rate
 * limit must not refuse mail the store could otherwise take.
 */
async function startSharedTransaction(ctx: MxContext, session: SMTPServerSession): Promise<void> {
  let wait: number;
  try {
    wait = await ctx.sharedRate!(session.remoteAddress);
  } catch (err) {
    ctx.log.warn({ err, ip: session.remoteAddress }, 'shared message rate not counted; this node counts');
    const local = startTransaction(ctx, session);
    if (local) throw local;
    return;
  }
  if (wait) throw tooManyMessages(wait);
  ctx.transactions.set(session.envelope, new Map());
}

function sharedRate(windows: EngineWindows | undefined, limit: number): MxContext['sharedRate'] {
  if (!windows) return undefined;
  return async (ip) => {
    const now = Date.now();
    const { taken, times } = await windows.take(`mx/ip/${ip}`, now, 60_000, [{ limit, windowMs: 60_000 }]);
    return taken ? 0 : Math.max(1, Math.ceil((times[times.length - limit]! + 60_000 - now) / 1000));
  };
}

// ── RCPT TO ─────────────────────────────────────────────────────────────────────────────────────────

/**
 * In order: the client address's refused-recipient budget (421 4.7.0), routing (a temporary refusal as
 * is, a permanent one through refuseRecipient), then the recipients' sender filters (550 5.7.1). An
 * accepted route joins the transaction. A failing lookup is 451 4.3.0.
 */
async function acceptRecipient(ctx: MxContext, rcpt: string, session: SMTPServerSession): Promise<void> {
  const ip = session.remoteAddress;
  // Once per session (shared store: a read of the database), then after each refusal below.
  if (ctx.badRcptByIp.isShared && !ctx.refusalsRead.has(session.id)) {
    await lookup(ctx, rcpt, 'refused-recipient count lookup failed', FailureThrottle.refresh([[ctx.badRcptByIp, ip]]));
    ctx.refusalsRead.add(session.id);
  }
  if (ctx.badRcptByIp.blocked(ip)) {
    ctx.log.warn({ session: session.id, ip }, 'too many refused recipients from this address, closing');
    throw smtpError(
      421,
      '4.7.0',
      `Too many invalid recipients from your address, try again in ${ctx.badRcptByIp.retryAfterSeconds(ip)} s`,
    );
  }
  const { mailFrom } = session.envelope;
  const args = mailFrom ? mailFrom.args : false; // smtp-server types both as `false | …`
  const declared = Number((args ? args.SIZE : 0) || 0);
  const decision = await lookup(ctx, rcpt, 'recipient lookup failed', resolveMxRecipient(ctx, rcpt, declared));
  if (!decision.ok) {
    const { code, enhanced, text } = decision.refusal;
    if (code < 500) throw smtpError(code, enhanced, text);
    throw await refuseRecipient(ctx, session, rcpt, smtpError(code, enhanced, text));
  }
  const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
  const route = await lookup(ctx, rcpt, 'sender filter lookup failed', applySenderFilters(ctx, decision.route, sender));
  if (!route) throw smtpError(550, '5.7.1', 'Sender not accepted by this recipient');
  ctx.transactions.get(session.envelope)?.set(route.rcpt, route);
}

/** `work`'s value; its failure is logged and becomes 451 4.3.0. */
async function lookup<T>(ctx: MxContext, rcpt: string, what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    ctx.log.error({ err, rcpt }, what);
    throw smtpError(451, '4.3.0', 'Temporary failure, try again later');
  }
}

/**
 * Every permanently refused recipient (no such user, forged SRS, relaying) counts against the
 * connection and the client address, and is answered late: the delay grows with each one, and the
 * one that reaches a limit gets 421 4.7.0 and the connection is closed. This is what stops both
 * mailbox enumeration and guessing an SRS hash (each guess is a refused RCPT). Resolves to the reply.
 */
async function refuseRecipient(
  ctx: MxContext,
  session: SMTPServerSession,
  rcpt: string,
  refusal: SmtpReplyError,
): Promise<SmtpReplyError> {
  const { log, limits, badRcptByIp } = ctx;
  const ip = session.remoteAddress;
  const count = (ctx.badRcpts.get(session.id) ?? 0) + 1;
  ctx.badRcpts.set(session.id, count);
  await FailureThrottle.record([[badRcptByIp, ip]])
    .then(() => FailureThrottle.refresh([[badRcptByIp, ip]]))
    .catch((err: Error) => log.warn({ err, ip }, 'refused recipient not counted in the store'));
  const limited = count >= limits.badRcptPerConnection || badRcptByIp.blocked(ip);
  if (limited)
    log.warn(
      { session: session.id, ip, rcpt, refused: count, refusedFromIp: badRcptByIp.count(ip) },
      'too many refused recipients, closing',
    );
  else log.info({ session: session.id, ip, rcpt }, 'recipient refused');
  const reply = limited ? smtpError(421, '4.7.0', 'Too many invalid recipients, closing connection') : refusal;
  await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_TARPIT_MS, count * limits.badRcptTarpitMs)));
  return reply;
}

/**
 * resolveRecipient, plus the postmaster RFC 5321 §4.5.1 requires every server to accept: the bare
 * "postmaster", and postmaster@ any hosted domain that has no such mailbox or alias of its own.
 */
async function resolveMxRecipient(ctx: MxContext, rcpt: string, size: number) {
  const { store, options, log } = ctx;
  const resolve = (address: string) => resolveRecipient(store, address, size, { srsSecret: options.srsSecret });
  const [local, domain] = rcpt.toLowerCase().split('@');
  if (local !== 'postmaster') return resolve(rcpt);
  if (domain !== undefined) {
    const own = await resolve(rcpt);
    if (own.ok || !(await store.domains.get(domain))) return own;
  }
  const address = await postmasterAddress(ctx);
  const decision = await resolve(address);
  if (!decision.ok)
    log.error({ postmaster: address }, 'mail to postmaster refused: give the postmaster address an account or alias');
  return decision;
}

async function postmasterAddress({ options, store, hostname }: MxContext): Promise<string> {
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
async function applySenderFilters(
  { store }: MxContext,
  route: RecipientRoute,
  sender: string,
): Promise<RecipientRoute | null> {
  const accounts = [];
  for (const routed of route.accounts) {
    const domain = await store.domains.get(domainOf(routed.account.address));
    if (senderAllowed(routed.account, domain, sender)) accounts.push(routed);
  }
  if (accounts.length === 0 && route.forwards.length === 0) return null;
  return { ...route, accounts };
}

// ── DATA ────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Bytes left free before each message read, where the pipeline writes its trace fields (Received,
 * Authentication-Results, Received-SPF, X-Spam-*: under 1 KB as a rule) instead of copying the message
 * after them; longer ones are copied as before.
 */
const TRACE_ROOM = 4096;

/** Reads DATA (over size → smtp-server's 552 5.3.4; bare CR or LF → 550 5.5.2), then delivers it. */
async function receiveMessage(
  ctx: MxContext,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
  receivedAt: number,
): Promise<string> {
  const { raw, bareNewline } = await readMessage(stream, ctx.maxMessageBytes, TRACE_ROOM);
  if (!raw) return 'over size'; // smtp-server answers 552 5.3.4 itself (rejectOversized)
  if (bareNewline) {
    ctx.log.warn({ session: session.id, ip: session.remoteAddress }, 'bare CR or LF in message, refused');
    throw smtpError(550, '5.5.2', 'Message refused: bare CR or LF line ending (lines must end with CRLF)');
  }
  const routes = [...(ctx.transactions.get(session.envelope)?.values() ?? [])];
  return deliverMessage(ctx, inboundMessage(session, raw, routes, receivedAt), routes);
}

/** The transaction as the inbound pipeline sees it. */
function inboundMessage(
  session: SMTPServerSession,
  raw: Buffer,
  routes: RecipientRoute[],
  receivedAt: number,
): InboundMessage {
  return {
    id: `${session.id}.${session.transaction}`,
    raw,
    mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    rcptTo: routes.map((r) => r.rcpt),
    client: {
      ip: session.remoteAddress,
      helo: session.hostNameAppearsAs || '',
      hostname: session.clientHostname && !session.clientHostname.startsWith('[') ? session.clientHostname : null,
      protocol: session.transmissionType || 'ESMTP',
    },
    receivedAt,
  };
}

/**
 * The inbound pipeline; the 250 text once every copy is stored. A DeliveryRefused is its own reply, a
 * full or failing store 452 4.3.1 (RFC 3463 "mail system full": nothing was stored), anything else 451 4.3.0.
 */
async function deliverMessage(ctx: MxContext, message: InboundMessage, routes: RecipientRoute[]): Promise<string> {
  const { log } = ctx;
  try {
    const result = await processMessage(message, routes, ctx.pipeline);
    return `Ok: delivered as ${message.id}${result.verdict === 'junk' ? ' (junk)' : ''}`;
  } catch (err) {
    if (err instanceof DeliveryRefused) {
      metrics.delivery('inbound', err.refusal.code < 500 ? 'deferred' : 'rejected'); // 4xx: greylisted
      log.info({ id: message.id, code: err.refusal.code, reason: err.refusal.text }, 'message refused');
      throw smtpError(err.refusal.code, err.refusal.enhanced, err.refusal.text);
    }
    log.error({ err, id: message.id }, 'delivery failed');
    if (err instanceof StoreUnavailableError)
      throw smtpError(452, '4.3.1', 'Insufficient system storage, try again later');
    throw smtpError(451, '4.3.0', 'Temporary failure while storing the message, try again later');
  }
}
