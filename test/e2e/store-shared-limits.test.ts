// What two Wren nodes on one PostgreSQL database (`[store] shared = true`, docs/ARCHITECTURE.md §4.8)
// must agree on for security: a password changed or a mailbox suspended through node B's API stops
// working on node A at once (A's caches must not let it in); login failures spread over both nodes count
// as one (a lockout reached through A holds on B); a sender's budget is one budget, not one per node.
// Always on PostgreSQL (a private cluster, test/helpers/postgres.ts), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient } from '../helpers/imap.ts';
import type { Instance } from '../helpers/instance.ts';
import {
  apiCall,
  mxTransport,
  PASSWORD,
  type SharedNodes,
  startSharedNodes,
  submissionTransport,
} from '../helpers/shared-nodes.ts';

let shared: SharedNodes;
let a: Instance;
let b: Instance;

test.before(async () => {
  shared = await startSharedNodes('shared-limits', {
    overrides: {
      smtp: { send_per_hour: 3, send_per_day: 100, messages_per_ip_per_minute: 3 },
      imap: { allow_plain_auth_loopback: true },
      auth: { max_failures_per_account: 4, max_failures_per_ip: 100 },
    },
  });
  ({ a, b } = shared);
});
test.after(() => shared?.stop());

/** The tagged reply to LOGIN on `instance`'s IMAP, from client address `from`. */
async function imapLogin(instance: Instance, user: string, password: string, from: string): Promise<string> {
  const client = await RawClient.connect(instance.port('imap'), false, from, instance.host);
  try {
    return /^a1 .*$/m.exec(await client.command('a1', `LOGIN "${user}" "${password}"`, 20_000))![0];
  } finally {
    client.close();
  }
}

const call = (instance: Instance, method: string, path: string, body?: unknown) =>
  apiCall(instance, shared.rootKey, method, path, body);

const api = async (instance: Instance, method: string, path: string, body?: unknown): Promise<number> =>
  (await call(instance, method, path, body)).status;

test('wrong passwords spread over both nodes count as one: the lockout reached holds on both', async () => {
  const user = 'guessed@limits.test';
  await a.addAccount(user, PASSWORD);
  // Four guesses (the pair's limit) from one address, alternating nodes: two per node.
  for (const instance of [a, b, a, b])
    assert.match(await imapLogin(instance, user, 'wrong guess', '127.0.0.1'), /^a1 NO/);
  for (const instance of [a, b])
    assert.match(
      await imapLogin(instance, user, PASSWORD, '127.0.0.1'),
      /^a1 NO .*(later|many)/i,
      `the guessing address is refused on ${instance.host} too`,
    );
  assert.match(await imapLogin(b, user, PASSWORD, '127.0.0.4'), /^a1 OK/, 'the owner from elsewhere still gets in');
});

test("a password changed and a mailbox suspended through node B's API stop working on node A at once", async () => {
  const user = 'changed@limits.test';
  const account = await a.addAccount(user, PASSWORD);
  // A has verified the password (its credential cache and directory cache hold it).
  assert.match(await imapLogin(a, user, PASSWORD, '127.0.0.5'), /^a1 OK/);
  assert.match(await imapLogin(a, user, PASSWORD, '127.0.0.5'), /^a1 OK/);
  assert.ok((await api(b, 'PUT', `/mailboxes/mbx_${account.id}/password`, { password: 'a new one 123' })) < 300);
  assert.match(await imapLogin(a, user, PASSWORD, '127.0.0.5'), /^a1 NO/, 'the old password is refused on A at once');
  assert.match(await imapLogin(a, user, 'a new one 123', '127.0.0.5'), /^a1 OK/);
  assert.ok((await api(b, 'POST', `/mailboxes/mbx_${account.id}/suspend`)) < 300);
  assert.match(await imapLogin(a, user, 'a new one 123', '127.0.0.5'), /^a1 NO/, 'the suspended mailbox is refused');
});

test("an IMAP session on node A ends when node B's API changes the password it logged in with", async () => {
  const user = 'session@limits.test';
  const account = await a.addAccount(user, PASSWORD);
  const client = await RawClient.connect(a.port('imap'), false, '127.0.0.6', a.host);
  try {
    assert.match(await client.command('a1', `LOGIN "${user}" "${PASSWORD}"`), /^a1 OK/m);
    assert.ok((await api(b, 'PUT', `/mailboxes/mbx_${account.id}/password`, { password: 'another one 123' })) < 300);
    const changedAt = Date.now();
    await client.until(/^\* BYE .*\r\n/m, 2000);
    assert.ok(Date.now() - changedAt < 1000, `BYE ${Date.now() - changedAt} ms after the change`);
  } finally {
    client.close();
  }
});

