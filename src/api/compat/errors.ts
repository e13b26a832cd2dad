// Stalwart's two kinds of failure (docs/API.md §13): management errors answer a tagged body;
// everything else is RFC 7807 problem+json with its real status. The Mailbux guide's error table
// (docs/seeds/mailbux-management-api-guide.txt, "Error Handling") is the requirement: 404 "Resource
// not found" and 409 "Resource already exists" carry those statuses, with Stalwart's tagged body so
// that clients reading the body still work; the other tags keep Stalwart's HTTP 200.
import type { ApiDeps } from '../deps.ts';
import { ServiceError } from '../../services/index.ts';
import { ApiError, fromServiceError } from '../errors.ts';

export type Tagged =
  | { error: 'fieldAlreadyExists'; field: string; value: unknown }
  | { error: 'fieldMissing'; field: string }
  | { error: 'notFound'; item: string }
  | { error: 'unsupported'; details: string }
  | { error: 'assertFailed' }
  | { error: 'other'; details: string; reason: string | null };

const STATUS: Partial<Record<Tagged['error'], number>> = { notFound: 404, fieldAlreadyExists: 409 };

/** A management error: rendered as `{"error": …}`, with the guide's status (else HTTP 200). */
export class CompatError extends Error {
  readonly body: Tagged;
  readonly status: number;
  constructor(body: Tagged) {
    super(body.error);
    this.body = body;
    this.status = STATUS[body.error] ?? 200;
  }
}

export const notFound = (item: string) => new CompatError({ error: 'notFound', item });
export const fieldMissing = (field: string) => new CompatError({ error: 'fieldMissing', field });
export const unsupported = (details: string) => new CompatError({ error: 'unsupported', details });
export const alreadyExists = (field: string, value: unknown) =>
  new CompatError({ error: 'fieldAlreadyExists', field, value });

/**
 * What the caller's tenant does not have: 403 "Permission denied (wrong tenant)" (the Mailbux guide's
 * error table) when `domain` is hosted here by another team — a hosted domain is public in DNS
 * anyway — else notFound(`item`).
 */
export async function notFoundHere(deps: ApiDeps, teamId: string, item: string, domain: string): Promise<Error> {
  const owner = await deps.store.domains.get(domain.trim().toLowerCase().replace(/\.$/, ''));
  if (owner && owner.teamId !== teamId)
    return new ApiError('insufficient_permissions', `${item} belongs to another tenant`);
  return notFound(item);
}

/** A request Stalwart would refuse as bad parameters (HTTP 400 problem). */
export const badParameters = (detail: string) => new ApiError('invalid_parameter', detail);

/** A native failure as the native API states it (a service's refusal included), else undefined. */
export const nativeError = (err: unknown): ApiError | undefined =>
  err instanceof ApiError ? err : err instanceof ServiceError ? fromServiceError(err) : undefined;

/**
 * Runs a native service call and turns its management-level failures into tagged errors: a taken
 * name or address → fieldAlreadyExists, a missing field → fieldMissing, an unknown one → notFound,
 * a rule refusing the change → other. `fields` maps native parameter names to the compat field and
 * the value that was asked for. Authentication, permission and rate-limit errors pass unchanged.
 */
export async function translated<T>(
  fields: Record<string, [field: string, value: unknown]>,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (caught) {
    const err = nativeError(caught);
    if (!err) throw caught;
    const [field, value] = (err.param && fields[err.param.split('.')[0]!]) || [err.param ?? 'unknown', null];
    switch (err.code) {
      case 'conflict':
        // A conflict about a field is a taken value; one without (a domain still in use) is a refusal.
        if (err.param !== null) throw alreadyExists(field, value);
        throw new CompatError({ error: 'other', details: err.message, reason: null });
      case 'missing_parameter':
        throw fieldMissing(field);
      case 'not_found':
        throw notFound(String(value ?? field));
      case 'validation_error':
      case 'invalid_parameter':
      case 'limit_exceeded':
        throw new CompatError({ error: 'other', details: err.message, reason: err.param === null ? null : field });
      default:
        throw err;
    }
  }
}

const TITLES: Record<number, string> = {
  400: 'Invalid parameters',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  413: 'Payload too large',
  429: 'Too many requests',
  500: 'Internal server error',
  503: 'Service unavailable',
};

export function problem(error: ApiError): { type: string; status: number; title: string; detail: string } {
  return { type: 'about:blank', status: error.status, title: TITLES[error.status] ?? 'Error', detail: error.message };
}
