// The Stalwart/Mailbux-compatible management API (docs/API.md §13): `/api/*` paths whose first
// segment is not `v1`. Each resource module translates to and from the native services; this one
// authenticates, rate-limits, routes and renders (`{"data": …}` on success, tagged errors — 404 and
// 409 as the Mailbux guide says, else HTTP 200 — and problem+json for the rest).
import type { Context, Next } from 'koa';
import type { LoginService } from '../../security/login.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import type { RateLimiter } from '../middleware/rate-limit.ts';
import { accountAuthRoutes } from './account-auth.ts';
import { authenticate, type Caller } from './auth.ts';
import { dkimRoutes } from './dkim.ts';
import { dnsRoutes } from './dns.ts';
import { CompatError, badParameters, nativeError, problem } from './errors.ts';
import { principalRoutes } from './principal.ts';
import type { CompatRequest, CompatRoute } from './route.ts';
import { queueRoutes } from './queue.ts';
import { spamFilterRoutes } from './spam-filter.ts';

export interface CompatOptions {
  /** Largest request body (JSON or raw message); Stalwart's is 1 MiB, spam samples may need more. */
  maxBodyBytes: number;
  /** The /api/v1 limiter: a caller has one budget for both APIs, not one each. */
  limiter: RateLimiter;
  /** The login service the mail protocols use, so Basic password guesses count against the same throttles. */
  login: LoginService;
}

async function readBody(ctx: Context, maxBytes: number): Promise<Buffer> {
  const declared = ctx.get('content-length');
  const tooLarge = () => {
    ctx.set('Connection', 'close');
    return new ApiError('payload_too_large', `the request body is larger than ${maxBytes} bytes`);
  };
  if (declared !== '' && Number(declared) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function decodeSegment(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw badParameters('a path segment is not valid URL encoding');
  }
}

const isCompatPath = (path: string): boolean => path.startsWith('/api/') && !/^\/api\/v1(\/|$)/.test(path);

/** Koa middleware: serves the compatibility routes and passes every other path on. */
export function compatApi(deps: ApiDeps, options: CompatOptions) {
  const routes: CompatRoute[] = [
    ...principalRoutes(deps),
    ...dkimRoutes(deps),
    ...dnsRoutes(deps),
    ...queueRoutes(deps),
    ...spamFilterRoutes(deps),
    ...accountAuthRoutes(deps),
  ];
  const { limiter, login } = options;

  return async (ctx: Context, next: Next): Promise<void> => {
    if (!isCompatPath(ctx.path)) return next();
    try {
      let caller: Caller | undefined;
      let failure: unknown;
      try {
        caller = await authenticate(ctx, deps.store, login);
      } catch (err) {
        failure = err;
      }
      await limiter.charge(
        ctx,
        caller ? `key:${caller.key.id}` : `ip:${ctx.ip}`,
        caller && caller.key.type !== 'root' ? 'sending' : 'management',
      );
      if (!caller) throw failure;

      const path = ctx.path.slice('/api'.length);
      const found = routes
        .map((route) => ({ route, match: route.method === ctx.method ? route.path.exec(path) : null }))
        .find((r) => r.match);
      if (!found) throw new ApiError('not_found', `no such route: ${ctx.method} ${ctx.path}`);
      let body: Buffer | undefined;
      const raw = async () => (body ??= await readBody(ctx, options.maxBodyBytes));
      const request: CompatRequest = {
        ctx,
        caller,
        params: found.match!.slice(1).map((p) => (p === undefined ? '' : decodeSegment(p))),
        query: Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v])),
        raw,
        async json() {
          const bytes = await raw();
          if (bytes.length === 0) return undefined;
          try {
            return JSON.parse(bytes.toString('utf8'));
          } catch (err) {
            throw badParameters(`the request body is not valid JSON: ${(err as Error).message}`);
          }
        },
      };
      const data = await found.route.handler(request);
      ctx.status = 200;
      ctx.type = 'application/json';
      ctx.body = JSON.stringify({ data: data ?? null });
    } catch (err) {
      if (err instanceof CompatError) {
        ctx.status = err.status;
        ctx.type = 'application/json';
        ctx.body = JSON.stringify(err.body);
        return;
      }
      const error = nativeError(err) ?? new ApiError('internal_error', 'internal error');
      if (error.status >= 500) deps.logger.error({ err, requestId: ctx.state.requestId }, 'compat request failed');
      for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
      if (error.status === 401) ctx.set('WWW-Authenticate', ['Bearer realm="Wren Mail"', 'Basic realm="Wren Mail"']);
      ctx.status = error.status;
      ctx.type = 'application/problem+json';
      ctx.body = JSON.stringify(problem(error));
    }
  };
}
