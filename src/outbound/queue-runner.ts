// Works the durable queue: picks due jobs (global and per-domain concurrency limits), delivers each
// to a hosted domain (deliverLocal), through a relay group, or to the destination's MX hosts, and
// records the outcome per recipient with its events, retry time and any DSN in one batch.
// stop() lets attempts in flight finish and record, so a clean restart never delivers twice.
import { metrics } from '../metrics/registry.ts';
import { pino, type Logger } from 'pino';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Store } from '../store/index.ts';
import { Tx } from '../store/index.ts';
import type { NewEvent } from '../store/events.ts';
import type { NewOutboundMessage, QueueJob, QueueRecipient } from '../store/queue.ts';
import { domainOfAddress } from '../store/queue.ts';
import type { Relay } from '../store/relays.ts';
import { utcDay } from '../store/relays.ts';
import { SmtpFailure, SmtpSession, type SmtpTarget } from './deliver.ts';
import { buildDsn, enhancedStatus, type DsnRecipient } from './dsn.ts';
import { mtaStsLookup, mxAllowed, type MtaStsLookup } from './mta-sts.ts';
import { chooseRelay, hostAddresses, MxCache, TemporaryRouteError } from './route.ts';

/** Hands a message for hosted recipients to the inbound pipeline. Throw an error with `responseCode` 5xx to bounce. */
export type DeliverLocal = (raw: Buffer, envelope: { from: string; to: string[] }) => Promise<void>;

/**
 * Options of createQueueRunner:
 * - store, resolver (the process's resolver), hostname (EHLO name, Reporting-MTA, DSN From domain)
 * - deliverLocal(raw, {from, to}): delivery to hosted domains (the lead wires it to the inbound pipeline)
 * - smtpPort: remote MX port, default 25 (tests point it at a loopback listener)
 * - localAddress: source address for outgoing connections (SPF), default the system's choice
 * - concurrency: attempts in flight, default 32; perDomainConcurrency: per destination domain, default 4
 * - retryScheduleMs: waits after attempt 1, 2, …; the last repeats. Default 5 m, 15 m, 30 m, 1 h, 2 h, 4 h
 * - expiryMs: give up (bounce) after this long in the queue, default 5 days
 * - delayNoticeAfterMs: a delay DSN once a recipient is still deferred this long, default 4 h (0: never)
 * - pollIntervalMs: safety rescan of the queue, default 60 s
 * - connectTimeoutMs (30 s), socketTimeoutMs (120 s)
 * - mtaSts: policy lookup, default DNS + HTTPS via mailauth; false turns MTA-STS off
 * - tlsCa: extra CA certificates trusted when TLS is required (MTA-STS enforce, relays)
 * - logger: pino, default silent
 */
export interface QueueRunnerOptions {
  store: Store;
  resolver: DnsResolver;
  hostname: string;
  deliverLocal: DeliverLocal;
  smtpPort?: number;
  localAddress?: string;
  concurrency?: number;
  perDomainConcurrency?: number;
  retryScheduleMs?: number[];
  expiryMs?: number;
  delayNoticeAfterMs?: number;
  pollIntervalMs?: number;
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
  mtaSts?: MtaStsLookup | false;
  tlsCa?: string[];
  logger?: Logger;
}

