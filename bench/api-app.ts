// The server both API benches time: a checkout's HTTP app over `store`, a root key of `teamId`
// (permissions ['*']: the permission check's own path, as a root key has it) and no rate limit, so a
// run measures the request path, not the limiter's refusals. The modules come from the checkout
// under test (bench/api-cost.ts also loads an older one).
import { createServer, type Server } from 'node:http';
import { pino } from 'pino';
import type { createHttpApp } from '../src/http/app.ts';
import type { mintKey } from '../src/services/api-keys.ts';
import type { Store } from '../src/store/index.ts';

export interface ApiModules {
  createHttpApp: typeof createHttpApp;
  mintKey: typeof mintKey;
}

export async function unlimitedApiServer(
  modules: ApiModules,
  store: Store,
  teamId: string,
): Promise<{ server: Server; secret: string }> {
  const { secret } = await modules.mintKey(store, teamId, {
    type: 'root',
    name: 'bench',
    permissions: ['*'],
    accountId: null,
    domain: null,
    expiresAt: null,
  });
  const unlimited = { limit: Number.MAX_SAFE_INTEGER, windowMs: 60_000 };
  const app = modules.createHttpApp({
    store,
    logger: pino({ level: 'silent' }),
    ready: () => true,
    rateLimits: { management: unlimited, sending: unlimited },
  });
  return { server: createServer(app.callback()), secret };
}
