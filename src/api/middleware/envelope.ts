import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { ApiError } from '../errors.ts';
import { StoreUnavailableError } from '../../store/index.ts';

const STORE_RETRY_AFTER_SECONDS = 30;
import type { Logger } from '../../log.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
  }
}

/** Request id, `Cache-Control: no-store`, and every failure turned into the error envelope. */
export function envelope(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const requestId = `req_${randomBytes(12).toString('hex')}`;
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    ctx.set('Cache-Control', 'no-store');
    const started = performance.now();
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError('not_found', 'no such route');
    } catch (err) {
      const apiError = toApiError(err);
      if (apiError.status >= 500) logger.error({ err, requestId }, 'request failed');
      for (const [name, value] of Object.entries(apiError.headers)) ctx.set(name, value);
      ctx.status = apiError.status;
      ctx.body = errorBody(apiError, requestId);
    }
    logger.debug({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'http');
  };
}

function errorBody(error: ApiError, requestId: string): unknown {
  return {
    ok: false,
    error: {
      code: error.code,
      message: error.message,
      param: error.param,
      retryable: error.status >= 500 || error.status === 429,
      ...(error.errors ? { errors: error.errors } : {}),
    },
    meta: { request_id: requestId },
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // Disk full or failing: nothing was written and the store recovers by itself.
  if (err instanceof StoreUnavailableError) {
    return new ApiError('service_unavailable', 'storage is temporarily unavailable, try again later', null, { headers: { 'Retry-After': String(STORE_RETRY_AFTER_SECONDS) } });
  }
  const status = (err as { status?: number }).status;
  if (status === 413) return new ApiError('payload_too_large', 'request body is too large');
  if (status === 400) return new ApiError('invalid_parameter', (err as Error).message);
  return new ApiError('internal_error', 'internal error');
}
