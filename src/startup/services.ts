// The server's background services, built from the config before any listener binds: DNS, login
// throttling, the spam scorers, the inbound pipeline settings, the outbound queue runner, the webhook
// dispatcher, the report collector and event retention. Nothing here listens on a port; start()
// begins the background work once the listeners are up, stop() ends it before the store closes.
import type { Config } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { createResolver, type DnsResolver } from '../dns/resolver.ts';
import { createWebhookDispatcher, type WebhookDispatcher } from '../events/webhook-dispatcher.ts';
import { deliverLocal, type PipelineOptions } from '../inbound/pipeline.ts';
import { createQueueRunner, runnerSettings, type QueueRunner } from '../outbound/queue-runner.ts';
import { createReportCollector } from '../reports/collector.ts';
import { LoginService } from '../security/login.ts';
import { serverSecret } from '../security/secrets.ts';
import { createAutoLearner } from '../spam/autolearn.ts';
import { bayesScorer } from '../spam/classifier.ts';
import { expungeOldJunk, type SpamSettings } from '../services/spam.ts';
import { dnsblScorer } from '../spam/dnsbl.ts';
import { headerRules } from '../spam/rules.ts';
import { RspamdClient, rspamdScorer } from '../spam/rspamd.ts';
import type { SpamScorer } from '../spam/types.ts';
import { Greylist } from '../store/greylist.ts';
import type { Store } from '../store/index.ts';
import { serverOwner, withLease } from '../store/leases.ts';

const DAY = 86_400_000;

export interface Services {
  resolver: DnsResolver;
  login: LoginService;
  /** Settings of the Bayesian classifier, for training from moves and the API. */
  bayes: { minSpam: number; minHam: number; perAccount: boolean; maxTokens: number };
  rspamd: RspamdClient | undefined;
  /** Thresholds and scorers of inbound mail (MX, /spam/classify). */
  spam: { junkScore: number; rejectScore: number; scorers: SpamScorer[] };
  /** The inbound pipeline's settings, shared by MX delivery and local delivery from the queue. */
  pipeline: PipelineOptions;
  queueRunner: QueueRunner;
  /** Created before the HTTP app takes requests: it also tells the API which webhook URLs to accept. */
  webhooks: WebhookDispatcher;
  start(): void;
  stop(): Promise<void>;
}

/** The spam settings the API and users' judgements over IMAP train and classify with: the MX's own. */
export const spamSettingsOf = (services: Services): SpamSettings => ({
  ...services.spam,
  bayes: services.bayes,
  rspamd: services.rspamd,
});