/** A new mailbox `user`, a key of it minted through node B's API (`app`), a session on node A logged in with it. */
async function keyedSession(user: string, app: string) {
  const account = await a.addAccount(user, PASSWORD);
  const minted = await call(b, 'POST', `/mailboxes/mbx_${account.id}/keys`, { app_name: app });
  assert.is(minted.status, 201, JSON.stringify(minted.body));
  const { public_id: id, key: secret } = minted.body.data.api_key;
  const client = await RawClient.connect(a.port('imap'), false, '127.0.0.7', a.host);
  try {
    assert.match(await client.command('a1', `LOGIN "${user}" "${secret}"`), /^a1 OK/m);
  } catch (err) {
    client.close();
    throw err;
  }
  return { account, id: id as string, secret: secret as string, client };
}

test("a mailbox key revoked through node B's API is refused by node A and ends A's session that used it", async () => {
  const user = 'keyed@limits.test';
  const { account, id, secret, client } = await keyedSession(user, 'phone');
  try {
    assert.match(await imapLogin(a, user, secret, '127.0.0.7'), /^a1 OK/, 'A has checked the key (and keeps it)');
    assert.ok((await api(b, 'DELETE', `/mailboxes/mbx_${account.id}/keys/${id}`)) < 300);
    const revokedAt = Date.now();
    await client.until(/^\* BYE .*\r\n/m, 2000);
    assert.ok(Date.now() - revokedAt < 1000, `BYE ${Date.now() - revokedAt} ms after the revocation`);
    assert.match(await imapLogin(a, user, secret, '127.0.0.7'), /^a1 NO/, 'the revoked key is refused on A');
  } finally {
    client.close();
  }
});

test("a mailbox key's expiry shortened through node B's API ends A's session that used it at the new time", async () => {
  const { id, client } = await keyedSession('expiring@limits.test', 'tablet');
  try {
    const expiresAt = Date.now() + 1500;
    const patched = await call(b, 'PATCH', `/api-keys/${id}`, { expires_at: new Date(expiresAt).toISOString() });
    assert.is(patched.status, 200, JSON.stringify(patched.body));
    assert.match(await client.until(/^\* BYE .*\r\n/m, 4000), /key expired/);
    assert.ok(Date.now() >= expiresAt, 'not before the new expiry');
    assert.ok(Date.now() - expiresAt < 1000, `BYE ${Date.now() - expiresAt} ms after the new expiry`);
  } finally {
    client.close();
  }
});

async function submit(instance: Instance, user: string, i: number): Promise<string> {
  const transport = submissionTransport(instance, user, {
    requireTLS: true,
    connectionTimeout: 5000,
    socketTimeout: 5000,
  });
  try {
    const info = await transport.sendMail({ from: user, to: 'x@far.test', subject: `budget ${i}`, text: 'hello\n' });
    return info.response;
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    transport.close();
  }
}

test('one sending budget across nodes: 3 an hour is 3 in all, not 3 per node', async () => {
  const user = 'sender@limits.test';
  await a.addAccount(user, PASSWORD);
  const replies: string[] = [];
  for (const [i, instance] of [a, b, a, b].entries()) replies.push(await submit(instance, user, i));
  assert.equal(
    replies.map((r) => r.slice(0, 3)),
    ['250', '250', '250', '451'],
    replies.join(' | '),
  );
  assert.match(replies[3]!, /^451 4\.7\.1 Sending limit reached \(3 messages per hour\)/);
  assert.match(await submit(a, user, 4), /^451 4\.7\.1/, 'and node A, which counted 2 of its own, refuses too');
});

test('one MX message rate per client address across nodes: 3 a minute is 3 in all', async () => {
  const user = 'inbound@limits.test';
  await a.addAccount(user, PASSWORD);
  const replies: string[] = [];
  for (const [i, instance] of [a, b, a, b].entries()) {
    // Generous: a loaded CI machine once took over 5 s for one delivery, and the count is what is tested.
    const transport = mxTransport(instance, { connectionTimeout: 20_000, socketTimeout: 20_000 });
    replies.push(
      await transport
        .sendMail({ from: 'someone@elsewhere.test', to: user, subject: `in ${i}`, text: `message ${i}\n` })
        .then(
          (info) => info.response,
          (err: Error & { response?: string }) => err.response ?? String(err),
        ),
    );
    transport.close();
  }
  assert.equal(
    replies.map((r) => r.slice(0, 3)),
    ['250', '250', '250', '450'],
    replies.join(' | '),
  );
  assert.match(replies[3]!, /^450 4\.7\.1 Too many messages from your address, try again in \d+ s/);
});

test('submissions with a Sent copy on a shared store are all taken (the queue retries its blob count)', async () => {
  // The queued job and the Sent copy of one message count the same blob side by side: on a shared
  // store the queue's write expected the count before the Sent copy's and was refused (a bare 450).
  const replies: string[] = [];
  for (const n of [1, 2, 3]) {
    const user = `sent${n}@limits.test`;
    await b.addAccount(user, PASSWORD);
    for (const [i, instance] of [a, b, a].entries()) replies.push(await submit(instance, user, i));
  }
  assert.equal(
    replies.map((r) => r.slice(0, 3)),
    Array(9).fill('250'),
    replies.join(' | '),
  );
});

test.run();
