// The Stalwart/Mailbux-compatible routes (`/api/*`) over the management API fixture: calls with any
// of the accepted credentials, replies parsed (tagged errors come with HTTP 200).
import type { ApiOptions } from '../../src/http/app.ts';
import { type ApiFixture, type Reply, request, startApi } from './api.ts';

export interface CompatCall {
  /** Authorization header value; default `Bearer <root key>`; null: none. */
  auth?: string | null;
  body?: unknown;
  /** Sent as is (raw messages). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

export interface CompatFixture extends ApiFixture {
  compat(method: string, path: string, options?: CompatCall): Promise<Reply>;
}

export const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

export async function startCompat(options: Partial<ApiOptions> = {}): Promise<CompatFixture> {
  const api = await startApi(options);
  const origin = api.base.replace(/\/api\/v1$/, '');
  const compat: CompatFixture['compat'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const auth = o.auth === undefined ? `Bearer ${api.rootKey}` : o.auth;
    if (auth) headers.authorization = auth;
    return request(`${origin}/api${path}`, method, headers, o);
  };
  return Object.assign(api, { compat });
}
