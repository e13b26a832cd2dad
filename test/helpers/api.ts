// A management API served over loopback from a temp store, with a team and a root key made the way
// bootstrap makes them, and a small fetch wrapper that returns status, headers and parsed body.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { apiRoutes } from '../../src/api/index.ts';
import { type ApiOptions, createHttpApp } from '../../src/http/app.ts';
import type { Route } from '../../src/api/registry.ts';
import { SEND_LIMIT_DEFAULTS } from '../../src/store/sends.ts';
import { mintKey } from '../../src/services/api-keys.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import type { Store } from '../../src/store/index.ts';
import type { ApiKey } from '../../src/store/types.ts';
import { openTestStore } from './store.ts';
import { tempDir } from './tmp.ts';

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  // Replies are JSON envelopes in these tests; `any` keeps assertions short.
  body: any;
}

export interface CallOptions {
  key?: string | null;
  body?: unknown;
  /** Sent as is (no JSON encoding). */
  raw?: string | Buffer;
  headers?: Record<string, string>;
}

/**
 * `method` on `url` with `headers` (an Authorization among them, if any): `o.raw` sent as is, else
 * `o.body` as JSON. The reply, its body parsed where it is JSON.
 */
export async function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  o: { body?: unknown; raw?: string | Buffer },
): Promise<Reply> {
  let body: string | Buffer | undefined;
  if (o.raw !== undefined) body = o.raw;
  else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: parsed };
}

export interface ApiFixture {
  base: string;
  store: Store;
  rootKey: string;
  teamId: string;
  call(method: string, path: string, options?: CallOptions): Promise<Reply>;
  /** A key of `teamId` (default: the fixture's team) with these permissions, stored as bootstrap does. */
  makeKey(
    permissions: string[],
    teamId?: string,
    type?: 'root' | 'sending' | 'mailbox',
    accountId?: string | null,
  ): Promise<string>;
  /** Another team with its own root key. */
  newTeam(name: string): Promise<{ teamId: string; key: string }>;
  close(): Promise<void>;
}

export async function startApi(options: Partial<ApiOptions> = {}): Promise<ApiFixture> {
  const dir = tempDir('wrenmail-api-');
  const store = await openTestStore(dir.path);
  const app = createHttpApp({
    store,
    logger: pino({ level: 'silent' }),
    ready: () => true,
    validateResponses: true,
    hostname: 'mail.wren.test',
    ...options,
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;

  const makeKey: ApiFixture['makeKey'] = (permissions, teamId = team.id, type = 'root', accountId = null) =>
    storeKey(store, { teamId, type, permissions, accountId });
  const team = await store.teams.create('team-a');
  const rootKey = await makeKey(PRESETS['root:full']!);

  const call: ApiFixture['call'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const key = o.key === undefined ? rootKey : o.key;
    if (key) headers.authorization = `Bearer ${key}`;
    return request(base + path, method, headers, o);
  };

  return {
    base,
    store,
    rootKey,
    teamId: team.id,
    call,
    makeKey,
    async newTeam(name) {
      const other = await store.teams.create(name);
      return { teamId: other.id, key: await makeKey(PRESETS['root:full']!, other.id) };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
      dir.remove();
    },
  };
}

/** The /api/v1 route declarations over a fixture's store (for tests that walk every route). */
export const routeTable = (api: ApiFixture): Route[] =>
  apiRoutes({
    store: api.store,
    logger: undefined as never,
    hostname: 'h',
    ports: { imaps: 1, submission: 2, submissions: 3 },
    resolver: undefined,
    lists: undefined as never,
    sendLimits: SEND_LIMIT_DEFAULTS,
  });

/**
 * Stores a key straight in the store (no maker, no team limit: what the API's own routes check is
 * not under test here) and returns its one-time secret.
 */
export async function storeKey(
  store: Store,
  key: { teamId: string; type: ApiKey['type']; permissions: string[]; accountId?: string | null; name?: string },
): Promise<string> {
  const { teamId, type, permissions, accountId = null, name = 'test' } = key;
  return (await mintKey(store, teamId, { type, name, permissions, accountId, domain: null, expiresAt: null })).secret;
}
