import { createHash } from 'node:crypto';
import type { Context, Next } from 'koa';
import { z } from 'zod';
import type { Store } from '../store/index.ts';
import { ApiError } from './errors.ts';
import { identify, requireKey } from './middleware/auth.ts';
import { readJsonBody } from './middleware/body.ts';
import { etagOfJson, notModified } from './middleware/etag.ts';
import type { IdempotencyGuard } from './middleware/idempotency.ts';
import { assertPermission } from './middleware/permissions.ts';
import type { RateLimiter } from './middleware/rate-limit.ts';
import { parseInput } from './middleware/validate.ts';
import { type JsonReply, type Method, type Request, type Route, pathParams } from './registry.ts';

export const API_PREFIX = '/api/v1';
const JSON_TYPE = 'application/json; charset=utf-8';

/** Is this request path the native API's (exactly as dispatch() takes it)? */
export const isApiPath = (path: string): boolean => path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);

export interface DispatchOptions {
  store: Store;
  limiter: RateLimiter;
  idempotency: IdempotencyGuard;
  maxBodyBytes: number;
  /** Check every reply against its declared schema (tests): a mismatch is a 500, never a silent drift. */
  validateResponses: boolean;
}

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
  literals: number;
  /** The schema `data` must match (the item schema in an array for lists), built once. */
  reply?: z.ZodType;
}

function compile(route: Route): Compiled {
  const names = pathParams(route.path);
  const source = route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[a-z_]+\\?\}/g, '([^/]+)');
  const reply = route.response && (route.list ? z.array(route.response) : route.response);
  return {
    route,
    pattern: new RegExp(`^${source}$`),
    names,
    literals: route.path.split('/').length - names.length,
    reply,
  };
}

function decodeParam(value: string, name: string): string {
  // Without a '%' there is nothing to decode (and nothing to get wrong): most ids.
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ApiError('invalid_parameter', `${name} is not a valid URL path segment`, name);
  }
}

/** Canonical JSON (sorted keys): the same request with fields in another order is the same request. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  ) ?? '';

/**
 * Serves the registered routes under /api/v1: key identification and rate limit (every request, so
 * every response carries X-RateLimit-*), route match (404/405), authentication, permission, query and
 * body validation, idempotency, then the handler and its envelope (with ETag and 304 where declared).
 */
