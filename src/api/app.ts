import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from '../log.ts';
import type { Store } from '../store/index.ts';
import { authenticate } from './middleware/auth.ts';
import { envelope } from './middleware/envelope.ts';
import { systemRoutes } from './routes/system.ts';

export interface ApiOptions {
  store: Store;
  logger: Logger;
  /** Reports readiness for /readyz (all listeners up, store open). */
  ready: () => boolean;
}

/** The HTTP app: health probes outside the API, `/api/v1` behind key authentication. */
export function createHttpApp(options: ApiOptions): Koa {
  const app = new Koa();
  app.proxy = false;
  app.use(envelope(options.logger));

  const open = new Router();
  open.get('/healthz', (ctx) => {
    ctx.body = { ok: true, status: 'alive' };
  });
  open.get('/readyz', (ctx) => {
    const broken = options.store.kv.committer.broken;
    const ready = options.ready() && !broken;
    ctx.status = ready ? 200 : 503;
    ctx.body = { ok: ready, status: ready ? 'ready' : broken ? 'store unavailable' : 'starting' };
  });
  app.use(open.routes());

  const v1 = new Router({ prefix: '/api/v1' });
  v1.use(authenticate(options.store));
  systemRoutes(v1, options.store);
  app.use(v1.routes());
  app.use(v1.allowedMethods());
  return app;
}
