import { createServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { followReloads, tlsServerOptions } from './tls/source.ts';
import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { Config } from './config/schema.ts';
import type { Logger } from './log.ts';
import { Store } from './store/index.ts';
import { bootstrap } from './bootstrap.ts';
import { CertificateStore } from './tls/certificate-store.ts';
import { createAcme, acmeTargets, AcmeChallenges, challengeResponder, type AcmeManager } from './tls/acme.ts';
import { createReportCollector } from './reports/collector.ts';
import { createHttpApp } from './http/app.ts';
import { bind, type BoundListener, type Listenable } from './listeners.ts';
import { keepConnectionsAlive } from './net/keepalive.ts';
import { createResolver, type DnsResolver } from './dns/resolver.ts';
import { LoginService } from './security/login.ts';
import { createMxServer } from './smtp/mx.ts';
import { createImapServer } from './imap/server.ts';
import { createPop3Server } from './pop3/server.ts';
import { createSubmissionServer } from './smtp/submission.ts';
import { createQueueRunner } from './outbound/queue-runner.ts';
import { deliverLocal, type PipelineOptions } from './inbound/pipeline.ts';
import { serverSecret } from './security/secrets.ts';
import { PRIVATE_UMASK, restrictTree } from './security/files.ts';
import { headerRules } from './spam/rules.ts';
import { bayesScorer } from './spam/classifier.ts';
import { dnsblScorer } from './spam/dnsbl.ts';
import { learnFromMove } from './spam/feedback.ts';
import { RspamdClient, rspamdScorer } from './spam/rspamd.ts';
import { createWebhookDispatcher } from './events/webhook-dispatcher.ts';

export interface RunningServer {
  store: Store;
  resolver: DnsResolver;
  login: LoginService;
  listeners: BoundListener[];
  /** Certificates by SNI name, reloadable (SIGHUP): every TLS listener reads from it. */
  tls: CertificateStore;
  /** Stops accepting, lets in-flight work finish (up to the shutdown timeout), closes the store. */
  close(): Promise<void>;
}

interface Service extends Listenable {
  close(): Promise<void>;
}

/** An HTTP server as a Service: close() waits for requests in flight, then cuts idle keep-alives. */
function httpService(server: HttpServer | HttpsServer): Service {
  const sockets = new Set<Socket>();
  keepConnectionsAlive(server);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    listen: (port, host) =>
      new Promise((resolvePort, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolvePort({ port: (server.address() as { port: number }).port });
        });
      }),
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeIdleConnections();
      }),
  };
}

/** The specific hosts (names and addresses, not wildcards) the listeners are configured on: the self-signed certificate carries them. */
function listenHosts(config: Config): string[] {
  const all = [
    config.smtp.mx_listen, config.smtp.submission_listen, config.smtp.submissions_listen, config.imap.listen, config.imap.tls_listen,
    config.pop3.listen, config.pop3.tls_listen, config.http.listen, config.http.tls_listen,
  ].flat();
  const hosts = all.map((address) => address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, ''));
  return [...new Set(hosts.filter((h) => h && h !== '0.0.0.0' && h !== '::'))];
}

