// The /api/v1 route table: every resource module's routes, in the order the OpenAPI document lists them.
import type { ApiDeps } from './deps.ts';
import { buildOpenApi } from './openapi.ts';
import type { Route } from './registry.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { deliveryGroupRoutes } from './routes/delivery-groups.ts';
import { dkimRoutes } from './routes/dkim.ts';
import { domainRoutes } from './routes/domains.ts';
import { emailRoutes } from './routes/emails.ts';
import { eventRoutes } from './routes/events.ts';
import { listRoutes } from './routes/lists.ts';
import { logRoutes } from './routes/logs.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { messageRoutes } from './routes/messages.ts';
import { messageBatchRoutes } from './routes/message-batch.ts';
import { attachmentRoutes } from './routes/attachments.ts';
import { searchRoutes } from './routes/search.ts';
import { syncRoutes } from './routes/sync.ts';
import { threadRoutes } from './routes/threads.ts';
import { identityRoutes } from './routes/identity.ts';
import { mailboxRoutes } from './routes/mailboxes.ts';
import { providerRoutes } from './routes/providers.ts';
import { queueRoutes } from './routes/queue.ts';
import { reportRoutes } from './routes/reports.ts';
import { systemRoutes } from './routes/system.ts';
import { usageRoutes } from './routes/usage.ts';
import { sieveRoutes } from './routes/sieve.ts';
import { filterRoutes } from './routes/filters.ts';
import { spamRoutes } from './routes/spam.ts';
import { webhookRoutes } from './routes/webhooks.ts';

/** Every /api/v1 route, in the order the OpenAPI document lists them. */
export function apiRoutes(deps: ApiDeps): Route[] {
  const routes: Route[] = [];
  routes.push(
    ...systemRoutes(deps, () => buildOpenApi(routes, { title: 'Wren Mail API', version: '1.0.0' })),
    ...apiKeyRoutes(deps),
    ...domainRoutes(deps),
    ...dkimRoutes(deps),
    ...mailboxRoutes(deps),
    ...credentialRoutes(deps),
    ...listRoutes(deps),
    ...webhookRoutes(deps),
    ...eventRoutes(deps),
    ...emailRoutes(deps),
    ...messageRoutes(deps),
    ...messageBatchRoutes(deps),
    ...attachmentRoutes(deps),
    ...searchRoutes(deps),
    ...syncRoutes(deps),
    ...threadRoutes(deps),
    ...identityRoutes(deps),
    ...providerRoutes(deps),
    ...deliveryGroupRoutes(deps),
    ...queueRoutes(deps),
    ...logRoutes(deps),
    ...usageRoutes(deps),
    ...spamRoutes(deps),
    ...reportRoutes(deps),
    ...sieveRoutes(deps),
    ...filterRoutes(deps),
  );
  return routes;
}