export function dispatch(routes: Route[], options: DispatchOptions) {
  const table = routes.map(compile).sort((a, b) => b.literals - a.literals);
  // Routes by their first path segment (in table order), so a request tries a handful of patterns, not all.
  const wild = table.filter((c) => firstSegment(c.route.path).includes('{'));
  const bySegment = new Map<string, Compiled[]>();
  for (const c of table) {
    const segment = firstSegment(c.route.path);
    if (!segment.includes('{') && !bySegment.has(segment))
      bySegment.set(
        segment,
        table.filter((t) => t === c || firstSegment(t.route.path) === segment || wild.includes(t)),
      );
  }
  return async (ctx: Context, next: Next): Promise<void> => {
    if (!isApiPath(ctx.path)) return next();
    const path = ctx.path.slice(API_PREFIX.length) || '/';
    const key = await identify(ctx, options.store);
    const charged = options.limiter.charge(
      ctx,
      key ? `key:${key.id}` : `ip:${ctx.ip}`,
      key && key.type !== 'root' ? 'sending' : 'management',
    );
    if (charged) await charged; // a shared store's count; one node's is synchronous

    const method = (ctx.method === 'HEAD' ? 'GET' : ctx.method) as Method;
    const tried = bySegment.get(firstSegment(path)) ?? wild;
    let found: Compiled | undefined;
    let match: RegExpExecArray | null = null;
    for (const c of tried) {
      if (c.route.method !== method) continue;
      match = c.pattern.exec(path);
      if (match) {
        found = c;
        break;
      }
    }
    if (!found || !match) {
      // Only a miss needs every route the path matches (404, or 405 with Allow).
      const candidates = tried.filter((c) => c.pattern.test(path));
      if (candidates.length === 0) throw new ApiError('not_found', 'no such route');
      const allow = [...new Set(candidates.map((c) => c.route.method))].join(', ');
      throw new ApiError('method_not_allowed', `${ctx.method} is not allowed here (allowed: ${allow})`, null, {
        headers: { Allow: allow },
      });
    }
    const { route, names } = found;
    const params: Record<string, string> = {};
    for (let i = 0; i < names.length; i++) params[names[i]!] = decodeParam(match[i + 1]!, names[i]!);

    const caller = route.public ? undefined : await requireKey(ctx, options.store);
    if (caller && route.permission) assertPermission(caller, route.permission);
    const query = route.query ? parseInput(route.query, { ...ctx.query }, 'query') : undefined;
    // Reading ctx.query parses the query string: with none there is nothing to parse.
    if (!route.query && ctx.querystring !== '' && Object.keys(ctx.query).length > 0) {
      const [name] = Object.keys(ctx.query);
      throw new ApiError('invalid_parameter', `unknown query parameter ${JSON.stringify(name)}`, name!);
    }
    let body: unknown;
    if (route.body) body = parseInput(route.body, await readJsonBody(ctx, options.maxBodyBytes), 'body');
    else {
      const length = ctx.get('content-length');
      if (length !== '' && length !== '0')
        throw new ApiError('invalid_parameter', `${route.method} ${route.path} takes no request body`);
    }

    const request: Request<unknown, unknown> = { ctx, key: caller!, params, query, body };
    if (route.idempotent && caller) {
      const fingerprint = createHash('sha256')
        .update(`${path}\n${canonical(body)}`)
        .digest('hex');
      await options.idempotency.run(ctx, caller.id, fingerprint, () => answer(ctx, found, request, options));
    } else await answer(ctx, found, request, options);
  };
}

/** A path's first segment: `mailboxes` of `/mailboxes/{id}` (paths here start with '/'). */
function firstSegment(path: string): string {
  const end = path.indexOf('/', 1);
  return end < 0 ? path.slice(1) : path.slice(1, end);
}

/** Runs the route's handler and sets its reply. */
async function answer(
  ctx: Context,
  compiled: Compiled,
  request: Request<unknown, unknown>,
  options: DispatchOptions,
): Promise<void> {
  const reply = await compiled.route.handler(request);
  if ('raw' in reply) {
    if (reply.filename) ctx.attachment(reply.filename);
    ctx.status = reply.status ?? 200;
    ctx.body = reply.raw;
    ctx.type = reply.contentType;
    return;
  }
  render(ctx, compiled, reply, options.validateResponses);
}

function render(ctx: Context, { route, reply: schema }: Compiled, reply: JsonReply, validate: boolean): void {
  if (validate && schema) {
    const checked = schema.safeParse(reply.data);
    if (!checked.success)
      throw new Error(`reply of ${route.method} ${route.path} does not match its schema: ${checked.error.message}`);
  }
  // The data is serialised once, for both its ETag and the envelope.
  const data = JSON.stringify(reply.data) ?? 'null';
  if (route.etag) {
    const etag = etagOfJson(data);
    ctx.set('ETag', etag);
    if (notModified(ctx, etag)) {
      ctx.status = 304;
      return;
    }
  }
  if (reply.location) ctx.set('Location', reply.location);
  const pagination = reply.pagination ? `,"pagination":${JSON.stringify(reply.pagination)}` : '';
  ctx.status = reply.status ?? route.status ?? 200;
  // What `ctx.type = 'application/json'` sets, without its MIME lookup on every reply.
  ctx.set('Content-Type', JSON_TYPE);
  ctx.body = `{"ok":true,"data":${data}${pagination},"meta":{"request_id":${JSON.stringify(ctx.state.requestId)}}}`;
}
