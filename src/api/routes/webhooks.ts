// Webhook subscriptions (docs/API.md §11): CRUD, rotate-secret, test, deliveries with their attempts, the
// payload sent, and replay. Sending is the dispatcher's job (src/events/webhook-dispatcher.ts).
import { z } from 'zod';
import { newWebhookSecret } from '../../events/signature.ts';
import { urlPolicyOf, urlProblem } from '../../events/ssrf.ts';
import { FILTER_TYPES } from '../../events/types.ts';
import { Tx } from '../../store/index.ts';
import type { ApiKey } from '../../store/index.ts';
import { newId } from '../../store/teams.ts';
import { type Webhook, type WebhookDelivery, Webhooks } from '../../store/webhooks.ts';
import { underTeamLock } from '../../services/index.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { parsePublicId } from '../ids.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { deleted, iso, isoOrNull, timestamp } from '../schemas.ts';

const MAX_WEBHOOKS_PER_TEAM = 50;

const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  description: z.string(),
  event_types: z.array(z.string()),
  mailbox_ids: z.array(z.string()).describe('empty: every mailbox'),
  enabled: z.boolean(),
  failing: z.boolean().describe('retries ran out; deliveries are skipped until the webhook is enabled again'),
  failing_since: timestamp.nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});
const withSecret = webhookSchema.extend({ secret: z.string().describe('whsec_…: shown on create and rotate only') });

const attemptSchema = z.object({
  attempt: z.number().int(),
  attempted_at: timestamp,
  duration_ms: z.number().int(),
  status_code: z.number().int().nullable(),
  success: z.boolean(),
  error: z.string().nullable(),
  response_body: z.string(),
});
const deliverySchema = z.object({
  id: z.string(),
  webhook_id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed', 'skipped']),
  attempt_count: z.number().int(),
  attempts: z.array(attemptSchema),
  next_attempt_at: timestamp.nullable(),
  replay_of: z.string().nullable(),
  created_at: timestamp,
  updated_at: timestamp,
});

const eventTypes = z
  .array(z.enum(['*', ...FILTER_TYPES] as [string, ...string[]]))
  .min(1)
  .max(FILTER_TYPES.length + 1);
const description = z.string().trim().max(500);
const mailboxIds = z.array(z.string().max(40)).max(100);

export const webhookView = (w: Webhook): z.infer<typeof webhookSchema> => ({
  id: publicId('whk', w.id),
  url: w.url,
  description: w.description,
  event_types: w.eventTypes,
  mailbox_ids: w.accountIds.map((id) => publicId('mbx', id)),
  enabled: w.enabled,
  failing: w.failing,
  failing_since: isoOrNull(w.failingSince),
  created_at: iso(w.createdAt),
  updated_at: iso(w.updatedAt),
});

const deliveryView = (d: WebhookDelivery): z.infer<typeof deliverySchema> => ({
  id: publicId('whda', d.id),
  webhook_id: publicId('whk', d.webhookId),
  event_id: d.eventId,
  event_type: d.eventType,
  status: d.status,
  attempt_count: d.attempts.length,
  attempts: d.attempts.map((a) => ({
    attempt: a.attempt,
    attempted_at: iso(a.time),
    duration_ms: a.durationMs,
    status_code: a.statusCode,
    success: a.success,
    error: a.error,
    response_body: a.responseBody,
  })),
  next_attempt_at: d.status === 'pending' ? iso(d.dueAt) : null,
  replay_of: d.replayOf && publicId('whda', d.replayOf),
  created_at: iso(d.createdAt),
  updated_at: iso(d.updatedAt),
});

const tag = 'Webhooks';

