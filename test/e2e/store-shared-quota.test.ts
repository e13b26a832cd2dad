// Counted limits on two Wren nodes sharing one PostgreSQL database (`[store] shared = true`,
// docs/ARCHITECTURE.md §4.8): a team's limits on mailboxes, domains and API keys, asked of both nodes at
// once, admit exactly up to the limit; the rest get the API's `limit_exceeded` envelope. A mailbox's
// quota filled through both nodes at once (MX deliveries, IMAP APPENDs) is never overshot: the rest get
// 452 4.2.2 (RFC 3463 3.3) and NO [OVERQUOTA] (RFC 9208 §4.3.1, RFC 5530 §3).
// Always on PostgreSQL (a private cluster, test/helpers/postgres.ts), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRootKey } from '../../src/bootstrap.ts';
import { prefixRange } from '../../src/store/keys.ts';
import type { ApiKey, Folder } from '../../src/store/index.ts';
import { RawClient } from '../helpers/imap.ts';
import type { Instance } from '../helpers/instance.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { apiCall, mxTransport, PASSWORD, type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

let shared: SharedNodes;
let a: Instance;
let b: Instance;

test.before(async () => {
  shared = await startSharedNodes('shared-quota', { overrides: { imap: { allow_plain_auth_loopback: true } } });
  ({ a, b } = shared);
});
test.after(() => shared?.stop());

const post = (instance: Instance, key: string, path: string, body: unknown) =>
  apiCall(instance, key, 'POST', path, body);

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

/** One message through `instance`'s MX: its reply (a refusal's too). */
async function mx(instance: Instance, to: string, i: number, text: string): Promise<string> {
  const client = mxTransport(instance);
  try {
    const info = await client.sendMail({ from: 'sender@elsewhere.test', to, subject: `fill ${i}`, text });
    return info.response;
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    client.close();
  }
}

/** An IMAP session on `instance`, logged in as `user` (plain LOGIN on loopback). */
async function imapSession(instance: Instance, user: string): Promise<RawClient> {
  const client = await RawClient.connect(instance.port('imap'), false, undefined, instance.host);
  assert.match(await client.command('a1', `LOGIN "${user}" "${PASSWORD}"`, 20_000), /^a1 OK/m);
  return client;
}

/** APPENDs to `folder` one after another on a logged-in session (LITERAL+): the tagged replies. */
async function appends(client: RawClient, folder: string, count: number, text: string): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const raw = Buffer.from(`Subject: ${folder} ${i}\r\n\r\n${text.replaceAll('\n', '\r\n')}`);
    const command = Buffer.concat([
      Buffer.from(`b${i} APPEND ${folder} {${raw.length}+}\r\n`),
      raw,
      Buffer.from('\r\n'),
    ]);
    out.push(/^b\d+ .*$/m.exec(await client.command(`b${i}`, command, 20_000))![0]);
  }
  return out;
}

/** A mailbox of the default team in quota.test (made at first use) with a quota of `quotaBytes`. */
async function quotaAccount(user: string, quotaBytes: number) {
  const store = a.server.store;
  const [team] = await store.teams.list();
  if (!(await store.domains.get('quota.test'))) await store.domains.create(team!.id, 'quota.test');
  return store.accounts.create({
    teamId: team!.id,
    address: user,
    passwordHash: await hashPassword(PASSWORD),
    quotaBytes,
  });
}

/** One IMAP session per [node, folder]: three folders on each node, so no folder lock is in common. */
async function sessionsOnBothNodes(user: string, lastOnB: string) {
  const placed = [
    [a, 'Drafts'],
    [a, 'Sent'],
    [a, 'Archive'],
    [b, 'Junk'],
    [b, 'Trash'],
    [b, lastOnB],
  ] as const;
  const sessions = await Promise.all(placed.map(([n]) => imapSession(n, user)));
  return { folders: placed.map(([, folder]) => folder), sessions };
}

