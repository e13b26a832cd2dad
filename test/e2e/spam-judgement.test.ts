// What users say of their mail teaches the classifier whatever the client: a junk keyword set over IMAP
// (RFC 5788's $Junk and $NotJunk, Thunderbird's Junk and NonJunk; not-junk only in Junk), a move or a
// keyword over the mailbox API; and junk is delivered with $Junk, so mail programs show it as junk. One
// whole server, real clients.
import { ImapFlow } from 'imapflow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/security/permissions.ts';
import { pruneOnce } from '../../src/startup/services.ts';
import type { Account, Folder } from '../../src/store/index.ts';
import { storeKey } from '../helpers/api.ts';
import { waitFor } from '../helpers/outbound.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { bootstrapKey, sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { makeMessage } from '../helpers/tmp.ts';

let instance: Instance;
let dns: TestDnsServer;
let account: Account;
let key: string;

test.before(async () => {
  dns = await startDnsServer({
    '_dmarc.example.test': { TXT: ['v=DMARC1; p=quarantine'] },
    'example.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
  });
  instance = await startInstance({ dnsServers: dns.servers });
  account = await instance.addAccount('user@example.test', 'judgement password');
  key = await storeKey(instance.server.store, {
    teamId: account.teamId,
    type: 'mailbox',
    permissions: PRESETS['mailbox:full']!,
    accountId: account.id,
  });
});
test.after(async () => {
  await instance.stop();
  await dns.close();
});

const store = () => instance.server.store;
const folder = (name: string): Folder => store().folders.byName(account.id, name)!;
const model = () => store().spam.model('s');

/** The counts the server model holds for the first learned token holding `word`, or null. */
async function countsOf(word: string): Promise<[number, number] | null> {
  const m = await model();
  const token = [...m.counts.tokens()].find((t) => t.includes(word));
  return token ? (m.get(token) as [number, number]) : null;
}

async function deliver(name: string, word: string): Promise<void> {
  await store().deliver(makeMessage({ subject: `${word} offer`, body: `${word} discount now\r\n` }), [
    { folder: folder(name) },
  ]);
}

