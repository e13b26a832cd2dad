// GET /metrics: the Prometheus text format, behind an API key.
//
// Why a key and not an open endpoint: the HTTP listener faces the internet (API, autoconfig), and
// connection, login and delivery counts tell an attacker when brute force works and how busy the
// server is. Prometheus sends a bearer token natively (`authorization: {credentials_file: …}`), so
// the cost is one root key holding only `server.metrics.read` (also granted by root:full,
// root:readonly and root:server_admin). Mailbox and sending keys never qualify.
import type { Context, Next } from 'koa';
import { Registry } from 'prom-client';
import { ApiError } from '../api/errors.ts';
import { identify, requireKey } from '../api/middleware/auth.ts';
import { assertPermission } from '../api/middleware/permissions.ts';
import { metrics } from '../metrics/registry.ts';
import { storeGauges, type StoreGaugeOptions } from '../metrics/store-gauges.ts';
import type { Store } from '../store/index.ts';

export const METRICS_PERMISSION = 'server.metrics.read';

export function metricsEndpoint(store: Store, options: StoreGaugeOptions = {}) {
  metrics.enableProcessMetrics();
  const local = storeGauges(store, options);
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== '/metrics') return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD')
      throw new ApiError('method_not_allowed', 'use GET', null, { headers: { Allow: 'GET, HEAD' } });
    await identify(ctx, store);
    const key = await requireKey(ctx, store);
    if (key.type !== 'root') throw new ApiError('insufficient_permissions', 'metrics need a root key');
    assertPermission(key, METRICS_PERMISSION);
    const merged = Registry.merge([metrics.registry, local]);
    ctx.type = merged.contentType;
    ctx.body = await merged.metrics();
  };
}
