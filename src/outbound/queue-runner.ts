// Package outbound implements sending: submit.ts is the one path in for SMTP submission and the Sending
// API (budget, DKIM, queue + Sent copy in one fsync); the queue runner delivers each job to a hosted
// domain, a relay of its delivery group or the destination's MX hosts (MTA-STS), with retries and RFC 3464
// DSNs (docs/ARCHITECTURE.md §6). Invariant: an attempt's outcome (recipient states, events, DSNs, relay
// use) is recorded in one durable batch, so a crash or restart never loses or repeats a delivery it
// recorded. May import the other pipelines (inbound's header helpers), foundation and base.
//
// Works the durable queue in three stages, each its own module: the scheduler picks due jobs within
// the concurrency limits (scheduler.ts), one attempt delivers to a hosted domain, a relay group or the
// destination's MX hosts (attempt.ts, reusing sessions from session-pool.ts), and the outcome is
// recorded per recipient with its events, retry time and any DSN in one batch (outcome.ts).
// stop() lets attempts in flight finish and record, so a clean restart never delivers twice. Each attempt
// runs under the job's lease (src/store/leases.ts), so of several nodes on one database one attempts it.
import { pino, type Logger } from 'pino';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { Config } from '../config/schema.ts';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Store } from '../store/index.ts';
import { withLease } from '../store/leases.ts';
import { attemptDelivery, type AttemptContext, type DeliverLocal } from './attempt.ts';
import { mtaStsLookup, type MtaStsLookup } from './mta-sts.ts';
import { recordOutcomes, type RecordPolicy } from './outcome.ts';
import { MxCache } from './route.ts';
import { createScheduler } from './scheduler.ts';
import { SessionPool } from './session-pool.ts';

export type { DeliverLocal };

/**
 * Options of createQueueRunner:
 * - store, resolver (the process's resolver), hostname (EHLO name, Reporting-MTA, DSN From domain)
 * - deliverLocal(raw, {from, to}): delivery to hosted domains (the server passes the inbound pipeline's)
 * - smtpPort: remote MX port (tests point it at a loopback listener)
 * - localAddress: source address for outgoing connections (SPF), default the system's choice
 * - concurrency: attempts in flight; perDomainConcurrency: per destination domain
 * - retryScheduleMs: waits after attempt 1, 2, …; the last repeats
 * - expiryMs: give up (bounce) after this long in the queue
 * - delayNoticeAfterMs: a delay DSN once a recipient is still deferred this long (0: never)
 * - pollIntervalMs: safety rescan of the queue
 *   (defaults of these: the [outbound] section's, through runnerSettings)
 * - connectTimeoutMs (30 s), socketTimeoutMs (120 s)
 * - mtaSts: policy lookup, default DNS + HTTPS via mailauth; false turns MTA-STS off
 * - tlsCa: extra CA certificates trusted when TLS is required (MTA-STS enforce, relays)
 * - logger: pino, default silent
 * - lease: the owner id of this runner's leases (default this process's) and their length
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
  lease?: { owner?: string; ttlMs?: number };
}

export interface QueueRunner {
  start(): void;
  /** Stops picking jobs and resolves once every attempt in flight is recorded. */
  stop(): Promise<void>;
  /** Looks for due jobs now. */
  kick(): void;
  readonly inFlight: number;
}

/** The [outbound] config section as runner options: the server's settings and the defaults alike. */
export function runnerSettings(c: Config['outbound']) {
  return {
    smtpPort: c.smtp_port,
    localAddress: c.local_address || undefined,
    concurrency: c.concurrency,
    perDomainConcurrency: c.per_domain_concurrency,
    retryScheduleMs: c.retry_schedule_seconds.map((s) => s * 1000),
    expiryMs: c.expiry_seconds * 1000,
    delayNoticeAfterMs: c.delay_notice_seconds * 1000,
    pollIntervalMs: c.poll_interval_seconds * 1000,
  };
}

export const RUNNER_DEFAULTS = runnerSettings(CONFIG_DEFAULTS.outbound);

export function createQueueRunner(options: QueueRunnerOptions): QueueRunner {
  const { store, resolver, hostname } = options;
  const log = options.logger ?? pino({ level: 'silent' });
  const perDomainConcurrency = options.perDomainConcurrency ?? RUNNER_DEFAULTS.perDomainConcurrency;
  const pool = new SessionPool(perDomainConcurrency);
  const attempt: AttemptContext = {
    store,
    resolver,
    hostname,
    deliverLocal: options.deliverLocal,
    mxCache: new MxCache(resolver, 30_000),
    mtaSts: options.mtaSts === false ? null : (options.mtaSts ?? mtaStsLookup(resolver)),
    pool,
    smtpPort: options.smtpPort ?? RUNNER_DEFAULTS.smtpPort,
    localAddress: options.localAddress,
    tlsCa: options.tlsCa,
    connectTimeoutMs: options.connectTimeoutMs,
    socketTimeoutMs: options.socketTimeoutMs,
    logger: log,
  };
  const policy: RecordPolicy = {
    hostname,
    retryScheduleMs: options.retryScheduleMs?.length ? options.retryScheduleMs : RUNNER_DEFAULTS.retryScheduleMs,
    expiryMs: options.expiryMs ?? RUNNER_DEFAULTS.expiryMs,
    delayNoticeAfterMs: options.delayNoticeAfterMs ?? RUNNER_DEFAULTS.delayNoticeAfterMs,
    logger: log,
  };
  const scheduler = createScheduler({
    queue: store.queue,
    concurrency: options.concurrency ?? RUNNER_DEFAULTS.concurrency,
    perDomainConcurrency,
    pollIntervalMs: options.pollIntervalMs ?? RUNNER_DEFAULTS.pollIntervalMs,
    logger: log,
    run: async (job) => {
      const lease = { leases: store.kv.engine.leases, ...options.lease };
      const claimed = await withLease(lease, `queue/${job.id}`, async () => {
        // The job as it is now: another node may have attempted and recorded it since it was listed.
        const current = await store.queue.get(job.id);
        if (current?.state !== 'queued' || current.dueAt > Date.now()) return;
        const { outcomes, relay } = await attemptDelivery(attempt, current);
        await recordOutcomes(store, policy, current.id, outcomes, relay);
      });
      return claimed.ran ? undefined : 'elsewhere';
    },
  });
  let started = false;
  const onQueue = () => scheduler.kick();

  return {
    start() {
      if (started) return;
      started = true;
      store.notifier.on('queue', onQueue);
      scheduler.start();
    },
    async stop() {
      store.notifier.off('queue', onQueue);
      await scheduler.stop();
      pool.close();
    },
    kick: () => scheduler.kick(),
    get inFlight() {
      return scheduler.inFlight;
    },
  };
}
