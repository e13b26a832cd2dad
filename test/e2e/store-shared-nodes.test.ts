// Two Wren nodes on one PostgreSQL database (`[store] shared = true`, docs/ARCHITECTURE.md §4.8): SMTP
// clients deliver to the same folders through both at once, and IMAP IDLE on one sees the other's
// deliveries. Always on PostgreSQL (a private cluster, test/helpers/postgres.ts), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Account, type Domain, Store } from '../../src/store/index.ts';
import { prefixRange } from '../../src/store/keys.ts';
import type { Instance } from '../helpers/instance.ts';
import {
  PASSWORD,
  apiCall,
  assertInboxOnEveryNode,
  deliverThrough,
  idleSeesDelivery,
  imapClient as imap,
  mxTransport as smtp,
  type SharedNodes,
  sentIds,
  startSharedNodes,
} from '../helpers/shared-nodes.ts';
import { rejects } from '../helpers/assert.ts';

const MAILBOXES = ['ann@example.test', 'bob@example.test'];
let shared: SharedNodes;
let a: Instance;
let b: Instance;

test.before(async () => {
  // B starts on a database another node is writing.
  shared = await startSharedNodes('shared-nodes', { accounts: MAILBOXES });
  ({ a, b } = shared);
});
test.after(() => shared?.stop());

test('a second server that does not share the database is refused while shared nodes run, and the other way round', async () => {
  await rejects(() => Store.open('', { postgresUrl: shared.url }));
});

test('20 SMTP clients deliver 200 messages to two mailboxes through both nodes: each stored once, UIDs strictly increasing', async () => {
  const started = Date.now();
  const replies = await deliverThrough([a, b], 20, 10, MAILBOXES, 'load');
  assert.is(replies.filter((r) => r.startsWith('250 ')).length, 200);
  console.log(`200 messages × 2 mailboxes through two nodes: ${Date.now() - started} ms`);
  for (const user of MAILBOXES) await assertInboxOnEveryNode([a, b], user, sentIds('load', 20, 10));
});

test('STORE on the same messages through both nodes at once: no flag change is lost (conflicts retried)', async () => {
  const clients = [a, b, a, b].map((instance) => imap(instance, MAILBOXES[1]!));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await Promise.all(clients.map((c) => c.mailboxOpen('INBOX')));
    // Each client adds its own keywords to messages 1:10, one STORE after another: every STORE reads
    // the records and writes them back, the read-modify-write two nodes must not interleave.
    await Promise.all(
      clients.map(async (client, c) => {
        for (let k = 0; k < 5; k++) assert.ok(await client.messageFlagsAdd('1:10', [`k${c}x${k}`]));
      }),
    );
    for (const client of clients.slice(0, 2)) {
      for await (const message of client.fetch('1:10', { flags: true, uid: true })) {
        const keywords = [...message.flags!].filter((f) => f.startsWith('k')).sort();
        assert.is(keywords.length, 20, `UID ${message.uid}: ${keywords.join(' ')}`);
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.logout()));
  }
});

test("a mailbox added on node B is taken by node A's MX within a second, though A had cached it as absent", async () => {
  const send = (to: string) =>
    smtp(a)
      .sendMail({ from: 'sender@elsewhere.test', to, subject: 'directory', text: 'hi\n' })
      .then(
        (info) => info.response,
        (err: Error & { response?: string }) => err.response ?? err.message,
      );
  const address = 'carl@example.test';
  assert.match(await send(address), /^550 /); // node A now holds "no such address" in its directory cache
  await b.addAccount(address, PASSWORD);
  const addedAt = Date.now();
  let reply = '';
  while (Date.now() - addedAt < 1000 && !/^250 /.test(reply)) reply = await send(address);
  assert.match(reply, /^250 /, `node A still refuses ${Date.now() - addedAt} ms after node B added the mailbox`);
});

