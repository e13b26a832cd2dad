import Koa from 'koa';
import Router from '@koa/router';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { Idempotency } from '../store/idempotency.ts';
import { Lists } from '../store/lists.ts';
import { SEND_LIMIT_DEFAULTS, type SendingLimits } from '../store/sends.ts';
import { mailClientSetup, type ClientPorts } from '../http/autoconfig.ts';
import { metricsEndpoint } from '../http/metrics.ts';
import { mtaStsPolicy, type MtaStsOptions } from '../http/mta-sts.ts';
import { consoleApp } from '../console/index.ts';
import { LoginService } from '../security/login.ts';
import { compatApi } from './compat/router.ts';
import type { ApiDeps } from './deps.ts';
import { ERROR_DOCS_PATH, envelope, errorDocsPage } from './middleware/envelope.ts';
import { IdempotencyGuard } from './middleware/idempotency.ts';
import { PLAIN_CREDENTIALS_DEFAULTS, plainCredentialsGuard, type PlainCredentialsOptions } from './middleware/plain-credentials.ts';
import { RateLimiter, type RateLimitOptions } from './middleware/rate-limit.ts';
import { buildOpenApi } from './openapi.ts';
import type { Route } from './registry.ts';
import { dispatch } from './router.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { deliveryGroupRoutes } from './routes/delivery-groups.ts';
import { dkimRoutes } from './routes/dkim.ts';
import { domainRoutes } from './routes/domains.ts';
import { emailRoutes } from './routes/emails.ts';
import { eventRoutes } from './routes/events.ts';
import { listRoutes } from './routes/lists.ts';
import { logRoutes } from './routes/logs.ts';
import { mailboxKeyRoutes } from './routes/mailbox-keys.ts';
import { mailboxMessageRoutes } from './routes/mailbox-messages.ts';
import { mailboxExtraRoutes } from './routes/mailbox-extra.ts';
import { mailboxSyncRoutes } from './routes/mailbox-sync.ts';
import { mailboxThreadRoutes } from './routes/mailbox-threads.ts';
import { mailboxIdentityRoutes } from './routes/mailbox-identity.ts';
import { mailboxRoutes } from './routes/mailboxes.ts';
import { providerRoutes } from './routes/providers.ts';
import { queueRoutes } from './routes/queue.ts';
import { reportRoutes } from './routes/reports.ts';
import { systemRoutes } from './routes/system.ts';
import { usageRoutes } from './routes/usage.ts';
import { sieveRoutes } from './routes/sieve.ts';
import { filterRoutes } from './routes/filters.ts';
import { spamRoutes, type SpamSettings } from './routes/spam.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface ApiOptions {
  store: Store;
  logger: Logger;
  /** Reports readiness for /readyz (all listeners up, store open). */
  ready: () => boolean;
  /** This server's host name: MX/SRV/CNAME targets and the `server` of credentials (config `hostname`). Default "localhost". */
  hostname?: string;
  /** Ports announced in SRV records and credentials. Defaults: IMAPS 993, submission 587, submissions 465. */
  ports?: Partial<ApiDeps['ports']>;
  /** Ports offered by mail-client autoconfig (null: listener off); imaps/submission/submissions default to `ports`. */
  clientPorts?: Partial<ClientPorts>;
  /** The process's DNS resolver (src/dns/resolver.ts) for domain verification; without it verify answers 503. */
  resolver?: DnsResolver;
  /** Largest JSON request body (config `http.max_body_bytes` suits; default 1 MiB). */
  maxBodyBytes?: number;
  /** Per-key request limits (defaults: 600/60 s management, 1,800/60 s sending and mailbox keys). */
  rateLimits?: RateLimitOptions;
  /** Check every reply against its declared schema (tests). */
  validateResponses?: boolean;
  /** The TLS certificates the listeners serve, for GET /server/certificates (expiry on the console). */
  certificates?: ApiDeps['certificates'];
  /** The MX's spam settings for /spam/classify (default: header rules + Bayes, Junk at 5, reject at 15). */
  spam?: SpamSettings;
  /** MTA-STS policy settings (default mode 'testing', max_age one week). */
  mtaSts?: Omit<MtaStsOptions, 'store' | 'hostname'>;
  /** Messages per sender per hour/day, as SMTP submission (config smtp.send_per_hour/day; default 300 / 7,200). */
  sendLimits?: SendingLimits;
  /** Credentials over plain HTTP (default: from loopback only; config http.allow_plain_credentials, http.plain_credentials_from). */
  plainCredentials?: PlainCredentialsOptions;
  /** The password login IMAP/POP3/SMTP share, so console and compat Basic logins count against the same throttles (default: a fresh one). */
  login?: LoginService;
}

