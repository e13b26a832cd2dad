// Sender allow/deny lists (docs/API.md §12.5) set over the API and enforced by the MX at RCPT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { patternMatches } from '../../src/inbound/sender-filter.ts';

let instance: Instance;
let key: string;
let base: string;

test.before(async () => {
  instance = await startInstance();
  await instance.addAccount('boss@example.test', 'some password here');
  await instance.addAccount('desk@example.test', 'some password here');
  key = readFileSync(join(instance.config.data_dir, 'bootstrap-root.key'), 'utf8').trim();
  base = `http://127.0.0.1:${instance.port('http')}/api/v1`;
});
test.after(() => instance.stop());

const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  return {
    status: response.status,
    etag: response.headers.get('etag'),
    body: (await response.json()) as { data: any; error: { code: string } },
  };
};

async function send(from: string, to: string): Promise<string> {
  try {
    return (await sendToMx(instance, { from, to, subject: 'filters', text: 'hi\n' })).response;
  } catch (err) {
    return (err as { response: string }).response;
  }
}

test('patterns: exact address, domain with subdomains, wildcards', () => {
  assert.ok(patternMatches('a@x.test', 'A@X.test'));
  assert.not.ok(patternMatches('a@x.test', 'b@x.test'));
  assert.ok(patternMatches('@x.test', 'b@mail.x.test'));
  assert.ok(patternMatches('x.test', 'b@x.test'));
  assert.not.ok(patternMatches('x.test', 'b@notx.test'));
  assert.ok(patternMatches('*@*.spam.test', 'q@a.spam.test'));
});

test('domain denylist refuses at RCPT with 550 5.7.1; a mailbox allowlist overrides its domain', async () => {
  const domainId = (await api('GET', '/domains')).body.data.find(
    (d: { domain: string }) => d.domain === 'example.test',
  ).id;
  const put = await api('PUT', `/domains/${domainId}/filters`, {
    mode: 'denylist',
    rules: [{ pattern: '@spammy.test', type: 'deny', note: 'known junk' }],
  });
  assert.is(put.status, 200);
  assert.equal(put.body.data.rules[0].pattern, '@spammy.test');
  assert.match(await send('x@spammy.test', 'desk@example.test'), /^550 5\.7\.1 /);
  assert.match(await send('x@fine.test', 'desk@example.test'), /^250 /);

  const boss = (await api('GET', '/mailboxes')).body.data.find(
    (m: { email: string }) => m.email === 'boss@example.test',
  );
  const got = await api('GET', `/mailboxes/${boss.id}/filters`);
  assert.equal(got.body.data, { mode: 'off', rules: [] });
  const stale = await api(
    'PUT',
    `/mailboxes/${boss.id}/filters`,
    { mode: 'allowlist', rules: [] },
    { 'if-match': 'W/"stale"' },
  );
  assert.is(stale.status, 409, 'If-Match with a stale ETag is a conflict');
  assert.is(
    (
      await api(
        'PUT',
        `/mailboxes/${boss.id}/filters`,
        { mode: 'allowlist', rules: [{ pattern: 'partner.test', type: 'allow' }] },
        { 'if-match': got.etag! },
      )
    ).status,
    200,
  );
  assert.match(await send('x@partner.test', 'boss@example.test'), /^250 /);
  assert.match(await send('x@fine.test', 'boss@example.test'), /^550 5\.7\.1 /, 'allowlist: others are refused');
  assert.match(await send('x@spammy.test', 'boss@example.test'), /^550 5\.7\.1 /);
  const bad = await api('PUT', `/mailboxes/${boss.id}/filters`, { mode: 'sometimes', rules: [] });
  assert.is(bad.status, 400);
});

test.run();
