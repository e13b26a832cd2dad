// The route registry: each route declares its method, path, permission and schemas once; the same
// declaration drives dispatch, validation and the OpenAPI document.
import type { Readable } from 'node:stream';
import type { Context } from 'koa';
import type { z } from 'zod';
import type { ApiKey } from '../store/index.ts';
import type { ErrorCode } from './errors.ts';
import type { Page } from './middleware/pagination.ts';

export type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface JsonReply {
  data: unknown;
  status?: number;
  /** Location of a created resource (201). */
  location?: string;
  pagination?: Page<unknown>['pagination'];
}

/** A body that is not the JSON envelope: a zone file, a backup stream, the OpenAPI document. */
export interface RawReply {
  raw: string | Readable;
  contentType: string;
  /** Default 200; 304 for a conditional GET that matched. */
  status?: number;
  /** Content-Disposition: attachment; filename=… */
  filename?: string;
}

export interface Request<Q, B> {
  ctx: Context;
  /** The calling key (routes marked public have none: never read it there). */
  key: ApiKey;
  params: Record<string, string>;
  query: Q;
  body: B;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface RouteSpec<QS extends z.ZodType | undefined, BS extends z.ZodType | undefined> {
  method: Method;
  /** OpenAPI-style template under /api/v1: `/domains/{id}`. */
  path: string;
  summary: string;
  tag: string;
  /** Permission the key needs; null: any valid key. */
  permission: string | null;
  /** No key needed (the OpenAPI document). */
  public?: boolean;
  query?: QS;
  body?: BS;
  /** Schema of `data` (of each item for lists); raw replies name their media type instead. */
  response?: z.ZodType;
  raw?: string;
  list?: boolean;
  /** Success status (default 200). */
  status?: number;
  /** Honours Idempotency-Key. */
  idempotent?: boolean;
  /** Single-resource GET: weak ETag, If-None-Match → 304. */
  etag?: boolean;
  /** Honours If-Match (409 conflict when stale). */
  ifMatch?: boolean;
  /** Errors beyond the ones every route of its kind can return (auth, permission, validation, rate limit). */
  errors?: ErrorCode[];
  handler: (req: Request<Out<QS>, Out<BS>>) => Promise<JsonReply | RawReply>;
}

export type Route = RouteSpec<z.ZodType | undefined, z.ZodType | undefined>;

export function defineRoute<QS extends z.ZodType | undefined = undefined, BS extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<QS, BS>,
): Route {
  return spec as unknown as Route;
}

/** Path parameter names of a template, in order. */
export const pathParams = (path: string): string[] => [...path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!);

/** The errors a route can return: those its shape implies, plus its own. */
export function routeErrors(route: Route): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (!route.public) {
    codes.add('authentication_required');
    codes.add('tls_required');
  }
  if (route.permission) codes.add('insufficient_permissions');
  if (route.query || route.body) codes.add('invalid_parameter');
  if (route.body) {
    codes.add('missing_parameter');
    codes.add('payload_too_large');
    codes.add('unsupported_media_type');
  }
  if (pathParams(route.path).length) codes.add('not_found');
  if (route.idempotent) codes.add('idempotency_conflict');
  if (route.ifMatch) codes.add('conflict');
  for (const code of route.errors ?? []) codes.add(code);
  codes.add('rate_limit_exceeded');
  codes.add('internal_error');
  return [...codes];
}
