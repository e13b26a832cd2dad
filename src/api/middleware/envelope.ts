import { randomBytes } from 'node:crypto';
import type { Context, Next } from 'koa';
import { ServiceError } from '../../services/index.ts';
import { ApiError, ERROR_DOCS, ERROR_STATUS, type ErrorCode, fromServiceError, isRetryable } from '../errors.ts';
import type { Logger } from '../../log.ts';
import { StoreConflictError, StoreReadError, StoreUnavailableError } from '../../store/index.ts';

declare module 'koa' {
  interface DefaultState {
    requestId: string;
  }
}

const ID_BYTES = 12;
const IDS_PER_DRAW = 256;
let idPool = Buffer.alloc(0);
let idOffset = 0;

/** `req_` and 96 random bits, drawn 256 ids at a time: one getrandom call per 256 requests, not one each. */
function nextRequestId(): string {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * IDS_PER_DRAW);
    idOffset = 0;
  }
  idOffset += ID_BYTES;
  return `req_${idPool.toString('hex', idOffset - ID_BYTES, idOffset)}`;
}

/** Request id, `Cache-Control: no-store`, and every failure turned into the error envelope. */
export function envelope(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const requestId = nextRequestId();
    ctx.state.requestId = requestId;
    ctx.set('X-Request-Id', requestId);
    ctx.set('Cache-Control', 'no-store');
    // The request's debug log line (debug is off in production): its clock read and fields only when on.
    const debug = logger.isLevelEnabled('debug');
    const started = debug ? performance.now() : 0;
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new ApiError('not_found', 'no such route');
    } catch (err) {
      const apiError = toApiError(err);
      if (apiError.status >= 500) logger.error({ err, requestId }, 'request failed');
      for (const [name, value] of Object.entries(apiError.headers)) ctx.set(name, value);
      // Sendmux: 429 and 503 say when to come back; a 503 without its own hint gets a short one.
      if (apiError.status === 503 && !ctx.response.get('Retry-After'))
        ctx.set('Retry-After', String(SERVICE_RETRY_SECONDS));
      ctx.status = apiError.status;
      ctx.body = errorBody(apiError, requestId, `${originOf(ctx)}${ERROR_DOCS_PATH}#${apiError.code}`);
    }
    if (debug)
      logger.debug(
        {
          requestId,
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round(performance.now() - started),
        },
        'http',
      );
  };
}

const SERVICE_RETRY_SECONDS = 30;

/** The origin the client used; Koa reads the protocol from the socket, gone once an oversized upload was cut off. */
function originOf(ctx: Context): string {
  const encrypted = (ctx.req.socket as { encrypted?: boolean } | null)?.encrypted === true;
  return `${encrypted ? 'https' : 'http'}://${ctx.host}`;
}

/** Where the error codes are described (served by errorDocs). */
export const ERROR_DOCS_PATH = '/docs/api/errors';

function errorBody(error: ApiError, requestId: string, docUrl: string): unknown {
  return {
    ok: false,
    error: {
      code: error.code,
      message: error.message,
      param: error.param,
      doc_url: docUrl,
      retryable: isRetryable(error.status),
      ...(error.errors ? { errors: error.errors } : {}),
    },
    meta: { request_id: requestId },
  };
}

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ServiceError) return fromServiceError(err);
  // Disk full or failing, or the database away for a read: nothing was written and the store recovers
  // by itself (503 + Retry-After).
  if (err instanceof StoreUnavailableError || err instanceof StoreReadError)
    return new ApiError('service_unavailable', 'storage is temporarily unavailable, try again later');
  // Shared store: other servers kept changing the same records and retries ran out; nothing was written.
  if (err instanceof StoreConflictError) return new ApiError('service_unavailable', 'busy, try again');
  const status = (err as { status?: number }).status;
  if (status === 413) return new ApiError('payload_too_large', 'request body is too large');
  if (status === 400) return new ApiError('invalid_parameter', (err as Error).message);
  return new ApiError('internal_error', 'internal error');
}

const escapeHtml = (text: string): string => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page `doc_url` points at: each code with its status, whether to retry, and what it means. */
export function errorDocsPage(): string {
  const rows = (Object.keys(ERROR_STATUS) as ErrorCode[]).map(
    (code) =>
      `<h2 id="${code}">${code}</h2>\n<p>HTTP ${ERROR_STATUS[code]} · retryable: ${isRetryable(ERROR_STATUS[code])}</p>\n<p>${escapeHtml(ERROR_DOCS[code])}</p>`,
  );
  return `<!doctype html>\n<meta charset="utf-8">\n<title>Wren Mail API errors</title>\n<h1>Wren Mail API errors</h1>\n${rows.join('\n')}\n`;
}