async function imap<T>(run: (client: ImapFlow) => Promise<T>): Promise<T> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: instance.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'user@example.test', pass: 'judgement password' },
    logger: false,
  });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.logout();
  }
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test('IMAP STORE: $Junk set trains spam; NonJunk set in Junk trains ham, set elsewhere (Thunderbird marks all it passes) nothing', async () => {
  await deliver('INBOX', 'qwxkeyword');
  await deliver('INBOX', 'qwxpassed');
  assert.is(await countsOf('qwxkeyword'), null, 'nothing learned yet');
  await imap(async (client) => {
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd({ subject: 'qwxkeyword' }, ['$Junk']);
    await waitFor(async () => (await countsOf('qwxkeyword'))?.[0] === 1, 10_000, 'spam from $Junk');
    // Thunderbird's own filter passed this one: its NonJunk in INBOX is no judgement.
    await client.messageFlagsAdd({ subject: 'qwxpassed' }, ['NonJunk']);
    await client.messageMove({ subject: 'qwxkeyword' }, 'Junk');
    await client.mailboxOpen('Junk');
    await client.messageFlagsRemove({ subject: 'qwxkeyword' }, ['$Junk']);
    await client.messageFlagsAdd({ subject: 'qwxkeyword' }, ['NonJunk']);
    await waitFor(async () => (await countsOf('qwxkeyword'))?.[1] === 1, 10_000, 'ham from NonJunk in Junk');
    assert.equal(await countsOf('qwxkeyword'), [0, 1], 'the counts moved from spam to ham');
    // Set again (it has it already): no new judgement.
    await client.messageFlagsAdd({ subject: 'qwxkeyword' }, ['NonJunk', '\\Seen']);
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await countsOf('qwxkeyword'), [0, 1]);
  assert.is(await countsOf('qwxpassed'), null, 'NonJunk outside Junk taught nothing');
});

test('the mailbox API: a move into Junk trains spam (as an IMAP MOVE does), $NotJunk set there trains ham', async () => {
  await deliver('INBOX', 'zqvapimove');
  const [message] = (await api('GET', '/mailbox/messages?limit=1')).body.data;
  assert.match(message.subject, /zqvapimove/);
  const junkId = (await api('GET', '/mailbox/folders')).body.data.find((f: any) => f.name === 'Junk').id;
  const moved = await api('PATCH', `/mailbox/messages/${message.id}`, { folder_id: junkId });
  assert.is(moved.status, 200);
  await waitFor(async () => (await countsOf('zqvapimove'))?.[0] === 1, 10_000, 'spam from the API move');

  const marked = await api('POST', '/mailbox/messages/batch', {
    action: 'update',
    ids: [moved.body.data.id],
    keywords: { $NotJunk: true },
  });
  assert.is(marked.status, 200);
  assert.ok(marked.body.data.results[0].ok);
  await waitFor(async () => (await countsOf('zqvapimove'))?.[1] === 1, 10_000, 'ham from $NotJunk over the batch API');
  assert.equal(await countsOf('zqvapimove'), [0, 1]);

  // The operator sees users' training on /metrics: every judgement of both tests, the first test's $Junk and its
  // move into Junk counted apart (the model counts the message once).
  const reply = await fetch(`http://127.0.0.1:${instance.port('http')}/metrics`, {
    headers: { authorization: `Bearer ${bootstrapKey(instance)}` },
  });
  const text = await reply.text();
  const learned = (cls: string) =>
    Number(
      new RegExp(`^wrenmail_spam_user_judgements_total\\{class="${cls}",outcome="learned"\\} (\\d+)$`, 'm').exec(
        text,
      )?.[1],
    );
  assert.equal([learned('spam'), learned('ham')], [3, 2], text.slice(0, 400));
});

test('junk is delivered with $Junk: an IMAP FETCH of the Junk folder shows it', async () => {
  // Forged From of a hosted domain failing DMARC (p=quarantine): Junk before any training.
  const send = (from: string, subject: string, text: string) =>
    sendToMx(instance, { from, to: 'user@example.test', subject, text, envelope: { from, to: 'user@example.test' } });
  await send('ceo@example.test', 'Urgent wire transfer today', 'Please pay now.\n');
  const flags = await imap(async (client) => {
    await client.mailboxOpen('Junk');
    const found = [];
    for await (const m of client.fetch({ subject: 'Urgent wire transfer today' }, { flags: true })) found.push(m);
    return found.map((m) => [...(m.flags ?? [])]);
  });
  assert.equal(flags, [['$Junk']]);
  await send('friend@elsewhere.test', 'Lunch on Friday', 'Shall we meet at noon?\n');
  const inbox = await store().messages.list(folder('INBOX').id);
  const lunch = [];
  for (const m of inbox) if ((await store().read(m)).includes('Subject: Lunch on Friday')) lunch.push(m);
  assert.is(lunch.length, 1, 'delivered to INBOX');
  assert.not.ok(lunch[0]!.flags.includes('$Junk'), 'ham carries no $Junk');
});

test('Junk past spam.junk_retention_days is expunged by the prune pass, and an IMAP session in Junk is told', async () => {
  const day = 86_400_000;
  await store().deliver(makeMessage({ subject: 'month-old junk' }), [{ folder: folder('Junk') }], {
    internalDate: Date.now() - 31 * day,
  });
  await imap(async (client) => {
    await client.mailboxOpen('Junk');
    const before = client.mailbox ? client.mailbox.exists : 0;
    const old = [];
    for await (const m of client.fetch({ subject: 'month-old junk' }, { uid: true })) old.push(m.uid);
    assert.is(old.length, 1);
    const pruned = await pruneOnce(
      store(),
      { events: 7 * day, junk: instance.config.spam.junk_retention_days * day },
      { owner: 'spam-judgement-test', ttlMs: 10_000 },
    );
    assert.is(pruned?.junk, 1, 'only the month-old message: the other Junk here is minutes old');
    await client.noop();
    assert.is(client.mailbox ? client.mailbox.exists : -1, before - 1, 'the session saw the EXPUNGE');
    const left = [];
    for await (const m of client.fetch('1:*', { envelope: true })) left.push(m.envelope?.subject);
    assert.not.ok(left.includes('month-old junk'));
  });
});

test.run();