test('the same mailboxes and domains created through both nodes at once: one 201, one 409, one record each', async () => {
  const key = shared.rootKey;
  const post = (instance: Instance, path: string, body: unknown) => apiCall(instance, key, 'POST', path, body);
  // Each name is asked of both nodes at the same moment, one name after another.
  const mailboxes = Array.from({ length: 8 }, (_, i) => `race${i}@example.test`);
  const domains = Array.from({ length: 4 }, (_, i) => `race${i}.test`);
  const replies: { status: number; body: any }[][] = [];
  for (const email of mailboxes)
    replies.push(await Promise.all([a, b].map((node) => post(node, '/mailboxes', { email, password: PASSWORD }))));
  for (const domain of domains)
    replies.push(await Promise.all([a, b].map((node) => post(node, '/domains', { domain }))));
  const names = [...mailboxes, ...domains];
  replies.forEach((pair, i) => {
    const statuses = pair.map((r) => r.status).sort();
    assert.equal(statuses, [201, 409], `${names[i]}: ${JSON.stringify(pair.map((r) => r.body))}`);
    assert.is(pair.find((r) => r.status === 409)!.body.error.code, 'conflict', names[i]);
  });
  // What the database holds, read past either node's memory.
  const store = a.server.store;
  const accounts = await store.kv.values<Account>(prefixRange('u/'));
  for (const [i, email] of mailboxes.entries()) {
    const made = accounts.filter((account) => account.address === email);
    assert.is(made.length, 1, `${email}: one account record`);
    assert.is(made[0]!.id, replies[i]!.find((r) => r.status === 201)!.body.data.mailbox.id.replace(/^mbx_/, ''));
    const route = await store.kv.get<{ accountId: string }>(`a/${email}`);
    assert.is(route?.accountId, made[0]!.id, `${email}: the route names the account created`);
    const folders = await store.kv.keys(prefixRange(`fn/${made[0]!.id}/`));
    assert.is(folders.length, 6, `${email}: one set of default folders`);
  }
  const stored = await store.kv.values<Domain>(prefixRange('d/'));
  for (const domain of domains) assert.is(stored.filter((d) => d.name === domain).length, 1, domain);
  const teamDomains = await store.kv.keys(prefixRange('td/'));
  for (const domain of domains) assert.is(teamDomains.filter((k) => k.endsWith(`/${domain}`)).length, 1, domain);
});

test('IMAP IDLE on node A announces a delivery made on node B within a second', async () => {
  await idleSeesDelivery(a, b, MAILBOXES[0]!);
});

test('sessions selected on both nodes through concurrent deliveries on both are told of every message (EXISTS, no gaps)', async () => {
  const user = 'dora@example.test';
  await a.addAccount(user, PASSWORD);
  const watchers = [a, b, a, b].map((instance) => imap(instance, user));
  await Promise.all(watchers.map((c) => c.connect()));
  try {
    await Promise.all(watchers.map((c) => c.mailboxOpen('INBOX')));
    // The watchers poll with NOOP while 10 clients deliver through both nodes, so announcements of a
    // node's own deliveries and of the other node's interleave.
    let delivering = true;
    const polling = watchers.map(async (c) => {
      while (delivering) await c.noop();
    });
    const replies = await deliverThrough([a, b], 10, 10, [user], 'told').finally(() => {
      delivering = false;
    });
    await Promise.all(polling);
    assert.is(replies.filter((r) => r.startsWith('250 ')).length, 100);
    for (const [i, c] of watchers.entries()) {
      const until = Date.now() + 3000;
      while ((c.mailbox as { exists: number }).exists < 100 && Date.now() < until) await c.noop();
      const uids: number[] = [];
      for await (const message of c.fetch('1:*', { uid: true })) uids.push(message.uid);
      assert.is(uids.length, 100, `watcher ${i} (node ${i % 2 ? 'B' : 'A'}) was told of ${uids.length} of 100`);
    }
  } finally {
    await Promise.all(watchers.map((c) => c.logout()));
  }
});

test.run();
