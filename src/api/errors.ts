/** The API's error codes (API.md §A1, §B12) and their HTTP statuses. */
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
  constructor(code: ErrorCode, message: string, param: string | null = null, extra: { errors?: FieldError[]; headers?: Record<string, string> } = {}) {
    super(message);
    this.code = code;
    this.param = param;
    this.status = ERROR_STATUS[code];
    this.errors = extra.errors;
    this.headers = extra.headers ?? {};
  }
}