export async function createServices(config: Config, store: Store, dataDir: string, logger: Logger): Promise<Services> {
  const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout_ms });
  const login = new LoginService(store, {
    maxFailuresPerIp: config.auth.max_failures_per_ip,
    maxFailuresPerAccount: config.auth.max_failures_per_account,
    accountSlowdownAfter: config.auth.account_slowdown_after,
    accountSlowdownMs: config.auth.account_slowdown_ms,
    windowMs: config.auth.failure_window_ms,
    credentialCache: { ttlMs: config.auth.credential_cache_seconds * 1000 },
  });

  const bayes = {
    minSpam: config.spam.bayes_min_spam,
    minHam: config.spam.bayes_min_ham,
    perAccount: config.spam.bayes_per_account,
    maxTokens: config.spam.bayes_max_tokens,
  };
  await store.spam.model('s'); // load the server model now, not on the first message
  const dnsbl =
    config.spam.dnsbl_zones.length || config.spam.uribl_zones.length
      ? [dnsblScorer(resolver, { ipZones: config.spam.dnsbl_zones, domainZones: config.spam.uribl_zones })]
      : [];
  const rspamd = config.spam.rspamd_url
    ? new RspamdClient({
        url: config.spam.rspamd_url,
        controllerUrl: config.spam.rspamd_controller_url,
        password: config.spam.rspamd_password,
        timeoutMs: config.spam.rspamd_timeout_ms,
        weight: config.spam.rspamd_weight,
      })
    : undefined;
  const spam = {
    junkScore: config.spam.junk_score,
    rejectScore: config.spam.reject_score,
    scorers: [headerRules, bayesScorer(store, bayes), ...dnsbl, ...(rspamd ? [rspamdScorer(rspamd)] : [])],
  };
  const inboundLog = logger.child({ component: 'inbound' });
  const autoLearn = config.spam.auto_learn
    ? createAutoLearner(store, bayes, (err) => inboundLog.warn({ err }, 'spam auto-learning failed'))
    : undefined;
  const forwardLimits = { perHour: config.smtp.forward_per_hour, perDay: config.smtp.forward_per_day };
  const pipeline: PipelineOptions = {
    store,
    resolver,
    hostname: config.hostname,
    spam,
    srsSecret: serverSecret(dataDir, 'srs'),
    forwardLimits,
    autoLearn,
    greylist: config.spam.greylist
      ? {
          list: new Greylist(store.kv),
          policy: {
            score: config.spam.greylist_score,
            delayMs: config.spam.greylist_delay_seconds * 1000,
            windowMs: config.spam.greylist_window_hours * 3_600_000,
            passMs: config.spam.greylist_pass_days * 86_400_000,
          },
        }
      : undefined,
    logger: inboundLog,
  };

  // One owner for this server's leases (queue attempts, webhook deliveries): see serverOwner.
  const lease = { owner: serverOwner(), ttlMs: config.store.lease_seconds * 1000 };
  const queueRunner = createQueueRunner({
    store,
    resolver,
    hostname: config.hostname,
    deliverLocal: (raw, envelope) => deliverLocal(raw, envelope, pipeline),
    ...runnerSettings(config.outbound),
    lease,
    logger: logger.child({ component: 'outbound' }),
  });
  const retentionMs = config.events.retention_days * DAY;
  const webhooks = createWebhookDispatcher({
    store,
    logger: logger.child({ component: 'webhooks' }),
    lease,
    allowHttp: config.webhooks.allow_http,
    allowPrivateAddresses: config.webhooks.allow_private_addresses,
    resolver,
    retentionMs,
  });
  // Parses DMARC aggregate and TLS-RPT reports as they are delivered.
  const reports = createReportCollector({ store, logger: logger.child({ component: 'reports' }) });
  let stopRetention = () => {};

  return {
    resolver,
    login,
    bayes,
    rspamd,
    spam,
    pipeline,
    queueRunner,
    webhooks,
    start() {
      stopRetention = pruneOld(
        store,
        { events: retentionMs, junk: config.spam.junk_retention_days * DAY },
        lease,
        logger,
      );
      queueRunner.start();
      webhooks.start();
    },
    async stop() {
      stopRetention();
      // The queue lets attempts in flight finish and record.
      await queueRunner.stop();
      await webhooks.stop();
      await reports.stop();
      // What the last messages taught, written before the store closes.
      await autoLearn?.flush();
    },
  };
}

/** How long each kind of record is kept, in ms; a Junk retention of 0 keeps Junk for ever. */
export interface Retention {
  events: number;
  junk: number;
}

/**
 * One pass of retention under the `prune` lease, so that of several nodes on one store one prunes at a
 * time (docs/ARCHITECTURE.md §4.8); undefined when another node holds it (it prunes the same).
 */
export async function pruneOnce(
  store: Store,
  retention: Retention,
  lease: { owner: string; ttlMs: number },
): Promise<{ events: number; jobs: number; junk: number } | undefined> {
  const now = Date.now();
  const claimed = await withLease({ leases: store.kv.engine.leases, ...lease }, 'prune', () =>
    Promise.all([
      store.events.prune(now - retention.events),
      store.queue.prune(now - retention.events),
      retention.junk > 0 ? expungeOldJunk(store, now - retention.junk) : 0,
    ]),
  );
  return claimed.ran ? { events: claimed.value[0], jobs: claimed.value[1], junk: claimed.value[2] } : undefined;
}

/** Retention: prunes events and finished queue jobs, and expunges old Junk, now and then hourly. */
function pruneOld(
  store: Store,
  retention: Retention,
  lease: { owner: string; ttlMs: number },
  logger: Logger,
): () => void {
  const prune = () =>
    pruneOnce(store, retention, lease).then(
      (pruned) =>
        pruned &&
        (pruned.events || pruned.jobs || pruned.junk) &&
        logger.info(pruned, 'pruned old events and finished queue jobs, expunged old Junk'),
      (err: Error) => logger.error({ err }, 'pruning failed'),
    );
  void prune();
  const timer = setInterval(prune, 3_600_000).unref();
  return () => clearInterval(timer);
}
