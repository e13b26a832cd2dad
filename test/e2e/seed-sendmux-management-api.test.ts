// docs/seeds/sendmux-management-api.txt: the curl example, the permission table and presets, the
// envelope (success, paginated, error with errors[], doc_url, retryable), every error code of the table
// (500 and 503 from real faults on a tmpfs server), the rate-limit headers (limits from config) with 429 + Retry-After, conditional
// requests, the conventions and the OpenAPI document.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startSendmuxSeedServer, type SendmuxSeedServer } from '../helpers/seed-instance.ts';
import { curlCommands, runCurl, seedText } from '../helpers/seeds.ts';
import { mountTmpfs } from '../helpers/tmpfs.ts';

const DOC = seedText('sendmux-management-api.txt');
let s: SendmuxSeedServer;

test.before(async () => {
  // Small sending limit (config [http]) to reach 429 quickly; the management limit keeps its default.
  s = await startSendmuxSeedServer({ http: { listen: ['127.0.0.1:0'], max_body_bytes: 4096, sending_rate_limit: 5 } });
});
test.after(() => s?.stop());

const key = async (permissions: string[] | null, role?: string): Promise<string> => {
  const created = await s.api('POST', '/api-keys', { name: 'probe', ...(role ? { role } : { permissions }) });
  assert.is(created.status, 201, JSON.stringify(created.body));
  return created.body.data.secret;
};

test('the curl example: GET /providers with a root key, the success envelope, rate-limit headers, X-Request-Id = meta.request_id, no-store', async () => {
  const [command] = curlCommands(DOC);
  const reply = await runCurl(command!, s.replace);
  assert.is(reply.status, 200, reply.text);
  assert.is(reply.body.ok, true);
  assert.ok(Array.isArray(reply.body.data));
  assert.type(reply.body.pagination.has_more, 'boolean');
  assert.match(reply.body.meta.request_id, /^req_/);
  assert.is(reply.headers['x-request-id'], reply.body.meta.request_id);
  assert.is(reply.headers['x-ratelimit-limit'], '600');
  assert.match(reply.headers['x-ratelimit-remaining']!, /^\d+$/);
  assert.ok(Number(reply.headers['x-ratelimit-reset']) > Date.now() / 1000);
  assert.is(reply.headers['cache-control'], 'no-store');
  assert.match(reply.headers['content-type']!, /^application\/json/);
});

// Permission table: each endpoint with the permission the document names for it.
const TABLE: [permission: string, method: string, path: string][] = [
  ['provider.read', 'GET', '/providers'],
  ['provider.read', 'GET', '/providers/usage'],
  ['provider.create', 'POST', '/providers'],
  ['provider.update', 'PATCH', '/providers/prv_x'],
  ['provider.update', 'POST', '/providers/prv_x/activate'],
  ['provider.update', 'POST', '/providers/prv_x/test'],
  ['provider.delete', 'DELETE', '/providers/prv_x'],
  ['analytics.read', 'GET', '/emails/metrics'],
  ['logs.read', 'GET', '/emails/logs'],
  ['billing.read', 'GET', '/billing/usage'],
  ['billing.read', 'GET', '/billing/balance'],
  ['domain.read', 'GET', '/domains'],
  ['domain.create', 'POST', '/domains'],
  ['domain.verify', 'POST', '/domains/wren.example/verify'],
  ['domain.delete', 'DELETE', '/domains/nothing.example'],
  ['mailbox.admin.read', 'GET', '/mailboxes'],
  ['mailbox.admin.read', 'GET', '/mailboxes/{mbx}/keys'],
  ['mailbox.admin.create', 'POST', '/mailboxes'],
  ['mailbox.admin.delete', 'DELETE', '/mailboxes/mbx_00000000000000000000000000'],
  ['mailbox.admin.manage', 'PATCH', '/mailboxes/{mbx}'],
  ['mailbox.admin.manage', 'PUT', '/mailboxes/{mbx}/filters'],
  ['mailbox.admin.manage', 'POST', '/mailboxes/{mbx}/keys'],
  ['webhook.read', 'GET', '/webhooks'],
  ['webhook.create', 'POST', '/webhooks'],
  ['webhook.update', 'PATCH', '/webhooks/whk_x'],
  ['webhook.delete', 'DELETE', '/webhooks/whk_x'],
  ['webhook.manage', 'POST', '/webhooks/whk_x/rotate-secret'],
  ['webhook.manage', 'POST', '/webhooks/whk_x/test'],
];