/** Opens the store, bootstraps a first start, and binds every configured listener. */
export async function startServer(config: Config, logger: Logger): Promise<RunningServer> {
  const dataDir = resolve(config.data_dir);
  // Everything the server writes from here on is private; what an earlier start (or a Dockerfile's
  // mkdir) left readable to others is closed up before the store opens.
  process.umask(PRIVATE_UMASK);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  restrictTree(dataDir);
  const store = await Store.open(resolve(dataDir, 'store'), { groupCommit: config.server.group_commit });
  const services: Service[] = [];
  let stopQueue = async (): Promise<void> => {};
  let stopWebhooks = async (): Promise<void> => {};
  // Background work stopped on close, after the listeners and before the store.
  const stoppers: (() => Promise<void> | void)[] = [];
  const listeners: BoundListener[] = [];
  let ready = false;
  try {
    await bootstrap(store, dataDir, logger);
    const tls = await CertificateStore.open({ dataDir, hostname: config.hostname, settings: config.tls, altNames: listenHosts(config), logger: logger.child({ component: 'tls' }) });
    if (tls.defaultCertificate.file === 'self-signed') {
      logger.warn({ hostname: config.hostname }, 'using a self-signed certificate (set tls.cert and tls.key, or enable ACME, for a trusted one)');
    }

    const offset = config.server.unprivileged_port_offset;
    const start = async (name: string, setting: string, addresses: string[], make: () => Service) => {
      if (addresses.length === 0) return;
      for (const address of addresses) {
        const service = make();
        services.push(service);
        const bound = await bind(name, setting, address, service, logger, offset);
        listeners.push(bound);
        logger.info({ listener: name, host: bound.host, port: bound.port }, `${name} listening`);
      }
    };

    const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout_ms });
    const login = new LoginService(store, {
      maxFailuresPerIp: config.auth.max_failures_per_ip,
      maxFailuresPerAccount: config.auth.max_failures_per_account,
      accountSlowdownAfter: config.auth.account_slowdown_after,
      accountSlowdownMs: config.auth.account_slowdown_ms,
      windowMs: config.auth.failure_window_ms,
      credentialCache: { ttlMs: config.auth.credential_cache_seconds * 1000 },
    });

    const srsSecret = serverSecret(dataDir, 'srs');
    const bayes = { minSpam: config.spam.bayes_min_spam, minHam: config.spam.bayes_min_ham, perAccount: config.spam.bayes_per_account, maxTokens: config.spam.bayes_max_tokens };
    await store.spam.model('s'); // load the server model now, not on the first message
    const dnsbl = config.spam.dnsbl_zones.length || config.spam.uribl_zones.length ? [dnsblScorer(resolver, { ipZones: config.spam.dnsbl_zones, domainZones: config.spam.uribl_zones })] : [];
    const rspamd = config.spam.rspamd_url
      ? new RspamdClient({ url: config.spam.rspamd_url, controllerUrl: config.spam.rspamd_controller_url, password: config.spam.rspamd_password, timeoutMs: config.spam.rspamd_timeout_ms, weight: config.spam.rspamd_weight })
      : undefined;
    const spam = { junkScore: config.spam.junk_score, rejectScore: config.spam.reject_score, scorers: [headerRules, bayesScorer(store, bayes), ...dnsbl, ...(rspamd ? [rspamdScorer(rspamd)] : [])] };
    const forwardLimits = { perHour: config.smtp.forward_per_hour, perDay: config.smtp.forward_per_day };
    const pipeline: PipelineOptions = { store, resolver, hostname: config.hostname, spam, srsSecret, forwardLimits, logger: logger.child({ component: 'inbound' }) };
    const queueRunner = createQueueRunner({
      store,
      resolver,
      hostname: config.hostname,
      deliverLocal: (raw, envelope) => deliverLocal(raw, envelope, pipeline),
      smtpPort: config.outbound.smtp_port,
      localAddress: config.outbound.local_address || undefined,
      concurrency: config.outbound.concurrency,
      perDomainConcurrency: config.outbound.per_domain_concurrency,
      retryScheduleMs: config.outbound.retry_schedule_seconds.map((s) => s * 1000),
      expiryMs: config.outbound.expiry_seconds * 1000,
      delayNoticeAfterMs: config.outbound.delay_notice_seconds * 1000,
      pollIntervalMs: config.outbound.poll_interval_seconds * 1000,
      logger: logger.child({ component: 'outbound' }),
    });
    stopQueue = () => queueRunner.stop();

    await start('smtp-mx', 'smtp.mx_listen', config.smtp.mx_listen, () =>
      createMxServer({
        store,
        resolver,
        tls,
        hostname: config.hostname,
        maxMessageBytes: config.smtp.max_message_bytes,
        maxRecipients: config.smtp.max_recipients,
        limits: {
          maxConnectionsPerIp: config.smtp.max_connections_per_ip,
          messagesPerIpPerMinute: config.smtp.messages_per_ip_per_minute,
          idleTimeoutMs: config.smtp.idle_timeout_ms,
          badRcptPerConnection: config.smtp.bad_rcpt_per_connection,
          badRcptPerIp: config.smtp.bad_rcpt_per_ip,
          badRcptWindowMs: config.smtp.bad_rcpt_window_ms,
          badRcptTarpitMs: config.smtp.bad_rcpt_tarpit_ms,
        },
        postmaster: config.smtp.postmaster,
        spam,
        srsSecret,
        forwardLimits,
        logger: logger.child({ listener: 'smtp-mx' }),
      }),
    );
    const submission = (implicitTls: boolean, name: string) => () =>
      createSubmissionServer({
        store,
        login,
        queue: store.queue,
        tls,
        hostname: config.hostname,
        implicitTls,
        maxMessageBytes: config.smtp.max_message_bytes,
        maxRecipients: config.smtp.max_recipients,
        limits: {
          perHour: config.smtp.send_per_hour,
          perDay: config.smtp.send_per_day,
          maxConnectionsPerIp: config.smtp.max_connections_per_ip,
          idleTimeoutMs: config.smtp.idle_timeout_ms,
        },
        logger: logger.child({ listener: name }),
      });
    await start('smtp-submission', 'smtp.submission_listen', config.smtp.submission_listen, submission(false, 'smtp-submission'));
    await start('smtp-submissions', 'smtp.submissions_listen', config.smtp.submissions_listen, submission(true, 'smtp-submissions'));

    const imap = createImapServer({
      store,
      login,
      tls,
      hostname: config.hostname,
      allowPlainAuthWithoutTls: config.imap.allow_plain_auth_loopback,
      limits: {
        maxLineBytes: config.imap.max_line_bytes,
        maxLiteralBytes: config.smtp.max_message_bytes,
        maxConnectionsPerIp: config.imap.max_connections_per_ip,
        maxConnectionsPerAccount: config.imap.max_connections_per_account,
        idleTimeoutMs: config.imap.idle_timeout_ms,
        maxKeywordsPerMailbox: config.imap.max_keywords_per_mailbox,
        idleKeepaliveMs: config.imap.idle_keepalive_seconds * 1000,
      },
      logger: logger.child({ listener: 'imap' }),
      onCopy: (accountId, source, target, uids) => {
        learnFromMove(store, accountId, source, target, uids, { ...bayes, rspamd }).catch((err: Error) => logger.error({ err, accountId }, 'spam training from a move failed'));
      },
    });
    // One IMAP engine serves both listeners; closing it once closes both.
    let imapClosed: Promise<void> | undefined;
    const imapListener = (implicitTls: boolean) => (): Service => ({
      listen: (port, host) => imap.listen(port, host, implicitTls),
      close: () => (imapClosed ??= imap.close()),
    });
    await start('imap', 'imap.listen', config.imap.listen, imapListener(false));
    await start('imaps', 'imap.tls_listen', config.imap.tls_listen, imapListener(true));

    const pop3 = createPop3Server({
      store,
      login,
      tls,
      hostname: config.hostname,
      allowPlainAuthWithoutTls: config.imap.allow_plain_auth_loopback,
      limits: { maxConnectionsPerIp: config.pop3.max_connections_per_ip, idleTimeoutMs: config.pop3.idle_timeout_ms },
      logger: logger.child({ listener: 'pop3' }),
    });
    let pop3Closed: Promise<void> | undefined;
    const pop3Listener = (implicitTls: boolean) => (): Service => ({
      listen: (port, host) => pop3.listen(port, host, implicitTls),
      close: () => (pop3Closed ??= pop3.close()),
    });
    await start('pop3', 'pop3.listen', config.pop3.listen, pop3Listener(false));
    await start('pop3s', 'pop3.tls_listen', config.pop3.tls_listen, pop3Listener(true));

    // Before the HTTP app takes requests: it also tells the API which webhook URLs to accept.
    const webhooks = createWebhookDispatcher({
      store,
      logger: logger.child({ component: 'webhooks' }),
      allowHttp: config.webhooks.allow_http,
      allowPrivateAddresses: config.webhooks.allow_private_addresses,
      resolver,
      retentionMs: config.events.retention_days * 86_400_000,
    });
    stopWebhooks = () => webhooks.stop();
    const boundPort = (name: string) => listeners.find((l) => l.name === name)?.port;
    const definedPorts = <T extends Record<string, number | undefined>>(ports: T) =>
      Object.fromEntries(Object.entries(ports).filter(([, port]) => port !== undefined)) as { [K in keyof T]?: number };
    const app = createHttpApp({
      store,
      logger,
      login,
      ready: () => ready,
      hostname: config.hostname,
      resolver,
      maxBodyBytes: config.http.max_body_bytes,
      rateLimits: {
        management: { limit: config.http.management_rate_limit, windowMs: config.http.rate_limit_window_seconds * 1000 },
        sending: { limit: config.http.sending_rate_limit, windowMs: config.http.rate_limit_window_seconds * 1000 },
      },
      sendLimits: { perHour: config.smtp.send_per_hour, perDay: config.smtp.send_per_day },
      plainCredentials: { allow: config.http.allow_plain_credentials, from: config.http.plain_credentials_from },
      spam: { ...spam, bayes, rspamd },
      certificates: tls,
      mtaSts: { defaultMode: config.mta_sts.mode, maxAgeSeconds: config.mta_sts.max_age_seconds },
      // Credentials and SRV records announce the ports clients reach (after any unprivileged offset).
      ports: definedPorts({ imaps: boundPort('imaps'), submission: boundPort('smtp-submission'), submissions: boundPort('smtp-submissions') }),
      // Autoconfig offers only the listeners that are on (null: off).
      clientPorts: {
        imaps: boundPort('imaps') ?? null,
        imap: boundPort('imap') ?? null,
        pop3s: boundPort('pop3s') ?? null,
        pop3: boundPort('pop3') ?? null,
        submission: boundPort('smtp-submission') ?? null,
        submissions: boundPort('smtp-submissions') ?? null,
      },
    });
    await start('http', 'http.listen', config.http.listen, () => httpService(createServer(app.callback())));
    const httpsServers: HttpsServer[] = [];
    await start('https', 'http.tls_listen', config.http.tls_listen, () => {
      const server = createHttpsServer(tlsServerOptions(tls), app.callback());
      httpsServers.push(server);
      return httpService(server);
    });
    stoppers.push(followReloads(tls, httpsServers));

    // Parses DMARC aggregate and TLS-RPT reports as they are delivered.
    const reports = createReportCollector({ store, logger: logger.child({ component: 'reports' }) });
    stoppers.push(() => reports.stop());

    let acme: AcmeManager | undefined;
    if (config.tls.acme) {
      const challenges = new AcmeChallenges();
      await start('acme-http', 'tls.acme_http_listen', config.tls.acme_http_listen, () => httpService(createServer(challengeResponder(challenges, app.callback()))));
      acme = createAcme({
        directoryUrl: config.tls.acme_directory_url,
        email: config.tls.acme_email || undefined,
        certificates: tls,
        challenges,
        targets: () => acmeTargets(store, config.hostname),
        renewBeforeDays: config.tls.acme_renew_before_days,
        logger: logger.child({ component: 'acme' }),
      });
      stoppers.push(() => acme!.stop());
    }

    // Event retention: prune once an hour (and at start) what is older than events.retention_days.
    const retentionMs = config.events.retention_days * 86_400_000;
    const prune = () =>
      Promise.all([store.events.prune(Date.now() - retentionMs), store.queue.prune(Date.now() - retentionMs)]).then(
        ([events, jobs]) => (events || jobs) && logger.info({ events, jobs }, 'pruned old events and finished queue jobs'),
        (err: Error) => logger.error({ err }, 'pruning failed'),
      );
    void prune();
    const pruneTimer = setInterval(prune, 3_600_000).unref();

    queueRunner.start();
    acme?.start();
    webhooks.start();
    ready = true;
    return {
      store,
      resolver,
      login,
      listeners,
      tls,
      close: async () => {
        ready = false;
        clearInterval(pruneTimer);
        const timeout = new Promise<void>((r) => setTimeout(r, config.server.shutdown_timeout_ms).unref());
        // Listeners first (no new work), then the queue lets attempts in flight finish and record.
        await Promise.race([Promise.all(services.map((s) => s.close())), timeout]);
        await stopQueue();
        await stopWebhooks();
        for (const stop of stoppers) await stop();
        await store.close();
      },
    };
  } catch (err) {
    await Promise.allSettled(services.map((s) => s.close()));
    await stopQueue();
    await stopWebhooks();
    for (const stop of stoppers) await stop();
    await store.close();
    throw err;
  }
}
