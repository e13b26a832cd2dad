// The HTTP server's app: health probes, the console, MTA-STS, autoconfig and metrics, then the
// native API (/api/v1) and the compatibility API (/api/*). It sits above src/api and src/console.
import Koa, { type Context, type Next } from 'koa';
import Router from '@koa/router';
import type { DnsResolver } from '../dns/resolver.ts';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { Idempotency } from '../store/idempotency.ts';
import { Lists } from '../store/lists.ts';
import { SEND_LIMIT_DEFAULTS, type SendingLimits } from '../store/sends.ts';
import { mailClientSetup, type ClientPorts } from './autoconfig.ts';
import { metricsEndpoint } from './metrics.ts';
import { mtaStsPolicy, type MtaStsOptions } from './mta-sts.ts';
import { consoleApp } from '../console/index.ts';
import { LoginService } from '../security/login.ts';
import { compatApi } from '../api/compat/router.ts';
import type { ApiDeps } from '../api/deps.ts';
import { ERROR_DOCS_PATH, envelope, errorDocsPage } from '../api/middleware/envelope.ts';
import { IdempotencyGuard } from '../api/middleware/idempotency.ts';
import {
  PLAIN_CREDENTIALS_DEFAULTS,
  plainCredentialsGuard,
  type PlainCredentialsOptions,
} from '../api/middleware/plain-credentials.ts';
import { RateLimiter, type RateLimitOptions } from '../api/middleware/rate-limit.ts';
import { apiRoutes } from '../api/index.ts';
import { dispatch, isApiPath } from '../api/router.ts';
import type { SpamSettings } from '../services/spam.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';

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
  /** MTA-STS policy settings (defaults: the config's [mta_sts]). */
  mtaSts?: Omit<MtaStsOptions, 'store' | 'hostname'>;
  /** Messages per sender per hour/day, as SMTP submission (config smtp.send_per_hour/day; default 300 / 7,200). */
  sendLimits?: SendingLimits;
  /** Credentials over plain HTTP (default: from loopback only; config http.allow_plain_credentials, http.plain_credentials_from). */
  plainCredentials?: PlainCredentialsOptions;
  /** The password login IMAP/POP3/SMTP share, so console and compat Basic logins count against the same throttles (default: a fresh one). */
  login?: LoginService;
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
  // The router matches without regard to case and with one trailing slash; most requests are for other
  // paths, and a set lookup sends them on without a pass over the router's patterns.
  const openPaths = new Set(['/healthz', '/readyz', ERROR_DOCS_PATH.toLowerCase()]);
  const openRoutes = open.routes();
  const probes: Handler = (ctx, next) => {
    const path = ctx.path.toLowerCase();
    return openPaths.has(path.endsWith('/') ? path.slice(0, -1) : path)
      ? openRoutes(ctx as Parameters<typeof openRoutes>[0], next)
      : next();
  };
  // One login service for the console, the compat Basic form and the mail protocols: one set of throttles.
  const login = options.login ?? new LoginService(options.store);
  const consolePages = consoleApp({ store: options.store, login });
  const site = chain([
    probes,
    consolePages,
    mtaStsPolicy({ store: options.store, hostname: options.hostname ?? 'localhost', ...options.mtaSts }),
    mailClientSetup({
      store: options.store,
      hostname: options.hostname ?? 'localhost',
      ports: { ...options.ports, ...options.clientPorts },
    }),
    metricsEndpoint(options.store),
  ]);
  // None of the site's handlers answers under /api/v1, where most requests go: those pass only through
  // the console's, whose session cookie stands in for a key there, on their way to dispatch.
  app.use((ctx, next) => (isApiPath(ctx.path) ? consolePages(ctx, next) : site(ctx, next)));

  const { store } = options;
  // On a shared store every node counts a key's requests against one limit (§4.8).
  const rateLimits: RateLimitOptions = {
    ...options.rateLimits,
    ...(store.kv.engine.shared ? { shared: store.kv.engine.windows } : {}),
  };
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
  const limiter = new RateLimiter(rateLimits);
  app.use(
    dispatch(apiRoutes(deps), {
      store,
      limiter,
      idempotency: new IdempotencyGuard(new Idempotency(store.kv)),
      maxBodyBytes: options.maxBodyBytes ?? CONFIG_DEFAULTS.http.max_body_bytes,
      validateResponses: options.validateResponses ?? false,
    }),
  );
  app.use(
    compatApi(deps, {
      maxBodyBytes: options.maxBodyBytes ?? CONFIG_DEFAULTS.http.max_body_bytes,
      limiter,
      login,
    }),
  );
  return app;
}

type Handler = (ctx: Context, next: Next) => Promise<unknown>;

/** The handlers in order, then `next`, as one middleware (what app.use() of each in turn would do). */
function chain(handlers: Handler[]): Handler {
  return (ctx, next) => {
    const step = (i: number): Promise<unknown> =>
      i === handlers.length ? next() : handlers[i]!(ctx, () => step(i + 1));
    return step(0);
  };
}
