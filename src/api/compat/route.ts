// What a compatibility route is and what it is given: the resource modules (principal.ts, dkim.ts, …)
// declare routes of this shape, and router.ts serves them. Kept apart from the router so that the
// resource modules it imports do not import it back.
import type { Context } from 'koa';
import type { ApiKey } from '../../store/index.ts';
import { assertPermission } from '../middleware/permissions.ts';
import type { Caller } from './auth.ts';

export interface CompatRequest {
  ctx: Context;
  caller: Caller;
  /** The path pattern's capture groups, URL-decoded. */
  params: string[];
  /** First value of each query parameter. */
  query: Record<string, string | undefined>;
  /** The body as JSON (undefined when empty; 400 when not JSON). */
  json(): Promise<unknown>;
  /** The body's bytes (raw messages). */
  raw(): Promise<Buffer>;
}

export interface CompatRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Matched against the path after `/api`. */
  path: RegExp;
  handler: (req: CompatRequest) => Promise<unknown>;
}

/** 403 unless the caller's key holds `permission` (native permission names). */
export function need(req: CompatRequest, permission: string): ApiKey {
  assertPermission(req.caller.key, permission);
  return req.caller.key;
}