test('every permission of the table exists and guards its endpoints: held → allowed past the check, else 403 insufficient_permissions', async () => {
  const permissions = [...new Set(TABLE.map(([p]) => p))];
  const keys = new Map(await Promise.all(permissions.map(async (p) => [p, await key([p])] as const)));
  for (const [permission, method, template] of TABLE) {
    const path = template.replace('{mbx}', s.mailbox.id);
    const body = method === 'GET' || method === 'DELETE' ? undefined : {};
    const allowed = await s.api(method, path, body, keys.get(permission));
    assert.not.ok(
      [401, 403].includes(allowed.status),
      `${permission} → ${method} ${path}: ${allowed.status} ${JSON.stringify(allowed.body)}`,
    );
    const other = permissions.find((p) => p.split('.')[0] !== permission.split('.')[0])!;
    const refused = await s.api(method, path, body, keys.get(other));
    assert.is(refused.status, 403, `${other} → ${method} ${path}`);
    assert.is(refused.body.error.code, 'insufficient_permissions');
  }
  // domain.* satisfies any domain permission.
  const wildcard = await key(['domain.*']);
  assert.is((await s.api('GET', '/domains', undefined, wildcard)).status, 200);
});

test('presets: root:readonly reads everything *.read; root:webhook_admin only webhooks; root:provider_admin sending accounts, routing, domains, logs', async () => {
  const readonly = await key(null, 'root:readonly');
  for (const path of [
    '/providers',
    '/delivery-groups',
    '/domains',
    '/mailboxes',
    `/mailboxes/${s.mailbox.id}/keys`,
    '/webhooks',
    '/emails/logs',
    '/inboxes/logs',
    '/emails/metrics',
    '/billing/usage',
    '/api-keys',
    '/lists',
    '/queue/messages',
    '/reports/dmarc',
  ]) {
    assert.is((await s.api('GET', path, undefined, readonly)).status, 200, `root:readonly GET ${path}`);
  }
  assert.is(
    (await s.api('POST', '/webhooks', { url: 'https://hooks.example/x', event_types: ['message.received'] }, readonly))
      .status,
    403,
  );

  const webhookAdmin = await key(null, 'root:webhook_admin');
  const hook = await s.api(
    'POST',
    '/webhooks',
    { url: 'https://hooks.example/x', event_types: ['message.received'] },
    webhookAdmin,
  );
  assert.is(hook.status, 201, JSON.stringify(hook.body));
  assert.is((await s.api('POST', `/webhooks/${hook.body.data.id}/rotate-secret`, undefined, webhookAdmin)).status, 200);
  for (const path of ['/domains', '/providers', '/mailboxes', '/emails/logs'])
    assert.is((await s.api('GET', path, undefined, webhookAdmin)).status, 403, path);

  const providerAdmin = await key(null, 'root:provider_admin');
  for (const path of ['/providers', '/delivery-groups', '/domains', '/emails/logs'])
    assert.is((await s.api('GET', path, undefined, providerAdmin)).status, 200, path);
  for (const path of ['/webhooks', '/mailboxes', '/billing/usage'])
    assert.is((await s.api('GET', path, undefined, providerAdmin)).status, 403, path);
});

test('the error envelope: code, message, param, doc_url (a page that describes the code), retryable; errors[] on validation failures', async () => {
  const bad = await s.api('POST', '/domains', { domain: 'not a domain', mode: 'nope', extra: 1 });
  assert.is(bad.status, 400);
  assert.equal(Object.keys(bad.body).sort(), ['error', 'meta', 'ok']);
  assert.equal(Object.keys(bad.body.error).sort(), ['code', 'doc_url', 'errors', 'message', 'param', 'retryable']);
  assert.is(bad.body.error.code, 'invalid_parameter');
  assert.is(bad.body.error.retryable, false);
  assert.ok(bad.body.error.errors.length >= 3, 'every field at fault');
  assert.is(bad.body.error.doc_url, `${s.origin}/docs/api/errors#invalid_parameter`);
  const page = await fetch(bad.body.error.doc_url);
  assert.is(page.status, 200);
  const html = await page.text();
  for (const code of [
    'invalid_parameter',
    'missing_parameter',
    'authentication_required',
    'insufficient_permissions',
    'not_found',
    'conflict',
    'limit_exceeded',
    'idempotency_conflict',
    'payload_too_large',
    'validation_error',
    'rate_limit_exceeded',
    'internal_error',
    'service_unavailable',
  ]) {
    assert.match(html, `id="${code}"`);
  }
  const missing = await s.api('POST', '/domains', {});
  assert.equal(
    [missing.status, missing.body.error.code, missing.body.error.param],
    [400, 'missing_parameter', 'domain'],
  );
  assert.equal([(await s.api('GET', '/domains', undefined, 'wm_root_not_a_key')).status], [401]);
  const unknown = await s.api('GET', '/domains/nothing.example');
  assert.equal([unknown.status, unknown.body.error.code], [404, 'not_found']);
  const large = await s.api('POST', '/domains', { domain: `${'a'.repeat(5000)}.example` });
  assert.equal([large.status, large.body.error.code], [413, 'payload_too_large']);
  const semantic = await s.api('POST', '/api-keys', { name: 'x', role: 'root:full', permissions: ['domain.read'] });
  assert.equal([semantic.status, semantic.body.error.code], [422, 'validation_error']);
});

