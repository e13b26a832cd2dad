import type { ServiceError, ServiceErrorCode } from '../services/index.ts';

/** The API's error codes (docs/API.md §4) and their HTTP statuses. */
export const ERROR_STATUS = {
  invalid_parameter: 400,
  missing_parameter: 400,
  authentication_required: 401,
  insufficient_permissions: 403,
  tls_required: 403,
  mailbox_suspended: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  limit_exceeded: 409,
  idempotency_conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_error: 422,
  rate_limit_exceeded: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** What each code means, served at `/docs/api/errors#<code>` (the envelope's `doc_url`). */
export const ERROR_DOCS: Record<ErrorCode, string> = {
  invalid_parameter:
    'Bad query parameter format or syntactic body validation failure. `errors[]` lists every field at fault.',
  missing_parameter: 'A required parameter is missing. `errors[]` lists every field at fault.',
  authentication_required: 'No API key, or one that is unknown, revoked or expired.',
  insufficient_permissions: 'The key lacks the permission the endpoint requires.',
  tls_required:
    'Credentials were sent over plain HTTP from an address the server does not trust: use HTTPS, or have the operator list the address in `http.plain_credentials_from`.',
  mailbox_suspended: 'The key belongs to a suspended mailbox; it works again once the mailbox is resumed.',
  not_found: 'The resource does not exist or belongs to a different team.',
  method_not_allowed: 'The path exists but not with this method; `Allow` lists the ones it has.',
  conflict: "The resource's state forbids the operation (for example an If-Match mismatch): re-fetch, reapply, retry.",
  limit_exceeded: 'A team resource limit is reached (for example 100 active API keys); remove one first.',
  idempotency_conflict: 'The Idempotency-Key was used with a different body, or its first request is still in flight.',
  payload_too_large: "The request body exceeds the server's size limit.",
  unsupported_media_type: 'The body is not JSON: send `Content-Type: application/json`.',
  validation_error: 'The body parsed but violates a semantic rule.',
  rate_limit_exceeded: "The key's request limit is reached; wait `Retry-After` seconds.",
  internal_error: 'An unexpected server error; retry later and quote X-Request-Id when reporting it.',
  service_unavailable: 'A component the request needs is briefly unavailable; retry after `Retry-After` seconds.',
};

/** The transient failures a client should back off and retry (the envelope's `retryable`). */
export const isRetryable = (status: number): boolean => status >= 500 || status === 429;

/** One field's problem in an accumulated validation failure (`error.errors[]`). */
export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly param: string | null;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  /** Response headers the error carries (Retry-After, ETag of the current version, Allow). */
  readonly headers: Record<string, string>;
  constructor(
    code: ErrorCode,
    message: string,
    param: string | null = null,
    extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.code = code;
    this.param = param;
    this.status = ERROR_STATUS[code];
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
  }
}

const SERVICE_CODES: Record<ServiceErrorCode, ErrorCode> = {
  not_found: 'not_found',
  conflict: 'conflict',
  invalid: 'validation_error',
  limit_exceeded: 'limit_exceeded',
};

/** A service's refusal (src/services) as the API says it: the one place the two sets of codes meet. */
export const fromServiceError = (err: ServiceError): ApiError =>
  new ApiError(SERVICE_CODES[err.code], err.message, err.field);