export interface QueueRunner {
  start(): void;
  /** Stops picking jobs and resolves once every attempt in flight is recorded. */
  stop(): Promise<void>;
  /** Looks for due jobs now. */
  kick(): void;
  readonly inFlight: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const RUNNER_DEFAULTS = {
  smtpPort: 25,
  concurrency: 32,
  perDomainConcurrency: 4,
  retryScheduleMs: [5 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 4 * HOUR],
  expiryMs: 5 * 24 * HOUR,
  delayNoticeAfterMs: 4 * HOUR,
  pollIntervalMs: MINUTE,
};

/** How long a finished session waits for the next message to the same host. */
const IDLE_SESSION_MS = 2000;

interface Outcome {
  status: 'delivered' | 'deferred' | 'bounced';
  response: string;
  mx: string | null;
  tls: boolean;
}

/** What one attempt found, per recipient address. */
type Outcomes = Map<string, Outcome>;

const pendingOf = (job: QueueJob): QueueRecipient[] => job.recipients.filter((r) => r.status === 'queued' || r.status === 'deferred');

function all(addresses: string[], outcome: Outcome): Outcomes {
  return new Map(addresses.map((a) => [a, outcome]));
}

export function createQueueRunner(options: QueueRunnerOptions): QueueRunner {
  const { store, resolver, hostname } = options;
  const o = {
    smtpPort: options.smtpPort ?? RUNNER_DEFAULTS.smtpPort,
    concurrency: options.concurrency ?? RUNNER_DEFAULTS.concurrency,
    perDomainConcurrency: options.perDomainConcurrency ?? RUNNER_DEFAULTS.perDomainConcurrency,
    retryScheduleMs: options.retryScheduleMs?.length ? options.retryScheduleMs : RUNNER_DEFAULTS.retryScheduleMs,
    expiryMs: options.expiryMs ?? RUNNER_DEFAULTS.expiryMs,
    delayNoticeAfterMs: options.delayNoticeAfterMs ?? RUNNER_DEFAULTS.delayNoticeAfterMs,
    pollIntervalMs: options.pollIntervalMs ?? RUNNER_DEFAULTS.pollIntervalMs,
  };
  const log = options.logger ?? pino({ level: 'silent' });
  const mxCache = new MxCache(resolver, 30_000);
  const mtaSts = options.mtaSts === false ? null : (options.mtaSts ?? mtaStsLookup(resolver));
  const queue = store.queue;

  const running = new Map<string, Promise<void>>(); // jobId → attempt
  const perDomain = new Map<string, number>();
  const idle = new Map<string, { session: SmtpSession; timer: NodeJS.Timeout }[]>();
  let started = false;
  let stopping = false;
  let pumping = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  const onQueue = () => kick();

  function kick(): void {
    if (!started || stopping) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void pump()
      .catch((err: Error) => log.error({ err }, 'queue scan failed'))
      .finally(() => {
        pumping = false;
      });
  }

  async function pump(): Promise<void> {
    do {
      again = false;
      if (running.size >= o.concurrency) break;
      const due = await queue.due(Date.now(), o.concurrency * 8 + running.size);
      for (const jobId of due) {
        if (stopping || running.size >= o.concurrency) break;
        if (running.has(jobId)) continue;
        const job = await queue.get(jobId);
        // The index read above may predate an attempt that just finished and rescheduled the job.
        if (!job || job.state !== 'queued' || running.has(jobId) || job.dueAt > Date.now()) continue;
        if ((perDomain.get(job.domain) ?? 0) >= o.perDomainConcurrency) continue;
        start(job);
      }
    } while (again && !stopping);
    await schedule();
  }

  /** Sleeps until the next future due time (jobs due now but blocked wait for a running attempt to end). */
  async function schedule(): Promise<void> {
    if (stopping) return;
    const next = await queue.nextDueAt();
    const now = Date.now();
    const wait = next !== null && next > now ? Math.min(next - now, o.pollIntervalMs) : o.pollIntervalMs;
    if (timer) clearTimeout(timer);
    timer = setTimeout(kick, wait + 1);
    timer.unref();
  }

  function start(job: QueueJob): void {
    perDomain.set(job.domain, (perDomain.get(job.domain) ?? 0) + 1);
    const attempt = attemptJob(job)
      .catch((err: Error) => log.error({ err, job: job.id }, 'delivery attempt failed to record'))
      .finally(() => {
        running.delete(job.id);
        const left = (perDomain.get(job.domain) ?? 1) - 1;
        if (left > 0) perDomain.set(job.domain, left);
        else perDomain.delete(job.domain);
        kick();
      });
    running.set(job.id, attempt);
  }

  async function attemptJob(job: QueueJob): Promise<void> {
    const pending = pendingOf(job).map((r) => r.address);
    let outcomes: Outcomes = new Map();
    let relay: Relay | undefined;
    if (pending.length) {
      const raw = await store.blobs.read(job.blob, job.size);
      try {
        if (await store.domains.get(job.domain)) outcomes = await deliverHosted(job, pending, raw);
        else {
          const group = await queue.relays.routeFor({ domain: domainOfAddress(job.from), apiKeyId: job.apiKeyId, teamId: job.teamId });
          if (group) {
            relay = await chooseRelay(queue.relays, group);
            outcomes = relay
              ? await deliverSmtp(job, pending, raw, [relayTarget(relay)], `relay ${relay.name}`)
              : all(pending, { status: 'deferred', response: `451 4.4.5 Every relay of group ${group.name} reached its daily limit`, mx: null, tls: false });
          } else outcomes = await deliverMx(job, pending, raw);
        }
      } catch (err) {
        const response = err instanceof TemporaryRouteError ? `451 4.4.3 ${err.message}` : `451 4.3.0 ${(err as Error).message}`;
        if (!(err instanceof TemporaryRouteError)) log.error({ err, job: job.id }, 'delivery attempt error');
        outcomes = all(pending, { status: 'deferred', response, mx: null, tls: false });
      }
    }
    await record(job.id, outcomes, relay);
  }

  async function deliverHosted(job: QueueJob, pending: string[], raw: Buffer): Promise<Outcomes> {
    try {
      await options.deliverLocal(raw, { from: job.from, to: pending });
      return all(pending, { status: 'delivered', response: '250 2.0.0 Delivered to a local mailbox', mx: 'local', tls: false });
    } catch (err) {
      const code = (err as { responseCode?: number }).responseCode ?? 451;
      const response = /^\d{3} /.test((err as Error).message) ? (err as Error).message : `${code} ${(err as Error).message}`;
      return all(pending, { status: code >= 500 ? 'bounced' : 'deferred', response, mx: 'local', tls: false });
    }
  }

  function relayTarget(relay: Relay): SmtpTarget & { label: string } {
    return {
      label: relay.host,
      host: relay.host,
      port: relay.port,
      servername: relay.host,
      tls: relay.tls === 'starttls' ? 'required' : relay.tls === 'implicit' ? 'implicit' : 'none',
      verifyCertificate: relay.verifyCertificate,
      ca: options.tlsCa,
      auth: relay.auth,
      helo: hostname,
      localAddress: options.localAddress,
      connectTimeoutMs: options.connectTimeoutMs,
      socketTimeoutMs: options.socketTimeoutMs,
    };
  }

  async function deliverMx(job: QueueJob, pending: string[], raw: Buffer): Promise<Outcomes> {
    const route = await mxCache.mx(job.domain);
    if (route.kind === 'none') return all(pending, { status: 'bounced', response: `550 5.1.10 ${route.reason}`, mx: null, tls: false });
    const policy = mtaSts ? await mtaSts(job.domain).catch(() => null) : null;
    const enforce = policy?.mode === 'enforce';
    const hosts = enforce ? route.hosts.filter((h) => mxAllowed(policy, h.host)) : route.hosts;
    if (hosts.length === 0) {
      return all(pending, { status: 'deferred', response: `451 4.7.5 No MX host of ${job.domain} matches its MTA-STS policy`, mx: null, tls: false });
    }
    const targets: (SmtpTarget & { label: string })[] = [];
    const dnsFailures: string[] = [];
    for (const mx of hosts) {
      let addresses: string[];
      try {
        addresses = await hostAddresses(resolver, mx.host);
      } catch (err) {
        dnsFailures.push((err as Error).message);
        continue;
      }
      if (addresses.length === 0) dnsFailures.push(`MX host ${mx.host} has no address`);
      for (const ip of addresses) {
        targets.push({
          label: mx.host,
          host: ip,
          port: o.smtpPort,
          servername: mx.host,
          tls: enforce ? 'required' : 'opportunistic',
          verifyCertificate: enforce,
          ca: options.tlsCa,
          helo: hostname,
          localAddress: options.localAddress,
          connectTimeoutMs: options.connectTimeoutMs,
          socketTimeoutMs: options.socketTimeoutMs,
        });
      }
    }
    if (targets.length === 0) return all(pending, { status: 'deferred', response: `451 4.4.3 ${dnsFailures.join('; ')}`, mx: null, tls: false });
    return deliverSmtp(job, pending, raw, targets);
  }

  /** Tries the targets in order until one takes the transaction; connection-level failures move on. */
  async function deliverSmtp(job: QueueJob, pending: string[], raw: Buffer, targets: (SmtpTarget & { label: string })[], via?: string): Promise<Outcomes> {
    let last = '451 4.4.1 No answer from any mail exchanger';
    for (const target of targets) {
      const mx = via ?? target.label;
      const key = poolKey(target);
      let session = takeIdle(key);
      const reused = !!session;
      for (let fresh = !reused; ; fresh = true) {
        if (!session) {
          try {
            session = await SmtpSession.open(target);
          } catch (err) {
            // Even a 5xx at greeting/EHLO/AUTH is this host's problem; the next one may do better.
            last = describe(err, target);
            break;
          }
        }
        try {
          const result = await session.send({ from: job.from, to: pending }, raw);
          const outcomes: Outcomes = new Map();
          for (const address of result.accepted) outcomes.set(address, { status: 'delivered', response: result.response, mx, tls: session.tls });
          for (const r of result.rejected) {
            outcomes.set(r.address, { status: r.code >= 500 ? 'bounced' : 'deferred', response: r.response, mx, tls: session.tls });
          }
          // A finished transaction leaves the session ready for the next MAIL FROM.
          if (result.accepted.length) park(key, session);
          else session.close();
          return outcomes;
        } catch (err) {
          session.close();
          // A parked session the server has since dropped: say nothing of it, open a new one.
          if (!fresh && err instanceof SmtpFailure && err.code === null) {
            session = undefined;
            continue;
          }
          if (err instanceof SmtpFailure && !err.beforeTransaction) {
            return all(pending, { status: err.permanent ? 'bounced' : 'deferred', response: err.response, mx, tls: session.tls });
          }
          last = describe(err, target);
          break;
        }
      }
    }
    return all(pending, { status: 'deferred', response: last, mx: via ?? null, tls: false });
  }

  const poolKey = (t: SmtpTarget) => [t.host, t.port, t.tls, t.verifyCertificate, t.servername ?? '', t.auth?.user ?? ''].join('|');

  function takeIdle(key: string): SmtpSession | undefined {
    const list = idle.get(key);
    while (list?.length) {
      const { session, timer } = list.pop()!;
      clearTimeout(timer);
      if (session.usable) return session;
    }
    return undefined;
  }

  /** Keeps a session open for a moment: a burst to one destination then costs one handshake, not one per message. */
  function park(key: string, session: SmtpSession): void {
    const list = idle.get(key) ?? [];
    if (stopping || list.length >= o.perDomainConcurrency) return session.close();
    const entry = {
      session,
      timer: setTimeout(() => {
        list.splice(list.indexOf(entry), 1);
        if (!list.length && idle.get(key) === list) idle.delete(key);
        session.close();
      }, IDLE_SESSION_MS),
    };
    entry.timer.unref();
    list.push(entry);
    idle.set(key, list);
  }

  function describe(err: unknown, target: SmtpTarget & { label: string }): string {
    const response = err instanceof SmtpFailure ? err.response : (err as Error).message;
    return /^\d{3} /.test(response) ? response : `451 4.4.1 ${target.label} [${target.host}]:${target.port}: ${response}`;
  }

  /** Applies an attempt's outcomes to the job, with events, DSNs and relay use, in one durable batch. */
  async function record(jobId: string, outcomes: Outcomes, relay: Relay | undefined): Promise<void> {
    await queue.lock(jobId, async () => {
      const job = await queue.get(jobId);
      if (!job || job.state === 'done') return;
      await queue.loadBlob(job);
      const now = Date.now();
      const attempt = job.attempts + 1;
      const expired = now - job.createdAt >= o.expiryMs;
      const changed: { r: QueueRecipient; outcome: Outcome }[] = [];
      const recipients = job.recipients.map((r) => {
        const found = outcomes.get(r.address);
        if (!found || (r.status !== 'queued' && r.status !== 'deferred')) return r;
        const outcome: Outcome =
          found.status === 'deferred' && expired
            ? { ...found, status: 'bounced', response: `${found.response} (giving up: in the queue since ${new Date(job.createdAt).toISOString()})` }
            : found;
        const next: QueueRecipient = {
          ...r,
          status: outcome.status,
          attempts: r.attempts + 1,
          lastResponse: outcome.response,
          log: [...r.log, { time: now, attempt, mx: outcome.mx, tls: outcome.tls, response: outcome.response, status: outcome.status }],
        };
        changed.push({ r: next, outcome });
        return next;
      });
      const open = recipients.some((r) => r.status === 'queued' || r.status === 'deferred');
      const delay = o.retryScheduleMs[Math.min(attempt - 1, o.retryScheduleMs.length - 1)] ?? HOUR;
      const next: QueueJob = {
        ...job,
        recipients,
        attempts: attempt,
        lastAttemptAt: now,
        state: job.state === 'cancelled' ? 'cancelled' : open ? 'queued' : 'done',
        dueAt: open ? Math.min(now + delay, job.createdAt + o.expiryMs) : job.dueAt,
      };

      // Reports to the sender: failures now, a delay notice once; never to the null sender.
      const dsns: Buffer[] = [];
      if (job.from) {
        const original = () => store.blobs.read(job.blob, job.size);
        const bounced = changed.filter((c) => c.outcome.status === 'bounced');
        if (bounced.length) dsns.push(buildDsn({ hostname, to: job.from, recipients: bounced.map((c) => dsnRecipient(c, 'failed', now)), arrivalDate: job.createdAt, original: await original() }));
        const deferred = changed.filter((c) => c.outcome.status === 'deferred');
        if (deferred.length && !job.delayNotified && o.delayNoticeAfterMs > 0 && now - job.createdAt >= o.delayNoticeAfterMs && next.state === 'queued') {
          dsns.push(buildDsn({ hostname, to: job.from, recipients: deferred.map((c) => dsnRecipient(c, 'delayed', now)), arrivalDate: job.createdAt, willRetryUntil: job.createdAt + o.expiryMs, original: await original() }));
          next.delayNotified = true;
        }
      }
      for (const dsn of dsns) await queue.prepare(dsn);
      const day = utcDay(now);
      const relayUsed = relay && changed.some((c) => c.outcome.status === 'delivered');
      if (relayUsed) await queue.relays.usage(relay.id, day);

      const tx = new Tx();
      queue.update(tx, job, next);
      for (const c of changed) store.events.append(tx, outcomeEvent(next, c.r, c.outcome));
      for (const dsn of dsns) queue.stage(tx, dsnMessage(job, dsn));
      if (relayUsed) queue.relays.countUse(tx, relay.id, day);
      await store.kv.commit(tx);
      for (const c of changed) metrics.delivery('outbound', c.outcome.status);
      for (const c of changed) log.info({ job: job.id, rcpt: c.r.address, status: c.outcome.status, mx: c.outcome.mx, tls: c.outcome.tls, response: c.outcome.response, attempt }, `outbound ${c.outcome.status}`);
    });
  }

  function dsnRecipient(c: { r: QueueRecipient; outcome: Outcome }, action: 'failed' | 'delayed', now: number): DsnRecipient {
    return {
      address: c.r.address,
      action,
      status: enhancedStatus(c.outcome.response, action === 'failed' ? 5 : 4),
      diagnostic: c.outcome.response,
      remoteMta: c.outcome.mx && c.outcome.mx !== 'local' ? c.outcome.mx : null,
      lastAttemptAt: now,
    };
  }

  function dsnMessage(job: QueueJob, raw: Buffer): NewOutboundMessage {
    return { teamId: job.teamId, accountId: job.accountId, from: '', to: [job.from], raw, subject: 'Delivery Status Notification', headerMessageId: null };
  }

  function outcomeEvent(job: QueueJob, r: QueueRecipient, outcome: Outcome): NewEvent {
    return {
      type: `message.${outcome.status}`,
      teamId: job.teamId,
      accountId: job.accountId,
      data: {
        message_id: job.messageId,
        job_id: job.id,
        header_message_id: job.headerMessageId,
        from: job.from,
        recipient: r.address,
        subject: job.subject,
        attempt: job.attempts,
        mx: outcome.mx,
        tls: outcome.tls,
        response: outcome.response,
        ...(outcome.status === 'deferred' ? { next_attempt_at: new Date(job.dueAt).toISOString() } : {}),
      },
    };
  }

  return {
    start() {
      if (started) return;
      started = true;
      store.notifier.on('queue', onQueue);
      kick();
    },
    async stop() {
      stopping = true;
      store.notifier.off('queue', onQueue);
      if (timer) clearTimeout(timer);
      while (pumping || running.size) {
        await Promise.all([...running.values()]);
        if (pumping) await new Promise((r) => setTimeout(r, 5));
      }
      for (const list of idle.values()) for (const { session, timer } of list.splice(0)) {
        clearTimeout(timer);
        session.close();
      }
      idle.clear();
    },
    kick,
    get inFlight() {
      return running.size;
    },
  };
}