/** Every /api/v1 route, in the order the OpenAPI document lists them. */
export function apiRoutes(deps: ApiDeps): Route[] {
  const routes: Route[] = [];
  routes.push(
    ...systemRoutes(deps, () => buildOpenApi(routes, { title: 'Wren Mail API', version: '1.0.0' })),
    ...apiKeyRoutes(deps),
    ...domainRoutes(deps),
    ...dkimRoutes(deps),
    ...mailboxRoutes(deps),
    ...mailboxKeyRoutes(deps),
    ...listRoutes(deps),
    ...webhookRoutes(deps),
    ...eventRoutes(deps),
    ...emailRoutes(deps),
    ...mailboxMessageRoutes(deps),
    ...mailboxExtraRoutes(deps),
    ...mailboxSyncRoutes(deps),
    ...mailboxThreadRoutes(deps),
    ...mailboxIdentityRoutes(deps),
    ...providerRoutes(deps),
    ...deliveryGroupRoutes(deps),
    ...queueRoutes(deps),
    ...logRoutes(deps),
    ...usageRoutes(deps),
    ...spamRoutes(deps),
    ...reportRoutes(deps),
    ...sieveRoutes(deps),
    ...filterRoutes(deps),
  );
  return routes;
}

/** The HTTP app: health probes outside the API, `/api/v1` behind key authentication. */
export function createHttpApp(options: ApiOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(envelope(options.logger));
  app.use(plainCredentialsGuard(options.plainCredentials ?? PLAIN_CREDENTIALS_DEFAULTS));

  const open = new Router();
  open.get('/healthz', (ctx) => {
    ctx.body = { ok: true, status: 'alive' };
  });
  open.get('/readyz', (ctx) => {
    const broken = options.store.kv.committer.broken;
    const ready = options.ready() && !broken;
    ctx.status = ready ? 200 : 503;
    ctx.body = { ok: ready, status: ready ? 'ready' : broken ? 'store unavailable' : 'starting' };
  });
  open.get(ERROR_DOCS_PATH, (ctx) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = errorDocsPage();
  });
  app.use(open.routes());
  // One login service for the console, the compat Basic form and the mail protocols: one set of throttles.
  const login = options.login ?? new LoginService(options.store);
  app.use(consoleApp({ store: options.store, login }));
  app.use(mtaStsPolicy({ store: options.store, hostname: options.hostname ?? 'localhost', ...options.mtaSts }));
  app.use(mailClientSetup({ store: options.store, hostname: options.hostname ?? 'localhost', ports: { ...options.ports, ...options.clientPorts } }));
  app.use(metricsEndpoint(options.store));

  const { store } = options;
  const deps: ApiDeps = {
    store,
    logger: options.logger,
    hostname: options.hostname ?? 'localhost',
    ports: { imaps: 993, submission: 587, submissions: 465, ...options.ports },
    resolver: options.resolver,
    lists: new Lists(store.kv, store.addresses, store.directory),
    sendLimits: options.sendLimits ?? SEND_LIMIT_DEFAULTS,
    spam: options.spam,
    mtaSts: options.mtaSts,
    certificates: options.certificates,
  };
  app.use(
    dispatch(apiRoutes(deps), {
      store,
      limiter: new RateLimiter(options.rateLimits),
      idempotency: new IdempotencyGuard(new Idempotency(store.kv)),
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      validateResponses: options.validateResponses ?? false,
    }),
  );
  app.use(compatApi(deps, { maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024, rateLimits: options.rateLimits, login }));
  return app;
}
