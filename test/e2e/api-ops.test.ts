// Management API operations over real HTTP with a real queue runner: providers (SMTP relays, probed
// against a loopback smtp-server that requires AUTH) and delivery groups routing a domain's mail
// through them; the outbound queue; outbound and inbound logs; metrics; usage. For every route:
// success, its own errors, permission denial, team isolation, a mailbox key kept out.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Route } from '../../src/api/registry.ts';
import { createResolver } from '../../src/dns/resolver.ts';
import { deliverLocal } from '../../src/inbound/pipeline.ts';
import { createQueueRunner, type QueueRunner } from '../../src/outbound/queue-runner.ts';
import type { QueueJob } from '../../src/store/queue.ts';
import { type ApiFixture, type CallOptions, type Reply, routeTable, startApi } from '../helpers/api.ts';
import { type Sink, startSink } from '../helpers/outbound.ts';
import { makeMessage } from '../helpers/tmp.ts';

const OPS = /^\/(providers|delivery-groups|queue|emails\/(logs|metrics)|inboxes|usage|billing)(\/|$)/;

let api: ApiFixture;
let relay: Sink;
let runner: QueueRunner;
let routes: Route[];
const succeeded = new Set<Route>();
const ids: Record<string, string> = {};

async function call(method: string, path: string, options?: CallOptions): Promise<Reply> {
  const reply = await api.call(method, path, options);
  if (reply.status < 300) {
    const bare = path.split('?')[0]!;
    const route = routes.find(
      (r) => r.method === method && new RegExp(`^${r.path.replace(/\{[a-z_]+\}/g, '[^/]+')}$`).test(bare),
    );
    if (route) succeeded.add(route);
  }
  return reply;
}
const ok = (reply: Reply, status = 200, label = '') => {
  assert.is(reply.status, status, `${label} ${reply.text.slice(0, 300)}`);
  return reply.body.data;
};
const fails = (reply: Reply, status: number, code: string, label = '') => {
  assert.is(reply.status, status, `${label} ${reply.text.slice(0, 300)}`);
  assert.is(reply.body.error.code, code, label);
  return reply.body.error;
};

