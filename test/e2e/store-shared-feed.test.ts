// Two Wren nodes on one PostgreSQL database (`[store] shared = true`, docs/ARCHITECTURE.md §4.8) when
// the change feed is cut: notes sent while a node's LISTEN connection is down are lost, and the node
// reconnects with `*`. A password changed, a key revoked or a mailbox suspended on B in that gap must
// still end A's live sessions, an unchanged one must live on, and a delivery on B in the gap must still
// reach A's IDLE session. Always on PostgreSQL (a private cluster, test/helpers/postgres.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pg from 'pg';
import { RawClient } from '../helpers/imap.ts';
import type { Instance } from '../helpers/instance.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import type { Account } from '../../src/store/index.ts';
import {
  apiCall,
  imapClient,
  mxTransport,
  PASSWORD,
  type SharedNodes,
  startSharedNodes,
} from '../helpers/shared-nodes.ts';

let shared: SharedNodes;
let a: Instance;
let b: Instance;
let admin: pg.Client;

test.before(async () => {
  shared = await startSharedNodes('shared-feed', { overrides: { imap: { allow_plain_auth_loopback: true } } });
  ({ a, b } = shared);
  admin = new pg.Client({ connectionString: shared.url });
  await admin.connect();
});
test.after(async () => {
  await admin?.end();
  await shared?.stop();
});

const api = (instance: Instance, method: string, path: string, body?: unknown) =>
  apiCall(instance, shared.rootKey, method, path, body);

/** The backends LISTENing on the change feed (both nodes'): their pids. */
async function listeners(): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN wren_changes' AND datname = current_database()",
  );
  return rows.map((row) => row.pid);
}

/**
 * Cuts both nodes' LISTEN connections, runs `change` (on B) while they are down, and resolves once
 * both listen again (each has then handled its `*`). False when a node was back before `change`
 * ended: its note may have been heard, so the gap was not tested and the caller tries again.
 */
async function inFeedGap(change: () => Promise<void>): Promise<boolean> {
  const before = await listeners();
  assert.is(before.length, 2, 'both nodes listen');
  await admin.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [before]);
  while ((await listeners()).some((pid) => before.includes(pid))) await new Promise((r) => setTimeout(r, 10));
  await change();
  const inGap = (await listeners()).length === 0;
  const deadline = Date.now() + 10_000;
  while ((await listeners()).length < 2) {
    assert.ok(Date.now() < deadline, 'the feed reconnects within 10 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return inGap;
}

/**
 * A session on A logged in as `user` with `secret` (a fresh account, or key, per try), then `change`
 * on B during A's feed gap, retried (up to 5 times) until the gap held it; returns the session.
 */
async function sessionAcrossGap(
  user: string,
  login: () => Promise<string>,
  change: () => Promise<void>,
): Promise<RawClient> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const secret = await login();
    const client = await RawClient.connect(a.port('imap'), false, '127.0.0.8', a.host);
    assert.match(await client.command('a1', `LOGIN "${user}" "${secret}"`), /^a1 OK/m);
    if (await inFeedGap(change)) return client;
    client.close();
  }
  throw new Error('the feed reconnected before the change every time');
}

/** B's store writes the change itself, as its API would: one commit, well inside the feed's gap. */
async function updateOnB(accountId: string, change: Partial<Account>): Promise<void> {
  const store = b.server.store;
  await store.accounts.update({ ...(await store.accounts.get(accountId))!, ...change });
}

test("a password changed on B while A's feed was down ends A's session once the feed is back", async () => {
  const user = 'gap-password@feed.test';
  const account = await a.addAccount(user, PASSWORD);
  let password = PASSWORD;
  let next = { password, hash: '' };
  const client = await sessionAcrossGap(
    user,
    async () => {
      const changed = `changed in the gap ${Math.random()}`;
      next = { password: changed, hash: await hashPassword(changed) };
      return password;
    },
    async () => {
      await updateOnB(account.id, { passwordHash: next.hash });
      password = next.password;
    },
  );
  try {
    const back = Date.now();
    await client.until(/^\* BYE .*\r\n/m, 3000);
    assert.ok(Date.now() - back < 1000, `BYE ${Date.now() - back} ms after the feed was back`);
  } finally {
    client.close();
  }
});

test("a mailbox key revoked on B while A's feed was down ends A's session that used it", async () => {
  const user = 'gap-key@feed.test';
  const account = await a.addAccount(user, PASSWORD);
  let id = '';
  const client = await sessionAcrossGap(
    user,
    async () => {
      const minted = await api(b, 'POST', `/mailboxes/mbx_${account.id}/keys`, { app_name: 'phone' });
      assert.is(minted.status, 201, JSON.stringify(minted.body));
      id = minted.body.data.api_key.public_id;
      return minted.body.data.api_key.key;
    },
    async () => b.server.store.apiKeys.revoke((await b.server.store.apiKeys.get(id))!),
  );
  try {
    await client.until(/^\* BYE .*\r\n/m, 1000);
  } finally {
    client.close();
  }
});

test("a mailbox suspended on B while A's feed was down ends A's session; an unchanged one lives on", async () => {
  const user = 'gap-suspended@feed.test';
  const account = await a.addAccount(user, PASSWORD);
  const other = 'gap-unchanged@feed.test';
  await a.addAccount(other, PASSWORD);
  const bystander = await RawClient.connect(a.port('imap'), false, '127.0.0.9', a.host);
  try {
    assert.match(await bystander.command('b1', `LOGIN "${other}" "${PASSWORD}"`), /^b1 OK/m);
    const client = await sessionAcrossGap(
      user,
      async () => {
        await updateOnB(account.id, { state: 'active' });
        return PASSWORD;
      },
      () => updateOnB(account.id, { state: 'suspended' }),
    );
    try {
      await client.until(/^\* BYE .*\r\n/m, 1000);
    } finally {
      client.close();
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.match(await bystander.command('b2', 'NOOP'), /^b2 OK/m, 'a session whose credential stands is kept');
  } finally {
    bystander.close();
  }
});

test("a delivery through B while A's feed was down is announced to A's IDLE session once the feed is back", async () => {
  const user = 'gap-idle@feed.test';
  await a.addAccount(user, PASSWORD);
  const client = imapClient(a, user);
  await client.connect();
  try {
    const before = (await client.mailboxOpen('INBOX')).exists; // imapflow updates that object as it goes
    const counts: number[] = [];
    client.on('exists', (data: { count: number }) => counts.push(data.count));
    void client.idle();
    await new Promise((r) => setTimeout(r, 200)); // IDLE is under way
    let sent = 0;
    for (let attempt = 0; attempt < 5; attempt++) {
      const inGap = await inFeedGap(async () => {
        const transport = mxTransport(b);
        const info = await transport.sendMail({ from: 's@elsewhere.test', to: user, subject: 'gap', text: 'hi\n' });
        transport.close();
        assert.match(info.response, /^250 /);
        sent++;
      });
      if (inGap) break;
    }
    const deadline = Date.now() + 1000;
    while (counts.at(-1) !== before + sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.is(counts.at(-1), before + sent, `EXISTS ${counts} for ${sent} delivered`);
  } finally {
    await client.logout();
  }
});

test.run();