export const webhookRoutes = (deps: ApiDeps): Route[] => {
  const webhooks = new Webhooks(deps.store.kv, deps.store.notifier);

  const checkUrl = (url: string): string => {
    const problem = urlProblem(url, urlPolicyOf(deps.store));
    if (problem) throw new ApiError('validation_error', `url ${problem}`, 'url');
    return url;
  };

  const checkMailboxes = async (caller: ApiKey, ids: string[]): Promise<string[]> => {
    const accountIds: string[] = [];
    for (const [i, id] of ids.entries()) {
      const account = /^mbx_/.test(id) ? await deps.store.accounts.get(id.slice(4)) : undefined;
      if (!account || account.teamId !== caller.teamId)
        throw new ApiError('validation_error', `no mailbox ${JSON.stringify(id)} in this team`, `mailbox_ids.${i}`);
      if (!accountIds.includes(account.id)) accountIds.push(account.id);
    }
    return accountIds;
  };

  const load = async (caller: ApiKey, id: string): Promise<Webhook> => {
    const webhook = await webhooks.get(parsePublicId('whk', id));
    if (!webhook || webhook.teamId !== caller.teamId) throw new ApiError('not_found', `no webhook ${id}`, 'id');
    return webhook;
  };

  const loadDelivery = async (webhook: Webhook, id: string): Promise<WebhookDelivery> => {
    const delivery = await webhooks.getDelivery(parsePublicId('whda', id, 'delivery_id'));
    if (!delivery || delivery.webhookId !== webhook.id)
      throw new ApiError('not_found', `no delivery ${id} of this webhook`, 'delivery_id');
    return delivery;
  };

  /** Read-modify-write of one subscription, serialised with the dispatcher's failing mark through the record's lock. */
  const update = (id: string, change: (w: Webhook) => void | Promise<void>): Promise<Webhook> =>
    deps.store.directory.run(`webhook/${id}`, async () => {
      const current = await webhooks.get(id);
      if (!current) throw new ApiError('not_found', `no webhook whk_${id}`, 'id');
      await change(current);
      current.updatedAt = Date.now();
      await webhooks.save(current);
      return current;
    });

  return [
    defineRoute({
      method: 'GET',
      path: '/webhooks',
      summary: 'List webhooks',
      tag,
      permission: 'webhook.read',
      query: z.object(pageQuery).strict(),
      response: webhookSchema,
      list: true,
      handler: async ({ key, query }) => {
        const page = paginate(await webhooks.listForTeam(key.teamId), (w) => ({ t: w.createdAt, id: w.id }), query);
        return { data: page.items.map(webhookView), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/webhooks',
      summary: 'Create a webhook (its signing secret is shown once)',
      tag,
      permission: 'webhook.create',
      body: z
        .object({
          url: z.string().max(2048),
          event_types: eventTypes,
          mailbox_ids: mailboxIds.optional(),
          description: description.optional(),
          enabled: z.boolean().optional(),
        })
        .strict(),
      response: withSecret,
      status: 201,
      idempotent: true,
      errors: ['validation_error', 'limit_exceeded'],
      handler: async ({ key, body }) => {
        const url = checkUrl(body.url);
        const accountIds = await checkMailboxes(key, body.mailbox_ids ?? []);
        const webhook = await underTeamLock(deps, key.teamId, 'webhooks', async () => {
          const count = (await webhooks.listForTeam(key.teamId)).length;
          if (count >= MAX_WEBHOOKS_PER_TEAM)
            throw new ApiError('limit_exceeded', `the team has ${count} webhooks (limit ${MAX_WEBHOOKS_PER_TEAM})`);
          const now = Date.now();
          const created: Webhook = {
            id: newId(now),
            teamId: key.teamId,
            url,
            description: body.description ?? '',
            eventTypes: [...new Set(body.event_types)],
            accountIds,
            secret: newWebhookSecret(),
            enabled: body.enabled ?? true,
            failing: false,
            failingSince: null,
            createdAt: now,
            updatedAt: now,
          };
          await webhooks.save(created);
          return created;
        });
        return {
          data: { ...webhookView(webhook), secret: webhook.secret },
          location: `/api/v1/webhooks/${publicId('whk', webhook.id)}`,
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/webhooks/{id}',
      summary: 'Get a webhook',
      tag,
      permission: 'webhook.read',
      response: webhookSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: webhookView(await load(key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/webhooks/{id}',
      summary: 'Update a webhook; enabled: true also clears failing',
      tag,
      permission: 'webhook.update',
      body: z
        .object({
          url: z.string().max(2048).optional(),
          event_types: eventTypes.optional(),
          mailbox_ids: mailboxIds.optional(),
          description: description.optional(),
          enabled: z.boolean().optional(),
        })
        .strict(),
      response: webhookSchema,
      ifMatch: true,
      errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const found = await load(key, params.id!);
        const url = body.url === undefined ? undefined : checkUrl(body.url);
        const accountIds = body.mailbox_ids === undefined ? undefined : await checkMailboxes(key, body.mailbox_ids);
        const saved = await update(found.id, (w) => {
          checkIfMatch(ctx, webhookView(w));
          if (url !== undefined) w.url = url;
          if (accountIds !== undefined) w.accountIds = accountIds;
          if (body.event_types !== undefined) w.eventTypes = [...new Set(body.event_types)];
          if (body.description !== undefined) w.description = body.description;
          if (body.enabled !== undefined) w.enabled = body.enabled;
          if (body.enabled) {
            w.failing = false;
            w.failingSince = null;
          }
        });
        return { data: webhookView(saved) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/webhooks/{id}',
      summary: 'Delete a webhook (pending deliveries are dropped)',
      tag,
      permission: 'webhook.delete',
      response: deleted,
      ifMatch: true,
      handler: async ({ ctx, key, params }) => {
        const webhook = await load(key, params.id!);
        checkIfMatch(ctx, webhookView(webhook));
        await webhooks.remove(webhook);
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/webhooks/{id}/rotate-secret',
      summary: 'Replace the signing secret (the next delivery is signed with the new one)',
      tag,
      permission: 'webhook.manage',
      response: z.object({ id: z.string(), secret: z.string() }),
      idempotent: true,
      handler: async ({ key, params }) => {
        const found = await load(key, params.id!);
        const saved = await update(found.id, (w) => void (w.secret = newWebhookSecret()));
        return { data: { id: params.id!, secret: saved.secret } };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/webhooks/{id}/test',
      summary: 'Send a test event to this webhook only',
      tag,
      permission: 'webhook.manage',
      response: z.object({ event_id: z.string() }),
      idempotent: true,
      errors: ['conflict'],
      handler: async ({ key, params }) => {
        const webhook = await load(key, params.id!);
        if (!webhook.enabled) throw new ApiError('conflict', 'the webhook is disabled');
        const event = await deps.store.emit({
          type: 'test',
          teamId: key.teamId,
          data: { webhook_id: params.id!, message: 'This is a test event from Wren Mail.' },
        });
        return { data: { event_id: event.id } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/webhooks/{id}/deliveries',
      summary: 'List deliveries with their attempts, newest first',
      tag,
      permission: 'webhook.read',
      query: z
        .object({ ...pageQuery, status: z.enum(['pending', 'succeeded', 'failed', 'skipped']).optional() })
        .strict(),
      response: deliverySchema,
      list: true,
      handler: async ({ key, params, query }) => {
        const webhook = await load(key, params.id!);
        const before = query.cursor === undefined ? undefined : parsePublicId('whda', query.cursor, 'cursor');
        // Filtering by status scans further than one page; bounded by the retention of deliveries.
        const items: WebhookDelivery[] = [];
        let from = before;
        for (;;) {
          const batch = await webhooks.deliveriesOf(webhook.id, { before: from, limit: 200 });
          items.push(...batch.filter((d) => !query.status || d.status === query.status));
          if (batch.length < 200 || items.length > query.limit) break;
          from = batch.at(-1)!.id;
        }
        const page = items.slice(0, query.limit);
        const hasMore = items.length > query.limit;
        return {
          data: page.map(deliveryView),
          pagination: hasMore
            ? { has_more: true, next_cursor: publicId('whda', page.at(-1)!.id) }
            : { has_more: false },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/webhooks/{id}/deliveries/{delivery_id}',
      summary: 'Get a delivery with its attempts',
      tag,
      permission: 'webhook.read',
      response: deliverySchema,
      handler: async ({ key, params }) => ({
        data: deliveryView(await loadDelivery(await load(key, params.id!), params.delivery_id!)),
      }),
    }),
    defineRoute({
      method: 'GET',
      path: '/webhooks/{id}/deliveries/{delivery_id}/payload',
      summary: 'The exact JSON body POSTed',
      tag,
      permission: 'webhook.read',
      response: z.object({
        delivery_id: z.string(),
        event_id: z.string(),
        event_type: z.string(),
        payload: z.record(z.string(), z.unknown()),
      }),
      handler: async ({ key, params }) => {
        const delivery = await loadDelivery(await load(key, params.id!), params.delivery_id!);
        return {
          data: {
            delivery_id: params.delivery_id!,
            event_id: delivery.eventId,
            event_type: delivery.eventType,
            payload: JSON.parse(delivery.body) as Record<string, unknown>,
          },
        };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/webhooks/{id}/deliveries/{delivery_id}/replay',
      summary: "Send a delivery's payload again, as a new delivery",
      tag,
      permission: 'webhook.manage',
      response: deliverySchema,
      status: 201,
      idempotent: true,
      handler: async ({ key, params }) => {
        const webhook = await load(key, params.id!);
        const original = await loadDelivery(webhook, params.delivery_id!);
        const tx = new Tx();
        const replay = webhooks.addDelivery(tx, {
          webhookId: webhook.id,
          teamId: webhook.teamId,
          eventId: original.eventId,
          eventType: original.eventType,
          body: original.body,
          dueAt: Date.now(),
          replayOf: original.id,
        });
        await deps.store.kv.commit(tx);
        return {
          data: deliveryView(replay),
          location: `/api/v1/webhooks/${params.id!}/deliveries/${publicId('whda', replay.id)}`,
        };
      },
    }),
  ];
};
