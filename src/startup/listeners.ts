// The server's listeners, bound from the config: mail protocols (SMTP MX, submission, IMAP, POP3)
// and HTTP (the API app over HTTP and HTTPS, the ACME HTTP-01 responder). Each function only binds
// and returns what must be stopped besides the listeners themselves.
import { createServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createHttpApp } from '../http/app.ts';
import type { Config } from '../config/schema.ts';
import { createImapServer, imapLimits } from '../imap/server.ts';
import { httpService, sharedEngine, type ListenerSet } from '../listeners.ts';
import type { Logger } from '../log.ts';
import { createPop3Server, pop3Limits } from '../pop3/server.ts';
import { mxSettings, createMxServer } from '../smtp/mx.ts';
import { createSubmissionServer } from '../smtp/submission.ts';
import { learnFromFlags, learnFromMove } from '../services/spam.ts';
import type { Store } from '../store/index.ts';
import { AcmeChallenges, acmeTargets, challengeResponder, createAcme, type AcmeManager } from '../tls/acme.ts';
import type { CertificateStore } from '../tls/certificate-store.ts';
import { followReloads, tlsServerOptions } from '../tls/source.ts';
import { spamSettingsOf, type Services } from './services.ts';

export interface ListenerContext {
  config: Config;
  store: Store;
  tls: CertificateStore;
  services: Services;
  logger: Logger;
}

/** SMTP MX, submission (587, 465), IMAP (143, 993) and POP3 (110, 995), as configured. */
export async function startMailListeners(listeners: ListenerSet, ctx: ListenerContext): Promise<void> {
  const { config, store, tls, services, logger } = ctx;
  const { login, pipeline } = services;
  await listeners.start('smtp-mx', 'smtp.mx_listen', config.smtp.mx_listen, () =>
    createMxServer({
      store,
      resolver: services.resolver,
      tls,
      hostname: config.hostname,
      ...mxSettings(config.smtp),
      spam: services.spam,
      srsSecret: pipeline.srsSecret,
      forwardLimits: pipeline.forwardLimits,
      autoLearn: pipeline.autoLearn,
      greylist: pipeline.greylist,
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
  await listeners.start(
    'smtp-submission',
    'smtp.submission_listen',
    config.smtp.submission_listen,
    submission(false, 'smtp-submission'),
  );
  await listeners.start(
    'smtp-submissions',
    'smtp.submissions_listen',
    config.smtp.submissions_listen,
    submission(true, 'smtp-submissions'),
  );

  // What users judge over IMAP (a move into or out of Junk, $Junk or $NotJunk set) teaches the classifier.
  const spam = spamSettingsOf(services);
  const trainer = { store, logger: logger.child({ listener: 'imap' }) };
  const imap = sharedEngine(
    createImapServer({
      store,
      login,
      tls,
      hostname: config.hostname,
      allowPlainAuthWithoutTls: config.imap.allow_plain_auth_loopback,
      limits: imapLimits(config),
      logger: logger.child({ listener: 'imap' }),
      onCopy: (accountId, source, target, uids) => learnFromMove(trainer, spam, accountId, source, target, uids),
      onFlagsGained: (accountId, folder, gained) => learnFromFlags(trainer, spam, accountId, folder, gained),
    }),
  );
  await listeners.start('imap', 'imap.listen', config.imap.listen, imap(false));
  await listeners.start('imaps', 'imap.tls_listen', config.imap.tls_listen, imap(true));

  const pop3 = sharedEngine(
    createPop3Server({
      store,
      login,
      tls,
      hostname: config.hostname,
      allowPlainAuthWithoutTls: config.imap.allow_plain_auth_loopback,
      limits: pop3Limits(config.pop3),
      logger: logger.child({ listener: 'pop3' }),
    }),
  );
  await listeners.start('pop3', 'pop3.listen', config.pop3.listen, pop3(false));
  await listeners.start('pop3s', 'pop3.tls_listen', config.pop3.tls_listen, pop3(true));
}

/**
 * The API app over HTTP and HTTPS (after the mail listeners: it announces their ports), and with ACME
 * on, the HTTP-01 responder and the certificate manager. Returns the ACME manager (to start) and
 * what stops certificate reloads and renewals.
 */
export async function startHttpListeners(
  listeners: ListenerSet,
  ctx: ListenerContext & { ready: () => boolean },
): Promise<{ acme?: AcmeManager; stop(): Promise<void> }> {
  const { config, store, tls, services, logger } = ctx;
  const definedPorts = <T extends Record<string, number | undefined>>(ports: T) =>
    Object.fromEntries(Object.entries(ports).filter(([, port]) => port !== undefined)) as { [K in keyof T]?: number };
  const app = createHttpApp({
    store,
    logger,
    login: services.login,
    ready: ctx.ready,
    hostname: config.hostname,
    resolver: services.resolver,
    maxBodyBytes: config.http.max_body_bytes,
    rateLimits: {
      management: { limit: config.http.management_rate_limit, windowMs: config.http.rate_limit_window_seconds * 1000 },
      sending: { limit: config.http.sending_rate_limit, windowMs: config.http.rate_limit_window_seconds * 1000 },
    },
    sendLimits: { perHour: config.smtp.send_per_hour, perDay: config.smtp.send_per_day },
    plainCredentials: { allow: config.http.allow_plain_credentials, from: config.http.plain_credentials_from },
    spam: spamSettingsOf(services),
    certificates: tls,
    mtaSts: { defaultMode: config.mta_sts.mode, maxAgeSeconds: config.mta_sts.max_age_seconds },
    // Credentials and SRV records announce the ports clients reach (after any unprivileged offset).
    ports: definedPorts({
      imaps: listeners.port('imaps'),
      submission: listeners.port('smtp-submission'),
      submissions: listeners.port('smtp-submissions'),
    }),
    // Autoconfig offers only the listeners that are on (null: off).
    clientPorts: {
      imaps: listeners.port('imaps') ?? null,
      imap: listeners.port('imap') ?? null,
      pop3s: listeners.port('pop3s') ?? null,
      pop3: listeners.port('pop3') ?? null,
      submission: listeners.port('smtp-submission') ?? null,
      submissions: listeners.port('smtp-submissions') ?? null,
    },
  });
  await listeners.start('http', 'http.listen', config.http.listen, () => httpService(createServer(app.callback())));
  const httpsServers: HttpsServer[] = [];
  await listeners.start('https', 'http.tls_listen', config.http.tls_listen, () => {
    const server = createHttpsServer(tlsServerOptions(tls), app.callback());
    httpsServers.push(server);
    return httpService(server);
  });
  const stopReloads = followReloads(tls, httpsServers);

  let acme: AcmeManager | undefined;
  if (config.tls.acme) {
    const challenges = new AcmeChallenges();
    await listeners.start('acme-http', 'tls.acme_http_listen', config.tls.acme_http_listen, () =>
      httpService(createServer(challengeResponder(challenges, app.callback()))),
    );
    acme = createAcme({
      directoryUrl: config.tls.acme_directory_url,
      email: config.tls.acme_email || undefined,
      certificates: tls,
      challenges,
      targets: () => acmeTargets(store, config.hostname),
      renewBeforeDays: config.tls.acme_renew_before_days,
      logger: logger.child({ component: 'acme' }),
    });
  }
  return {
    acme,
    async stop() {
      stopReloads();
      await acme?.stop();
    },
  };
}