async function waitFor<T>(
  check: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  ms = 10_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const _jobOf = (logId: string) => api.store.queue.get(logId.slice(logId.indexOf('_') + 1)) as Promise<QueueJob>;

/** A message from a team mailbox, queued as submission would queue it. */
async function send(to: string[], subject: string, from = 'sender@alpha.test'): Promise<QueueJob[]> {
  const account = (await api.store.accounts.byAddress(from))!;
  const raw = makeMessage({ from, to: to.join(', '), subject });
  const { jobs } = await api.store.queue.enqueue({
    teamId: account.teamId,
    accountId: account.id,
    from,
    to,
    raw,
    subject,
    headerMessageId: `<${subject.replace(/\W/g, '')}@alpha.test>`,
  });
  return jobs;
}

test.before(async () => {
  api = await startApi();
  relay = await startSink({ auth: { user: 'relayuser', pass: 'relaypass' } });
  const resolver = createResolver({ servers: ['127.0.0.1:9'], timeoutMs: 200, tries: 1 });
  runner = createQueueRunner({
    store: api.store,
    resolver,
    hostname: 'mail.wren.test',
    deliverLocal: (raw, envelope) =>
      deliverLocal(raw, envelope, { store: api.store, resolver, hostname: 'mail.wren.test' }),
    mtaSts: false,
    retryScheduleMs: [3_600_000],
    connectTimeoutMs: 2000,
  });
  runner.start();
  routes = routeTable(api).filter((r) => OPS.test(r.path));
  ids.domain = ok(await call('POST', '/domains', { body: { domain: 'alpha.test' } }), 201).id;
  ids.mailbox = ok(
    await call('POST', '/mailboxes', { body: { email: 'sender@alpha.test', password: 'correct horse battery' } }),
    201,
  ).mailbox.id;
  ids.mailboxSecret = ok(
    await call('POST', `/mailboxes/${ids.mailbox}/keys`, { body: { app_name: 'client' } }),
    201,
  ).api_key.key;
});
test.after(async () => {
  await runner.stop();
  await relay.close();
  await api.close();
});

test('providers: create, get, list, update (If-Match), activate/deactivate, test against a relay that requires AUTH, delete', async () => {
  const body = {
    name: 'Loopback relay',
    smtp_host: '127.0.0.1',
    smtp_port: relay.port,
    smtp_protocol: 'starttls',
    smtp_username: 'relayuser',
    smtp_password: 'relaypass',
    verify_certificate: false,
    quotas: { per_day: 100 },
  };
  const created = await call('POST', '/providers', { body });
  const provider = ok(created, 201);
  ids.provider = provider.id;
  assert.match(provider.id, /^prv_[0-9a-z]{26}$/);
  assert.is(created.headers.get('location'), `/api/v1/providers/${provider.id}`);
  assert.equal(
    {
      status: provider.status,
      user: provider.smtp_username,
      has: provider.has_smtp_password,
      pct: provider.percentage,
      quotas: provider.quotas,
      group: provider.group_id,
      actions: provider.allowed_actions,
    },
    {
      status: 'active',
      user: 'relayuser',
      has: true,
      pct: 100,
      quotas: { per_day: 100 },
      group: null,
      actions: { activate: false, deactivate: true, delete: true, test: true, update: true },
    },
  );
  assert.not.ok(created.text.includes('relaypass'), 'the password never comes back');
  const stored = (await api.store.queue.relays.get(provider.id.slice(4)))!;
  assert.equal(
    [stored.host, stored.port, stored.tls, stored.auth, stored.dailyLimit, stored.weight],
    ['127.0.0.1', relay.port, 'starttls', { user: 'relayuser', pass: 'relaypass' }, 100, 100],
  );

  const tested = ok(await call('POST', `/providers/${provider.id}/test`));
  assert.is(tested.success, true, tested.message);
  assert.match(tested.message, /over TLS, logged in/);
  assert.type(tested.latency_ms, 'number');
  assert.ok(ok(await call('GET', `/providers/${provider.id}`)).last_tested_at);

  // a wrong password and a closed port: the probe reports, the provider shows the error
  const wrong = ok(
    await call('POST', '/providers', {
      body: { ...body, name: 'Wrong password', smtp_password: 'nope', percentage: 50 },
    }),
    201,
  );
  const failed = ok(await call('POST', `/providers/${wrong.id}/test`));
  assert.is(failed.success, false);
  assert.match(failed.message, /^535/);
  const errored = ok(await call('GET', `/providers/${wrong.id}`));
  assert.is(errored.status, 'error');
  assert.match(errored.status_reason, /535/);
  assert.equal(
    ok(await call('GET', '/providers?status=error')).map((p: { id: string }) => p.id),
    [wrong.id],
  );
  const closed = ok(
    await call('POST', '/providers', {
      body: {
        ...body,
        name: 'Closed',
        smtp_port: 9,
        smtp_protocol: 'none',
        smtp_username: undefined,
        smtp_password: undefined,
      },
    }),
    201,
  );
  assert.is(closed.smtp_username, null);
  const refused = ok(await call('POST', `/providers/${closed.id}/test`));
  assert.is(refused.success, false);
  assert.match(refused.message, /ECONNREFUSED|refused/i);

  const listed = ok(await call('GET', '/providers?limit=2'));
  assert.equal(
    listed.map((p: { id: string }) => p.id),
    [closed.id, wrong.id],
    'newest first',
  );
  const next = await call(
    'GET',
    `/providers?limit=2&cursor=${(await call('GET', '/providers?limit=2')).body.pagination.next_cursor}`,
  );
  assert.equal(
    ok(next).map((p: { id: string }) => p.id),
    [provider.id],
  );

  // If-Match: stale is 409, current passes; a null password removes the login only with the user name
  const current = await call('GET', `/providers/${wrong.id}`);
  assert.is(
    (await call('GET', `/providers/${wrong.id}`, { headers: { 'if-none-match': current.headers.get('etag')! } }))
      .status,
    304,
  );
  const patched = ok(
    await call('PATCH', `/providers/${wrong.id}`, {
      body: { smtp_password: 'relaypass', percentage: 25 },
      headers: { 'if-match': current.headers.get('etag')! },
    }),
  );
  assert.equal([patched.percentage, patched.status], [25, 'error'], 'the failed test stands until the next');
  fails(
    await call('PATCH', `/providers/${wrong.id}`, {
      body: { name: 'x' },
      headers: { 'if-match': current.headers.get('etag')! },
    }),
    409,
    'conflict',
    'stale If-Match',
  );
  fails(
    await call('PATCH', `/providers/${wrong.id}`, { body: { smtp_password: null } }),
    400,
    'missing_parameter',
    'user without password',
  );
  assert.is(ok(await call('POST', `/providers/${wrong.id}/test`)).success, true);
  assert.is(ok(await call('GET', `/providers/${wrong.id}`)).status, 'active');

  const off = ok(await call('POST', `/providers/${wrong.id}/deactivate`));
  assert.equal([off.status, off.allowed_actions.activate], ['inactive', true]);
  assert.is((await api.store.queue.relays.get(wrong.id.slice(4)))!.weight, 0, 'no traffic while inactive');
  assert.equal(
    ok(await call('GET', '/providers?status=inactive')).map((p: { id: string }) => p.id),
    [wrong.id],
  );
  assert.is(ok(await call('POST', `/providers/${wrong.id}/activate`)).status, 'active');
  assert.is((await api.store.queue.relays.get(wrong.id.slice(4)))!.weight, 25);

  // bad input
  fails(await call('POST', '/providers', { body: { ...body, smtp_port: 70000 } }), 400, 'invalid_parameter');
  fails(await call('POST', '/providers', { body: { ...body, smtp_protocol: 'smoke' } }), 400, 'invalid_parameter');
  fails(
    await call('POST', '/providers', { body: { ...body, smtp_host: 'bad host\r\nRCPT' } }),
    400,
    'invalid_parameter',
  );
  fails(
    await call('POST', '/providers', { body: { ...body, from_email: 'x@alpha.test' } }),
    400,
    'invalid_parameter',
    'unknown field',
  );
  fails(
    await call('POST', '/providers', { body: { name: 'x', smtp_port: 25, smtp_protocol: 'none' } }),
    400,
    'missing_parameter',
  );
  fails(
    await call('POST', '/providers', { body: { ...body, smtp_password: undefined } }),
    400,
    'missing_parameter',
    'user without password',
  );
  fails(
    await call('POST', '/providers', { body: { ...body, group_id: 'grp_00000000000000000000000000' } }),
    422,
    'validation_error',
  );
  fails(await call('GET', '/providers/prv_00000000000000000000000000'), 404, 'not_found');

  ok(await call('DELETE', `/providers/${closed.id}`));
  fails(await call('GET', `/providers/${closed.id}`), 404, 'not_found');
  assert.is(await api.store.queue.relays.get(closed.id.slice(4)), undefined);
  fails(await call('DELETE', `/providers/${closed.id}`), 404, 'not_found');

  // at most 100 per team
  const { key: busy } = await api.newTeam('busy');
  const minimal = { name: 'n', smtp_host: 'relay.example', smtp_port: 25, smtp_protocol: 'none' };
  for (let i = 0; i < 100; i++) ok(await call('POST', '/providers', { key: busy, body: minimal }), 201);
  fails(await call('POST', '/providers', { key: busy, body: minimal }), 409, 'limit_exceeded');
});

test('delivery groups: providers and a routed domain; mail of the domain goes out through the relay with AUTH', async () => {
  const created = await call('POST', '/delivery-groups', {
    body: { name: 'Outbound', description: 'via loopback', provider_ids: [ids.provider], domains: ['ALPHA.test'] },
  });
  const group = ok(created, 201);
  ids.group = group.id;
  assert.match(group.id, /^grp_[0-9a-z]{26}$/);
  assert.is(created.headers.get('location'), `/api/v1/delivery-groups/${group.id}`);
  assert.equal([group.provider_ids, group.active_provider_count, group.domains], [[ids.provider], 1, ['alpha.test']]);
  assert.is(ok(await call('GET', `/providers/${ids.provider}`)).group_id, group.id);
  assert.is((await api.store.queue.relays.routeFor({ domain: 'alpha.test', apiKeyId: null }))?.id, group.id.slice(4));

  const [job] = await send(['dave@remote.test'], 'Through the relay');
  await waitFor(
    async () => (await api.store.queue.get(job!.id))?.state === 'done',
    10_000,
    'delivery through the relay',
  );
  assert.equal(
    relay.messages.map((m) => [m.user, m.secure, m.to]),
    [['relayuser', true, ['dave@remote.test']]],
  );
  assert.is(ok(await call('GET', `/providers/${ids.provider}`)).sent_today, 1);
  // the seed's "usage" flow: per provider and UTC day over 7 days, today last
  const usage = ok(await call('GET', '/providers/usage'));
  assert.is(usage.window_days, 7);
  const mine = usage.providers.find((p: { provider_id: string }) => p.provider_id === ids.provider);
  assert.equal(
    [mine.sent_today, mine.sent_7d, mine.daily_limit, mine.days.length, mine.days.at(-1)],
    [1, 1, 100, 7, { date: new Date().toISOString().slice(0, 10), sent: 1 }],
  );

  // validation: foreign or unknown providers and domains
  const { key: other } = await api.newTeam('other-groups');
  ok(await call('POST', '/domains', { key: other, body: { domain: 'bravo.test' } }), 201);
  const foreign = ok(
    await call('POST', '/providers', {
      key: other,
      body: { name: 'b', smtp_host: 'relay.bravo.test', smtp_port: 25, smtp_protocol: 'none' },
    }),
    201,
  );
  assert.equal(
    ok(await call('GET', '/providers/usage', { key: other })).providers.map(
      (p: { provider_id: string }) => p.provider_id,
    ),
    [foreign.id],
    'a team sees its own providers only',
  );
  fails(
    await call('POST', '/delivery-groups', { body: { name: 'x', provider_ids: [foreign.id] } }),
    422,
    'validation_error',
    "another team's provider",
  );
  fails(
    await call('POST', '/delivery-groups', { body: { name: 'x', domains: ['bravo.test'] } }),
    422,
    'validation_error',
    "another team's domain",
  );
  fails(await call('POST', '/delivery-groups', { body: { name: '' } }), 400, 'invalid_parameter');
  fails(await call('POST', '/delivery-groups', { body: { description: 'x' } }), 400, 'missing_parameter');
  fails(
    await call('PATCH', `/providers/${foreign.id}`, { key: other, body: { group_id: group.id } }),
    422,
    'validation_error',
    "another team's group",
  );

  // a provider moves between groups; domains are replaced
  const second = ok(
    await call('POST', '/delivery-groups', { body: { name: 'Second', provider_ids: [ids.provider] } }),
    201,
  );
  assert.equal(ok(await call('GET', `/delivery-groups/${group.id}`)).provider_ids, [], 'moved out of the first group');
  assert.is(ok(await call('GET', `/providers/${ids.provider}`)).group_id, second.id);
  const etag = (await call('GET', `/delivery-groups/${group.id}`)).headers.get('etag')!;
  const patched = ok(
    await call('PATCH', `/delivery-groups/${group.id}`, {
      body: { name: 'Renamed', provider_ids: [ids.provider], domains: [] },
      headers: { 'if-match': etag },
    }),
  );
  assert.equal([patched.name, patched.provider_ids, patched.domains], ['Renamed', [ids.provider], []]);
  assert.is(
    await api.store.queue.relays.routeFor({ domain: 'alpha.test', apiKeyId: null }),
    undefined,
    'back to direct delivery',
  );
  fails(
    await call('PATCH', `/delivery-groups/${group.id}`, { body: { name: 'again' }, headers: { 'if-match': etag } }),
    409,
    'conflict',
    'stale If-Match',
  );
  ok(await call('PATCH', `/delivery-groups/${group.id}`, { body: { domains: ['alpha.test'] } }));
  assert.equal(
    ok(await call('GET', '/delivery-groups')).map((g: { id: string }) => g.id),
    [second.id, group.id],
  );

  // deleting: the empty group goes; the routed one needs force, then the domain is direct again and its providers stay
  ok(await call('DELETE', `/delivery-groups/${second.id}`));
  fails(await call('GET', `/delivery-groups/${second.id}`), 404, 'not_found');
  fails(await call('DELETE', `/delivery-groups/${group.id}`), 409, 'conflict', 'a domain routes through it');
  ok(await call('DELETE', `/delivery-groups/${group.id}?force=true`));
  assert.is(await api.store.queue.relays.routeFor({ domain: 'alpha.test', apiKeyId: null }), undefined);
  assert.is(ok(await call('GET', `/providers/${ids.provider}`)).group_id, null);

  // for the tests below: the domain routed again, through a group whose only provider is inactive
  ids.group = ok(
    await call('POST', '/delivery-groups', {
      body: { name: 'Paused', provider_ids: [ids.provider], domains: ['alpha.test'] },
    }),
    201,
  ).id;
  ok(await call('POST', `/providers/${ids.provider}/deactivate`));
});

test('queue: list with filters and pages, inspect, retry now, cancel; finished jobs are 409', async () => {
  const jobs = await send(['x@one.test', 'y@two.test'], 'Held back');
  // at least one attempt each (the runner may try a job twice in a row: see the report on its pump race)
  await waitFor(
    async () => (await Promise.all(jobs.map((j) => api.store.queue.get(j.id)))).every((j) => j!.attempts >= 1),
    10_000,
    'first attempts',
  );
  const [one, two] = jobs.map((j) => `qmsg_${j.id}`);
  ids.job = one!;

  const listed = ok(await call('GET', '/queue/messages?status=queued'));
  assert.equal(
    listed.map((j: { id: string }) => j.id),
    [two, one],
  );
  const first = listed[1];
  assert.equal(
    [first.status, first.domain, first.from, first.subject, first.mailbox_id, first.recipients[0].status],
    ['queued', 'one.test', 'sender@alpha.test', 'Held back', ids.mailbox, 'deferred'],
  );
  assert.match(first.recipients[0].response, /^451 4\.4\.5 Every relay of group Paused/);
  assert.ok(first.recipients[0].log.every((a: { status: string }) => a.status === 'deferred'));
  assert.equal(
    ok(await call('GET', '/queue/messages?domain=TWO.test')).map((j: { id: string }) => j.id),
    [two],
  );
  assert.ok(ok(await call('GET', '/queue/messages?status=done')).every((j: { status: string }) => j.status === 'done'));
  const page = await call('GET', '/queue/messages?limit=1');
  assert.is(page.body.pagination.has_more, true);
  assert.equal(
    ok(await call('GET', `/queue/messages?limit=1&cursor=${page.body.pagination.next_cursor}`)).map(
      (j: { id: string }) => j.id,
    ),
    [one],
  );
  fails(await call('GET', '/queue/messages?cursor=bm9wZQ'), 400, 'invalid_parameter');
  fails(await call('GET', '/queue/messages?status=lost'), 400, 'invalid_parameter');

  const detail = await call('GET', `/queue/messages/${one}`);
  assert.is(ok(detail).id, one);
  assert.is(
    (await call('GET', `/queue/messages/${one}`, { headers: { 'if-none-match': detail.headers.get('etag')! } })).status,
    304,
  );
  assert.ok(Date.parse(ok(detail).next_attempt_at) > Date.now() + 60_000, 'next try in an hour');

  // retry now: with the provider active again, the deferred recipient goes through the relay
  ok(await call('POST', `/providers/${ids.provider}/activate`));
  const retried = ok(await call('POST', `/queue/messages/${one}/retry`));
  assert.ok(Date.parse(retried.next_attempt_at) <= Date.now());
  await waitFor(() => relay.messages.some((m) => m.to.includes('x@one.test')), 10_000, 'retried delivery');
  await waitFor(async () => (await api.store.queue.get(one!.slice(5)))!.state === 'done', 10_000, 'job done');
  fails(await call('POST', `/queue/messages/${one}/retry`), 409, 'conflict', 'done');
  fails(await call('DELETE', `/queue/messages/${one}`), 409, 'conflict', 'done');

  const cancelled = ok(await call('DELETE', `/queue/messages/${two}`));
  assert.equal([cancelled.status, cancelled.recipients[0].status], ['cancelled', 'cancelled']);
  assert.is(ok(await call('DELETE', `/queue/messages/${two}`)).status, 'cancelled', 'idempotent');
  fails(await call('POST', `/queue/messages/${two}/retry`), 409, 'conflict', 'cancelled');
  const events = await api.store.events.list({ teamId: api.teamId, limit: 1000 });
  assert.ok(events.some((e) => e.type === 'message.failed' && e.data.job_id === two!.slice(5)));
  for (const bad of ['qmsg_000000000000', 'qmsg_../../etc', `dlog_${one!.slice(5)}`])
    fails(await call('GET', `/queue/messages/${encodeURIComponent(bad)}`), 404, 'not_found', bad);
});

test('logs: outbound per message and domain with recipients; inbound from deliveries; filters and pages', async () => {
  // a local delivery (hosted domain): an outbound log and an inbound one
  ok(
    await call('POST', '/mailboxes', { body: { email: 'reader@alpha.test', password: 'correct horse battery' } }),
    201,
  );
  const [local] = await send(['reader@alpha.test'], 'Hello reader');
  await waitFor(async () => (await api.store.queue.get(local!.id))!.state === 'done', 10_000, 'local delivery');

  const all = ok(await call('GET', '/emails/logs?limit=100'));
  const byId = (id: string) => all.find((l: { id: string }) => l.id === id);
  const sent = byId(`dlog_${local!.id}`);
  assert.equal(
    [
      sent.status,
      sent.to_email,
      sent.domain,
      sent.accepted_recipient_count,
      sent.rejected_recipient_count,
      sent.status_reason,
      sent.header_message_id,
    ],
    ['sent', 'reader@alpha.test', 'alpha.test', 1, 0, null, '<Helloreader@alpha.test>'],
  );
  assert.ok(sent.sent_at);
  const cancelled = all.find(
    (l: { subject: string; domain: string }) => l.subject === 'Held back' && l.domain === 'two.test',
  );
  assert.equal(
    [cancelled.status, cancelled.status_reason, cancelled.rejected_recipient_count],
    ['failed', '451 4.4.5 Every relay of group Paused reached its daily limit', 1],
  );
  ids.dlog = sent.id;

  assert.ok(
    ok(await call('GET', '/emails/logs?status=failed')).every((l: { status: string }) => l.status === 'failed'),
  );
  assert.equal(
    ok(await call('GET', '/emails/logs?search=READER')).map((l: { id: string }) => l.id),
    [sent.id],
  );
  assert.equal(ok(await call('GET', `/emails/logs?mailbox_id=${ids.mailbox}&status=sent&limit=1`)).length, 1);
  assert.equal(ok(await call('GET', `/emails/logs?from_date=${new Date(Date.now() + 60_000).toISOString()}`)), []);
  assert.is(
    ok(await call('GET', `/emails/logs?to_date=${new Date(Date.now() + 60_000).toISOString()}`)).length,
    Math.min(25, all.length),
  );
  fails(await call('GET', '/emails/logs?from_date=yesterday'), 400, 'invalid_parameter');
  fails(
    await call(
      'GET',
      `/emails/logs?from_date=${new Date().toISOString()}&to_date=${new Date(Date.now() - 1000).toISOString()}`,
    ),
    400,
    'invalid_parameter',
  );
  fails(await call('GET', '/emails/logs?mailbox_id=mbx_nope'), 404, 'not_found');

  const detail = ok(await call('GET', `/emails/logs/${sent.id}`));
  assert.equal(
    detail.recipients.map((r: { address: string; status: string }) => [r.address, r.status]),
    [['reader@alpha.test', 'delivered']],
  );
  assert.is(detail.recipients[0].log[0].mx, 'local');
  const relayed = ok(await call('GET', `/emails/logs/dlog_${ids.job!.slice(5)}`));
  assert.equal(
    [relayed.recipients[0].log[0].status, relayed.recipients[0].log.at(-1).status],
    ['deferred', 'delivered'],
  );
  assert.match(relayed.recipients[0].log.at(-1).mx, /relay/);
  fails(await call('GET', `/emails/logs/${ids.job}`), 404, 'not_found', 'a queue id is not a log id');

  const inbound = ok(await call('GET', '/inboxes/logs'));
  assert.is(inbound.length, 1);
  const received = inbound[0];
  ids.ilog = received.id;
  assert.match(received.id, /^ilog_[0-9a-f]{12}$/);
  assert.equal(
    [
      received.event_type,
      received.mailbox_email,
      received.from_email,
      received.to_emails,
      received.subject,
      received.folder,
      received.is_spam,
    ],
    [
      'message.received',
      'reader@alpha.test',
      'sender@alpha.test',
      ['reader@alpha.test'],
      'Hello reader',
      'INBOX',
      false,
    ],
  );
  assert.ok(received.size_bytes > 100);
  assert.equal(ok(await call('GET', `/inboxes/logs/${received.id}`)), received);
  assert.equal(
    ok(await call('GET', `/inboxes/logs?mailbox_id=${received.mailbox_id}&event_type=message.received&search=hello`))
      .length,
    1,
  );
  assert.equal(ok(await call('GET', `/inboxes/logs?mailbox_id=${ids.mailbox}`)), [], "not the sender's mailbox");
  assert.equal(ok(await call('GET', '/inboxes/logs?event_type=message.received.spam')), []);
  const [second] = await send(['reader@alpha.test'], 'Second');
  await waitFor(async () => (await api.store.queue.get(second!.id))!.state === 'done', 10_000, 'second delivery');
  const paged = await call('GET', '/inboxes/logs?limit=1');
  assert.equal([paged.body.data[0].subject, paged.body.pagination.has_more], ['Second', true]);
  assert.equal(
    ok(await call('GET', `/inboxes/logs?limit=1&cursor=${paged.body.pagination.next_cursor}`)).map(
      (l: { id: string }) => l.id,
    ),
    [received.id],
  );
  fails(await call('GET', '/inboxes/logs?cursor=x'), 400, 'invalid_parameter');
  fails(await call('GET', `/inboxes/logs/ilog_${'0'.repeat(12)}`), 404, 'not_found');
  const queuedEvent = (await api.store.events.list({ teamId: api.teamId, limit: 1000 })).find(
    (e) => e.type === 'message.queued',
  )!;
  fails(await call('GET', `/inboxes/logs/ilog_${queuedEvent.id.slice(4)}`), 404, 'not_found', 'another kind of event');
});

test('metrics and usage: counts from the delivery events, storage per mailbox, limits; /billing aliases', async () => {
  const metrics = ok(await call('GET', '/emails/metrics?window=24h'));
  // delivered: dave (relay), x@one.test (relay), reader twice (local); failed: the cancelled y@two.test
  const { deferred, ...final } = metrics.summary;
  assert.equal(final, { total: 5, sent: 4, failed: 1, received: 2 });
  assert.ok(deferred >= 2, 'x@one.test and y@two.test were deferred');
  assert.equal(metrics.comparison.previous, { total: 0, sent: 0, failed: 0, deferred: 0, received: 0 });
  assert.is(metrics.comparison.change_pct.sent, null);
  assert.equal([metrics.granularity, metrics.timeseries.length], ['hourly', 24]);
  assert.equal(metrics.timeseries.at(-1).sent, 4, 'this hour');
  assert.ok(metrics.data_since);
  const weekly = ok(await call('GET', '/emails/metrics'));
  assert.equal(
    [weekly.window, weekly.granularity, weekly.timeseries.length, weekly.summary.sent],
    ['7d', 'daily', 7, 4],
  );
  fails(await call('GET', '/emails/metrics?window=1y'), 400, 'invalid_parameter');
  assert.is(ok(await call('GET', '/emails/metrics?window=30d&granularity=hourly')).timeseries.length, 720);
  fails(await call('GET', '/emails/metrics?granularity=weekly'), 400, 'invalid_parameter');

  const usage = ok(await call('GET', '/usage?days=7'));
  assert.equal([usage.period_days, usage.sent, usage.received, usage.days.length], [7, 4, 2, 7]);
  assert.equal(usage.days.at(-1), { date: new Date().toISOString().slice(0, 10), sent: 4, received: 2 });
  const reader = usage.storage.mailboxes.find((m: { email: string }) => m.email === 'reader@alpha.test');
  assert.is(reader.messages, 2);
  const readerId = (await api.store.accounts.byAddress('reader@alpha.test'))!.id;
  assert.is(reader.used_bytes, api.store.folders.usage(readerId).bytes);
  assert.is(
    usage.storage.used_bytes,
    usage.storage.mailboxes.reduce((n: number, m: { used_bytes: number }) => n + m.used_bytes, 0),
  );
  assert.is(ok(await call('GET', '/usage')).period_days, 30);
  assert.equal(
    { ...ok(await call('GET', '/billing/usage')), to: null },
    { ...ok(await call('GET', '/usage')), to: null },
    'the Sendmux path answers the same',
  );
  fails(await call('GET', '/usage?days=8'), 400, 'invalid_parameter');

  const summary = ok(await call('GET', '/usage/summary?days=90'));
  assert.equal(
    { ...summary, data_since: null },
    {
      period_days: 90,
      data_since: null,
      outbound_accepted_recipients: 4,
      inbound_deliveries: 2,
      storage_bytes: usage.storage.used_bytes,
      currency: null,
    },
  );
  assert.equal(ok(await call('GET', '/billing/summary?days=90')), summary);
  const balance = ok(await call('GET', '/usage/balance'));
  assert.equal(
    [balance.balance, balance.quotas.domains, balance.quotas.mailboxes.used, balance.quotas.api_keys.used],
    [null, { used: 1, max: 1000, is_at_limit: false }, 2, 2],
  );
  assert.equal(ok(await call('GET', '/billing/balance')), balance);
  const { key: empty } = await api.newTeam('empty-usage');
  assert.equal(
    ok(await call('GET', '/usage?days=7', { key: empty })).sent,
    0,
    'another team counts nothing of this one',
  );
  assert.equal(ok(await call('GET', '/emails/metrics', { key: empty })).summary.sent, 0);
});

/** A concrete path for a route, aimed at the first team's resources. */
function concrete(route: Route): string {
  const id = route.path.startsWith('/providers')
    ? ids.provider
    : route.path.startsWith('/delivery-groups')
      ? ids.group
      : route.path.startsWith('/queue')
        ? ids.job
        : route.path.startsWith('/emails/logs')
          ? ids.dlog
          : ids.ilog;
  return route.path.replace('{id}', id!);
}

const SAMPLE_BODIES: Record<string, unknown> = {
  'POST /providers': { name: 'sample', smtp_host: 'relay.example', smtp_port: 25, smtp_protocol: 'none' },
  'PATCH /providers/{id}': { name: 'renamed' },
  'POST /delivery-groups': { name: 'sample' },
  'PATCH /delivery-groups/{id}': { name: 'renamed' },
};
const sampleBody = (route: Route) => SAMPLE_BODIES[`${route.method} ${route.path}`];

test('every route: 401 without a key, 403 without its permission (also for a mailbox key); presets grant what they name', async () => {
  const unrelated = await api.makeKey(['domain.read', 'mailbox.admin.*']);
  for (const route of routes) {
    const label = `${route.method} ${route.path}`;
    fails(
      await call(route.method, concrete(route), { key: null, body: sampleBody(route) }),
      401,
      'authentication_required',
      label,
    );
    fails(
      await call(route.method, concrete(route), { key: unrelated, body: sampleBody(route) }),
      403,
      'insufficient_permissions',
      label,
    );
    fails(
      await call(route.method, concrete(route), { key: ids.mailboxSecret!, body: sampleBody(route) }),
      403,
      'insufficient_permissions',
      `mailbox key: ${label}`,
    );
  }
  assert.ok(
    routes.every((r) => !r.body || sampleBody(r) !== undefined || r.body.safeParse(undefined).success),
    'every body route has a sample',
  );
  const provider = await api.makeKey(['provider.*', 'routing.*', 'domain.*', 'logs.read']);
  const readonly = await api.makeKey(['*.read']);
  assert.is((await call('GET', '/delivery-groups', { key: provider })).status, 200);
  assert.is((await call('GET', '/emails/logs', { key: provider })).status, 200);
  fails(
    await call('GET', '/queue/messages', { key: provider }),
    403,
    'insufficient_permissions',
    'root:provider_admin has no queue',
  );
  assert.is((await call('GET', '/queue/messages', { key: readonly })).status, 200);
  fails(await call('POST', `/queue/messages/${ids.job}/retry`, { key: readonly }), 403, 'insufficient_permissions');
  assert.is((await call('GET', '/usage', { key: await api.makeKey(['billing.read']) })).status, 200);
});

test('team isolation: another team gets 404 for every id of this one, and its lists hold nothing of it', async () => {
  const { key } = await api.newTeam('bravo');
  const before = JSON.stringify([
    ok(await call('GET', `/providers/${ids.provider}`)),
    ok(await call('GET', `/delivery-groups/${ids.group}`)),
    ok(await call('GET', `/queue/messages/${ids.job}`)),
  ]);
  for (const route of routes) {
    if (!route.path.includes('{')) continue;
    const reply = await call(route.method, concrete(route), { key, body: sampleBody(route) });
    fails(reply, 404, 'not_found', `${route.method} ${concrete(route)}`);
    assert.not.ok(reply.text.includes('alpha.test'), 'nothing of the other team in the error');
  }
  for (const path of ['/providers', '/delivery-groups', '/queue/messages', '/emails/logs', '/inboxes/logs']) {
    assert.equal(ok(await call('GET', path, { key })), [], path);
  }
  assert.equal(
    ok(await call('GET', `/emails/logs?mailbox_id=${ids.mailbox}`, { key })),
    [],
    'a foreign mailbox filter matches nothing',
  );
  const after = JSON.stringify([
    ok(await call('GET', `/providers/${ids.provider}`)),
    ok(await call('GET', `/delivery-groups/${ids.group}`)),
    ok(await call('GET', `/queue/messages/${ids.job}`)),
  ]);
  assert.is(after, before, 'unchanged');
});

test('every operations route answered 2xx somewhere in this file; each is in the OpenAPI document', async () => {
  const missing = routes.filter((r) => !succeeded.has(r)).map((r) => `${r.method} ${r.path}`);
  assert.equal(missing, []);
  const document = (await api.call('GET', '/openapi.json', { key: null })).body;
  for (const route of routes)
    assert.ok(document.paths[route.path]?.[route.method.toLowerCase()], `${route.method} ${route.path} documented`);
});

test.run();
