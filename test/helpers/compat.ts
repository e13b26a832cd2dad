// The Stalwart/Mailbux-compatible routes (`/api/*`) over the management API fixture: calls with any
// of the accepted credentials, replies parsed (tagged errors come with HTTP 200).
import { type ApiFixture, type Reply, startApi } from './api.ts';

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

export async function startCompat(): Promise<CompatFixture> {
  const api = await startApi();
  const origin = api.base.replace(/\/api\/v1$/, '');
  const compat: CompatFixture['compat'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const auth = o.auth === undefined ? `Bearer ${api.rootKey}` : o.auth;
    if (auth) headers.authorization = auth;
    let body: string | Buffer | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${origin}/api${path}`, { method, headers, body });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, text, body: parsed };
  };
  return Object.assign(api, { compat });
}
