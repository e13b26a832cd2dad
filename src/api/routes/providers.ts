// Providers (docs/API.md §12.3): SMTP relays a team sends through, stored as store.queue.relays records
// owned by the team. A provider's `percentage` is its relay weight while active and 0 while not, so
// the queue runner needs to know nothing of activation.
import { isIP } from 'node:net';
import { z } from 'zod';
import { SmtpFailure, SmtpSession } from '../../outbound/deliver.ts';
import type { ApiKey } from '../../store/index.ts';
import { type Relay, type RelayGroup, type RelayProfile, utcDay } from '../../store/relays.ts';
import {
  MAX_PER_TEAM,
  moveRelays,
  teamGroups,
  teamRelays,
  type TeamRelay,
  underRelayLock,
} from '../../services/relays.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { publicId } from '../../store/public-ids.ts';
import { checkIfMatch } from '../middleware/etag.ts';
import { pageQuery, paginate } from '../middleware/pagination.ts';
import { defineRoute, type Route } from '../registry.ts';
import { loadGroup, loadRelay } from '../views/providers.ts';
import { deleted, iso, isDomainName, isoOrNull, timestamp } from '../schemas.ts';

const PROBE_TIMEOUT_MS = 10_000;

const PROTOCOL_TLS: Record<RelayProfile['protocol'], Relay['tls']> = {
  tls: 'implicit',
  ssl: 'implicit',
  starttls: 'starttls',
  none: 'none',
};

export const providerSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.literal('smtp'),
  status: z.enum(['active', 'inactive', 'error']).describe('error: active, but the last test failed'),
  status_reason: z.string().nullable(),
  smtp_host: z.string(),
  smtp_port: z.number().int(),
  smtp_protocol: z.enum(['tls', 'ssl', 'starttls', 'none']),
  smtp_username: z.string().nullable(),
  has_smtp_password: z.boolean(),
  verify_certificate: z.boolean(),
  percentage: z.number().int().describe("share of its group's traffic"),
  quotas: z.object({ per_day: z.number().int().nullable() }),
  group_id: z.string().nullable(),
  sent_today: z.number().int(),
  is_shared: z.literal(false),
  is_editable: z.literal(true),
  allowed_actions: z.object({
    activate: z.boolean(),
    deactivate: z.boolean(),
    delete: z.boolean(),
    test: z.boolean(),
    update: z.boolean(),
  }),
  last_tested_at: timestamp.nullable(),
  created_at: timestamp,
});

const USAGE_WINDOW_DAYS = 7;
const DAY_MS = 86_400_000;

const usageSchema = z.object({
  window_days: z.number().int(),
  providers: z.array(
    z.object({
      provider_id: z.string(),
      name: z.string(),
      sent_today: z.number().int().describe('messages sent through it this UTC day'),
      sent_7d: z.number().int().describe("over the window's UTC days, today included"),
      daily_limit: z.number().int().nullable(),
      days: z.array(z.object({ date: z.string(), sent: z.number().int() })).describe('oldest first'),
    }),
  ),
});

const testSchema = z.object({
  success: z.boolean(),
  message: z.string(),
  latency_ms: z.number().int(),
  tested_at: timestamp,
});

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL');
const host = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .refine((h) => isIP(h) !== 0 || isDomainName(h), 'expected a host name or an IP address');

const fields = {
  name: text(200),
  smtp_host: host,
  smtp_port: z.number().int().min(1).max(65535),
  smtp_protocol: z
    .enum(['tls', 'ssl', 'starttls', 'none'])
    .describe('tls and ssl: implicit TLS; starttls: STARTTLS required; none: plain text'),
  smtp_username: text(320).nullable(),
  smtp_password: z
    .string()
    .min(1)
    .max(1024)
    .refine((s) => !/[\r\n\0]/.test(s), 'must not contain CR, LF or NUL')
    .nullable(),
  verify_certificate: z.boolean().describe("check the relay's certificate (default true)"),
  percentage: z.number().int().min(0).max(100),
  quotas: z
    .object({ per_day: z.number().int().min(1).nullable().describe('messages per UTC day; null: no limit') })
    .strict(),
  group_id: z.string().max(64).nullable().describe('delivery group to put it in (it leaves any other)'),
};