test('rate limits from config: past the limit 429 rate_limit_exceeded, retryable, with Retry-After', async () => {
  const minted = await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: 'burst' });
  const mailboxKey = minted.body.data.api_key.key;
  let last: Awaited<ReturnType<typeof s.api>> | undefined;
  for (let i = 0; i < 6; i++) last = await s.api('GET', '/mailbox/me', undefined, mailboxKey);
  assert.is(last!.status, 429);
  assert.is(last!.headers.get('x-ratelimit-limit'), '5');
  assert.is(last!.body.error.code, 'rate_limit_exceeded');
  assert.is(last!.body.error.retryable, true);
  assert.ok(Number(last!.headers.get('retry-after')) >= 1);
});

test('conditional requests: weak ETag, If-None-Match → 304 without a body, stale If-Match → 409 conflict', async () => {
  const first = await s.api('GET', `/mailboxes/${s.mailbox.id}`);
  const etag = first.headers.get('etag')!;
  assert.match(etag, /^W\/"/);
  const cached = await fetch(`${s.origin}/api/v1/mailboxes/${s.mailbox.id}`, {
    headers: { authorization: `Bearer ${s.rootKey}`, 'if-none-match': etag },
  });
  assert.is(cached.status, 304);
  assert.is(await cached.text(), '');
  assert.is(
    (await s.api('PATCH', `/mailboxes/${s.mailbox.id}`, { display_name: 'Agent' }, undefined, { 'if-match': etag }))
      .status,
    200,
  );
  const stale = await s.api('PATCH', `/mailboxes/${s.mailbox.id}`, { display_name: 'Again' }, undefined, {
    'if-match': etag,
  });
  assert.equal([stale.status, stale.body.error.code], [409, 'conflict']);
});

test('conventions: snake_case, UTC RFC 3339 timestamps, public ids, JSON only; the OpenAPI 3.1 document', async () => {
  const mailbox = (await s.api('GET', `/mailboxes/${s.mailbox.id}`)).body.data;
  for (const field of Object.keys(mailbox)) assert.match(field, /^[a-z0-9_]+$/);
  assert.match(mailbox.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.match(mailbox.id, /^mbx_/);
  const form = await fetch(`${s.origin}/api/v1/domains`, {
    method: 'POST',
    headers: { authorization: `Bearer ${s.rootKey}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'domain=x.example',
  });
  assert.is(form.status, 415);
  const openapi = (await (await fetch(`${s.origin}/api/v1/openapi.json`)).json()) as { openapi: string };
  assert.match(openapi.openapi, /^3\.1\./);
});

/** The error table's 500 and 503 rows: the envelope, retryable, X-Request-Id = meta.request_id. */
async function serverError(origin: string, rootKey: string, method: string, path: string, body?: unknown) {
  const reply = await fetch(`${origin}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await reply.json()) as {
    ok: boolean;
    error: { code: string; retryable: boolean; doc_url: string };
    meta: { request_id: string };
  };
  assert.is(json.ok, false);
  assert.is(json.error.retryable, true);
  assert.is(json.error.doc_url, `${origin}/docs/api/errors#${json.error.code}`);
  assert.is(json.meta.request_id, reply.headers.get('x-request-id'));
  return { status: reply.status, code: json.error.code, retryAfter: reply.headers.get('retry-after') };
}

test('500 internal_error and 503 service_unavailable (+ Retry-After), from real faults: a full disk, then a store closed under the server', async () => {
  // A second server whose data directory is an 8 MiB tmpfs (as test/security/store-enospc.test.ts).
  const disk = mountTmpfs(8, 'wren-seed-faults-');
  let faulty: SendmuxSeedServer | undefined;
  try {
    mkdirSync(join(disk.path, 'data'));
    faulty = await startSendmuxSeedServer({ data_dir: join(disk.path, 'data') });
    disk.fill();
    // "Downstream component briefly unavailable. May include Retry-After." — the store cannot write
    const full = await serverError(faulty.origin, faulty.rootKey, 'POST', '/domains', { domain: 'full.example' });
    assert.equal([full.status, full.code], [503, 'service_unavailable']);
    assert.ok(Number(full.retryAfter) > 0, 'Retry-After');
    disk.free();
    // ... and it is brief: the write goes through once space returns, without a restart
    const deadline = Date.now() + 20_000;
    while ((await faulty.api('POST', '/domains', { domain: 'back.example' })).status !== 201) {
      assert.ok(Date.now() < deadline, 'still refused 20 s after space returned');
      await new Promise((r) => setTimeout(r, 200));
    }
    // "Unexpected server error.": the database closed under a running server
    await faulty.instance.server.store.close();
    const broken = await serverError(faulty.origin, faulty.rootKey, 'GET', '/domains');
    assert.equal([broken.status, broken.code], [500, 'internal_error']);
  } finally {
    await faulty?.instance.server.close().catch(() => {});
    disk.remove();
  }
});

test.run();
