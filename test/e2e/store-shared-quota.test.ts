// Counted limits on two Wren nodes sharing one PostgreSQL database (`[store] shared = true`,
// docs/ARCHITECTURE.md §4.8): a team's limits on mailboxes, domains and API keys, asked of both nodes at
// once, admit exactly up to the limit; the rest get the API's `limit_exceeded` envelope.
// Always on PostgreSQL (a private cluster, test/helpers/postgres.ts), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRootKey } from '../../src/bootstrap.ts';
import { prefixRange } from '../../src/store/keys.ts';
import type { ApiKey } from '../../src/store/index.ts';
import type { Instance } from '../helpers/instance.ts';
import { PASSWORD, sharedNode } from '../helpers/shared-nodes.ts';
import { testDatabase } from '../helpers/store.ts';

let a: Instance;
let b: Instance;

test.before(async () => {
  const url = await testDatabase('shared-quota');
  const overrides = { imap: { allow_plain_auth_loopback: true } };
  a = await sharedNode('127.0.0.2', url, { overrides });
  b = await sharedNode('127.0.0.3', url, { overrides });
});
test.after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function post(instance: Instance, key: string, path: string, body: unknown) {
  const reply = await fetch(`http://${instance.host}:${instance.port('http')}/api/v1${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: reply.status, body: (await reply.json()) as { error?: { code: string } } };
}

test("a team's last mailbox, domain and API key asked of both nodes at once are created once", async () => {
  const store = a.server.store;
  for (let round = 0; round < 4; round++) {
    // Limit 2 each, one of each present (the root key is the one key).
    const team = await store.teams.create(`limited ${round}`, { maxMailboxes: 2, maxDomains: 2, maxApiKeys: 2 });
    const key = await createRootKey(store, team.id, 'root');
    const domain = `r${round}.limits.test`;
    await store.domains.create(team.id, domain);
    await store.accounts.create({ teamId: team.id, address: `first@${domain}` });
    // Odd rounds: a team from before any count of its own was stored (it is derived when absent).
    if (round % 2)
      for (const k of await store.kv.keys(prefixRange(`tn/${team.id}/`)))
        await store.kv.engine.batch([{ type: 'del', key: k }]);
    const nodes = [a, b, a, b];
    const [mailboxes, domains, keys] = await Promise.all([
      Promise.all(nodes.map((n, i) => post(n, key, '/mailboxes', { email: `m${i}@${domain}`, password: PASSWORD }))),
      Promise.all(nodes.map((n, i) => post(n, key, '/domains', { domain: `d${i}.${domain}` }))),
      Promise.all(nodes.map((n, i) => post(n, key, '/api-keys', { name: `k${i}`, role: 'root:readonly' }))),
    ]);
    for (const [what, replies] of Object.entries({ mailboxes, domains, keys })) {
      const summary = `round ${round}, ${what}: ${JSON.stringify(replies.map((r) => [r.status, r.body.error?.code]))}`;
      assert.is(replies.filter((r) => r.status === 201).length, 1, summary);
      assert.is(replies.filter((r) => r.status === 409 && r.body.error?.code === 'limit_exceeded').length, 3, summary);
    }
    // What the database holds, read past either node's memory.
    assert.is((await store.kv.keys(prefixRange(`tu/${team.id}/`))).length, 2, `round ${round}: mailboxes stored`);
    assert.is((await store.kv.keys(prefixRange(`td/${team.id}/`))).length, 2, `round ${round}: domains stored`);
    const ids = (await store.kv.keys(prefixRange(`tk/${team.id}/`))).map((k) => `k/${k.split('/')[2]}`);
    const active = (await store.kv.getMany<ApiKey>(ids)).filter((k) => k && !k.revokedAt);
    assert.is(active.length, 2, `round ${round}: active keys stored`);
  }
});

test.run();