/** The account's bytes and messages as the database holds them, past either node's memory. */
async function storedUsage(accountId: string): Promise<{ bytes: number; exists: number }> {
  const folders = await a.server.store.kv.values<Folder>(prefixRange(`f/${accountId}/`));
  return {
    bytes: folders.reduce((n, f) => n + f.size, 0),
    exists: folders.reduce((n, f) => n + f.exists, 0),
  };
}

test('a nearly full mailbox filled through both nodes at once is never taken past its quota', async () => {
  const text = `${'0123456789'.repeat(7)}\n`.repeat(110); // about 8 KB a message
  const quotaBytes = 4 * 8000 + 4000; // room for four
  for (let round = 0; round < 3; round++) {
    const user = `full${round}@quota.test`;
    const account = await quotaAccount(user, quotaBytes);
    // Each node appends to folders of its own while both MXs deliver to INBOX: different folders, one quota.
    const { folders, sessions } = await sessionsOnBothNodes(user, 'INBOX');
    try {
      const replies = (
        await Promise.all([
          ...[a, b, a, b].map((n, i) => mx(n, user, i, text).then((r) => [r])),
          ...sessions.map((client, i) => appends(client, folders[i]!, 2, text)),
        ])
      ).flat();
      const summary = `round ${round}: ${JSON.stringify(replies.map((r) => r.slice(0, 26)))}`;
      const taken = replies.filter((r) => /^250 |^b\d+ OK/.test(r)).length;
      const refused = replies.filter((r) => /^452 4\.2\.2 |^b\d+ NO \[OVERQUOTA\]/.test(r)).length;
      assert.is(taken + refused, replies.length, summary);
      const { bytes, exists } = await storedUsage(account.id);
      assert.ok(bytes <= quotaBytes, `${summary}: ${bytes} bytes stored, quota ${quotaBytes}`);
      assert.is(exists, taken, `${summary}: every message acknowledged is stored`);
      assert.ok(taken >= 3, summary);
    } finally {
      for (const client of sessions) client.close();
    }
  }
});

test('COPYs into different folders of a nearly full mailbox through both nodes at once stay within its quota', async () => {
  const text = `${'0123456789'.repeat(7)}\n`.repeat(110);
  const quotaBytes = 4 * 8000 + 4000; // the message to copy and three copies
  for (let round = 0; round < 2; round++) {
    const user = `copy${round}@quota.test`;
    const account = await quotaAccount(user, quotaBytes);
    const seeded = await mx(a, user, 0, text);
    assert.match(seeded, /^250 /, seeded);
    const { folders, sessions } = await sessionsOnBothNodes(user, 'Drafts');
    try {
      for (const client of sessions) assert.match(await client.command('s', 'SELECT INBOX', 20_000), /^s OK/m);
      const replies = (
        await Promise.all(
          sessions.map(async (client, i) => {
            const out: string[] = [];
            for (const tag of ['c1', 'c2'])
              out.push(/^c\d .*$/m.exec(await client.command(tag, `COPY 1 ${folders[i]}`, 20_000))![0]);
            return out;
          }),
        )
      ).flat();
      const summary = `round ${round}: ${JSON.stringify(replies.map((r) => r.slice(0, 24)))}`;
      const taken = replies.filter((r) => /^c\d OK/.test(r)).length;
      assert.is(taken + replies.filter((r) => /^c\d NO \[OVERQUOTA\]/.test(r)).length, replies.length, summary);
      const { bytes, exists } = await storedUsage(account.id);
      assert.ok(bytes <= quotaBytes, `${summary}: ${bytes} bytes stored, quota ${quotaBytes}`);
      assert.is(exists, 1 + taken, `${summary}: every copy acknowledged is stored`);
      assert.ok(taken >= 2, summary);
    } finally {
      for (const client of sessions) client.close();
    }
  }
});

test.run();