type Fields = { [K in keyof typeof fields]: z.output<(typeof fields)[K]> };

export async function providerView(
  deps: ApiDeps,
  relay: TeamRelay,
  groups: RelayGroup[],
): Promise<z.infer<typeof providerSchema>> {
  const { active, lastTest: test } = relay.profile;
  const group = groups.find((g) => g.relayIds.includes(relay.id));
  return {
    id: publicId('prv', relay.id),
    name: relay.name,
    type: 'smtp',
    status: !active ? 'inactive' : test && !test.ok ? 'error' : 'active',
    status_reason: test && !test.ok ? test.message : null,
    smtp_host: relay.host,
    smtp_port: relay.port,
    smtp_protocol: relay.profile.protocol,
    smtp_username: relay.auth?.user ?? null,
    has_smtp_password: !!relay.auth?.pass,
    verify_certificate: relay.verifyCertificate,
    percentage: relay.profile.percentage,
    quotas: { per_day: relay.dailyLimit || null },
    group_id: group ? publicId('grp', group.id) : null,
    sent_today: await deps.store.queue.relays.usage(relay.id, utcDay(Date.now())),
    is_shared: false,
    is_editable: true,
    allowed_actions: { activate: !active, deactivate: active, delete: true, test: true, update: true },
    last_tested_at: isoOrNull(test?.at ?? null),
    created_at: iso(relay.createdAt),
  };
}

/** Connects, says EHLO, upgrades to TLS as configured and logs in; the session is closed at once. */
async function probe(deps: ApiDeps, relay: Relay): Promise<{ ok: boolean; message: string; ms: number }> {
  const started = performance.now();
  let session: SmtpSession | undefined;
  try {
    session = await SmtpSession.open({
      host: relay.host,
      port: relay.port,
      servername: relay.host,
      tls: relay.tls === 'starttls' ? 'required' : relay.tls,
      verifyCertificate: relay.verifyCertificate,
      auth: relay.auth,
      helo: deps.hostname,
      connectTimeoutMs: PROBE_TIMEOUT_MS,
      socketTimeoutMs: PROBE_TIMEOUT_MS,
    });
    const how = session.tls ? 'TLS' : 'plain text';
    const message = `connected to ${relay.host}:${relay.port} over ${how}${relay.auth ? ', logged in' : ''}`;
    return { ok: true, message, ms: Math.round(performance.now() - started) };
  } catch (err) {
    const message = err instanceof SmtpFailure ? err.response : (err as Error).message;
    return { ok: false, message: message.slice(0, 500), ms: Math.round(performance.now() - started) };
  } finally {
    session?.close();
  }
}

function applyFields(relay: TeamRelay, body: Partial<Fields>): void {
  const { profile } = relay;
  if (body.name !== undefined) relay.name = body.name;
  if (body.smtp_host !== undefined) relay.host = body.smtp_host;
  if (body.smtp_port !== undefined) relay.port = body.smtp_port;
  if (body.smtp_protocol !== undefined) {
    profile.protocol = body.smtp_protocol;
    relay.tls = PROTOCOL_TLS[body.smtp_protocol];
  }
  if (body.verify_certificate !== undefined) relay.verifyCertificate = body.verify_certificate;
  if (body.percentage !== undefined) profile.percentage = body.percentage;
  if (body.quotas !== undefined) relay.dailyLimit = body.quotas.per_day ?? 0;
  const user = body.smtp_username === undefined ? (relay.auth?.user ?? null) : body.smtp_username;
  const pass = body.smtp_password === undefined ? (relay.auth?.pass ?? null) : body.smtp_password;
  if ((user === null) !== (pass === null)) {
    throw new ApiError(
      'missing_parameter',
      'smtp_username and smtp_password go together',
      user === null ? 'smtp_username' : 'smtp_password',
    );
  }
  relay.auth = user !== null && pass !== null ? { user, pass } : null;
  relay.weight = profile.active ? profile.percentage : 0;
}

