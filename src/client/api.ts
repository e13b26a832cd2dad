import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../config/schema.ts';
import { bootstrapKeyPath } from '../bootstrap.ts';
import { parseListen } from '../listeners.ts';

/** The API answered with its error envelope (or something else that is not 2xx). */
export class ApiCallError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Where the admin commands' own settings come from; they are no server settings (loadConfig must not see them). */
export const CLIENT_ENV = ['WRENMAIL_API_KEY', 'WRENMAIL_API_URL'];

/** No HTTP answer at all (server down, wrong address). */
export class ApiUnreachableError extends Error {}

/**
 * Where the admin commands reach the running server: the first http.listen address (0.0.0.0 means
 * this machine) unless $WRENMAIL_API_URL says otherwise; the key from $WRENMAIL_API_KEY or else the
 * bootstrap key file.
 */
function endpoint(config: Config): { base: string; key: string } {
  const [address] = config.http.listen;
  if (!address && !process.env.WRENMAIL_API_URL)
    throw new ApiUnreachableError('http.listen is empty: the admin commands need the HTTP API');
  let base = process.env.WRENMAIL_API_URL;
  if (!base) {
    const { host, port } = parseListen(address!);
    const target = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    base = `http://${target.includes(':') ? `[${target}]` : target}:${port}`;
  }
  let key = process.env.WRENMAIL_API_KEY;
  if (!key) {
    const path = bootstrapKeyPath(resolve(config.data_dir));
    try {
      key = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new ApiUnreachableError(
        `cannot read the API key from ${path} (${(err as NodeJS.ErrnoException).code}); set WRENMAIL_API_KEY or run as the server's user`,
      );
    }
  }
  return { base, key };
}

/** Calls the API; any reply but 2xx becomes an ApiCallError carrying the API's own message. */
export async function apiRequest(config: Config, method: string, path: string, body?: unknown): Promise<Response> {
  const { base, key } = endpoint(config);
  let response: Response;
  try {
    response = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new ApiUnreachableError(
      `cannot reach the API at ${base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
    );
  }
  if (response.ok) return response;
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    // not the API's envelope (a proxy's page): reported by status below
  }
  throw new ApiCallError(
    response.status,
    error?.code ?? `http_${response.status}`,
    error?.message ?? `${method} ${path}: HTTP ${response.status}`,
  );
}

export interface Envelope<T> {
  data: T;
  pagination?: { has_more: boolean; next_cursor?: string };
}

/** One JSON call: the envelope's data (and pagination). */
export async function apiCall<T>(config: Config, method: string, path: string, body?: unknown): Promise<Envelope<T>> {
  return (await (await apiRequest(config, method, path, body)).json()) as Envelope<T>;
}

/** Every item of a list, page after page. */
export async function apiList<T>(config: Config, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = await apiCall<T[]>(
      config,
      'GET',
      `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    items.push(...page.data);
    cursor = page.pagination?.has_more ? page.pagination.next_cursor : undefined;
  } while (cursor);
  return items;
}