const tag = 'Providers';

export const providerRoutes = (deps: ApiDeps): Route[] => {
  const relays = deps.store.queue.relays;
  const view = async (relay: TeamRelay) => providerView(deps, relay, await teamGroups(deps, relay.teamId));
  /** Read-modify-write of one provider under the team's relay lock. */
  const update = (caller: ApiKey, id: string, change: (relay: TeamRelay) => Promise<void> | void) =>
    underRelayLock(deps, caller.teamId, async () => {
      const relay = await loadRelay(deps, caller, id);
      await change(relay);
      await relays.put(relay);
      return relay;
    });
  const toggle = (path: string, summary: string, active: boolean) =>
    defineRoute({
      method: 'POST',
      path,
      summary,
      tag,
      permission: 'provider.update',
      response: providerSchema,
      idempotent: true,
      handler: async ({ key, params }) => {
        const relay = await update(key, params.id!, (r) => {
          r.profile.active = active;
          r.weight = active ? r.profile.percentage : 0;
        });
        return { data: await view(relay) };
      },
    });
  const groupParam = async (caller: ApiKey, id: string | null | undefined) =>
    id ? (await loadGroup(deps, caller, id, 'group_id', true)).id : id;

  return [
    defineRoute({
      method: 'GET',
      path: '/providers',
      summary: 'List providers (SMTP relays)',
      tag,
      permission: 'provider.read',
      query: z
        .object({
          ...pageQuery,
          status: z.enum(['active', 'inactive', 'error']).optional(),
          type: z.literal('smtp').optional(),
        })
        .strict(),
      response: providerSchema,
      list: true,
      handler: async ({ key, query }) => {
        const groups = await teamGroups(deps, key.teamId);
        const views = await Promise.all(
          (await teamRelays(deps, key.teamId)).map(async (r) => ({ r, v: await providerView(deps, r, groups) })),
        );
        const page = paginate(
          views.filter(({ v }) => !query.status || v.status === query.status),
          ({ r }) => ({ t: r.createdAt, id: r.id }),
          query,
        );
        return { data: page.items.map(({ v }) => v), pagination: page.pagination };
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/providers',
      summary: 'Add an SMTP relay',
      tag,
      permission: 'provider.create',
      body: z
        .object({
          ...fields,
          smtp_username: fields.smtp_username.optional(),
          smtp_password: fields.smtp_password.optional(),
          verify_certificate: fields.verify_certificate.default(true),
          percentage: fields.percentage.default(100),
          quotas: fields.quotas.optional(),
          group_id: fields.group_id.optional(),
        })
        .strict(),
      response: providerSchema,
      status: 201,
      idempotent: true,
      errors: ['limit_exceeded', 'validation_error'],
      handler: async ({ key, body }) => {
        const groupId = await groupParam(key, body.group_id);
        const relay = await underRelayLock(deps, key.teamId, async () => {
          const count = (await teamRelays(deps, key.teamId)).length;
          if (count >= MAX_PER_TEAM)
            throw new ApiError('limit_exceeded', `the team has ${count} providers (limit ${MAX_PER_TEAM})`);
          const draft: TeamRelay = {
            id: '',
            name: '',
            host: '',
            port: 0,
            tls: 'none',
            verifyCertificate: true,
            auth: null,
            dailyLimit: 0,
            weight: 0,
            createdAt: 0,
            teamId: key.teamId,
            profile: { protocol: body.smtp_protocol, percentage: 100, active: true, lastTest: null },
          };
          applyFields(draft, body);
          const { id: _id, createdAt: _at, ...input } = draft;
          const created = await relays.create(input);
          if (groupId) await moveRelays(deps, key.teamId, [created.id], groupId);
          return { ...created, teamId: key.teamId, profile: draft.profile };
        });
        return { data: await view(relay), location: `/api/v1/providers/${publicId('prv', relay.id)}` };
      },
    }),
    defineRoute({
      // The seed's "usage" flow of custom SMTP accounts (docs/seeds/sendmux-management-api.txt,
      // "Sending account management"): what each sent per UTC day, from the counters its daily quota uses.
      method: 'GET',
      path: '/providers/usage',
      summary: 'Messages each provider sent per UTC day over the last 7 days',
      tag,
      permission: 'provider.read',
      response: usageSchema,
      handler: async ({ key }) => {
        const now = Date.now();
        const days = Array.from({ length: USAGE_WINDOW_DAYS }, (_, i) =>
          utcDay(now - (USAGE_WINDOW_DAYS - 1 - i) * DAY_MS),
        );
        const providers = await Promise.all(
          (await teamRelays(deps, key.teamId)).map(async (relay) => {
            const sent = await Promise.all(days.map((day) => relays.usageOn(relay.id, day)));
            return {
              provider_id: publicId('prv', relay.id),
              name: relay.name,
              sent_today: sent.at(-1)!,
              sent_7d: sent.reduce((a, b) => a + b, 0),
              daily_limit: relay.dailyLimit || null,
              days: days.map((day, i) => ({
                date: `${day.slice(0, 4)}-${day.slice(4, 6)}-${day.slice(6)}`,
                sent: sent[i]!,
              })),
            };
          }),
        );
        return { data: { window_days: USAGE_WINDOW_DAYS, providers } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/providers/{id}',
      summary: 'Get a provider',
      tag,
      permission: 'provider.read',
      response: providerSchema,
      etag: true,
      handler: async ({ key, params }) => ({ data: await view(await loadRelay(deps, key, params.id!)) }),
    }),
    defineRoute({
      method: 'PATCH',
      path: '/providers/{id}',
      summary: 'Update a provider (a null password or user name removes the login)',
      tag,
      permission: 'provider.update',
      body: z.object(fields).partial().strict(),
      response: providerSchema,
      ifMatch: true,
      errors: ['validation_error'],
      handler: async ({ ctx, key, params, body }) => {
        const groupId = await groupParam(key, body.group_id);
        const relay = await update(key, params.id!, async (r) => {
          checkIfMatch(ctx, await view(r));
          applyFields(r, body);
          if (groupId !== undefined) await moveRelays(deps, key.teamId, [r.id], groupId);
        });
        return { data: await view(relay) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/providers/{id}',
      summary: 'Delete a provider (it leaves its delivery group)',
      tag,
      permission: 'provider.delete',
      response: deleted,
      ifMatch: true,
      handler: async ({ ctx, key, params }) => {
        await underRelayLock(deps, key.teamId, async () => {
          const relay = await loadRelay(deps, key, params.id!);
          checkIfMatch(ctx, await view(relay));
          await moveRelays(deps, key.teamId, [relay.id], null);
          await relays.remove(relay.id);
        });
        return { data: { id: params.id!, deleted: true as const } };
      },
    }),
    toggle('/providers/{id}/activate', 'Send through this provider again', true),
    toggle('/providers/{id}/deactivate', 'Stop sending through this provider (its group uses the others)', false),
    defineRoute({
      method: 'POST',
      path: '/providers/{id}/test',
      summary: 'Probe the relay: connect, EHLO, TLS as configured, AUTH',
      tag,
      permission: 'provider.update',
      response: testSchema,
      idempotent: true,
      handler: async ({ key, params }) => {
        const result = await probe(deps, await loadRelay(deps, key, params.id!));
        const at = Date.now();
        await update(
          key,
          params.id!,
          (r) => void (r.profile.lastTest = { at, ok: result.ok, message: result.message }),
        );
        return { data: { success: result.ok, message: result.message, latency_ms: result.ms, tested_at: iso(at) } };
      },
    }),
  ];
};
