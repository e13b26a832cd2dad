// What users say of their mail teaches the classifier whatever the client: a junk keyword set over IMAP
// (RFC 5788's $Junk and $NotJunk, Thunderbird's Junk and NonJunk; not-junk only in Junk), a move or a
// keyword over the mailbox API; and junk is delivered with $Junk, so mail programs show it as junk. One
// whole server, real clients.
import type { ImapFlow } from 'imapflow';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/security/permissions.ts';
import { pruneOnce } from '../../src/startup/services.ts';
import type { Account, Folder } from '../../src/store/index.ts';
import { storeKey } from '../helpers/api.ts';
import { waitFor } from '../helpers/outbound.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { bootstrapKey, sendToMx, startInstance, type Instance, withImap } from '../helpers/instance.ts';
import { makeMessage } from '../helpers/tmp.ts';

let instance: Instance;
let dns: TestDnsServer;
let account: Account;
let key: string;

test.before(async () => {
  dns = await startDnsServer({
    '_dmarc.example.test': { TXT: ['v=DMARC1; p=quarantine'] },
    'example.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.shop.test': { TXT: ['v=DMARC1; p=quarantine'] },
    'shop.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
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

const imap = <T>(session: (client: ImapFlow) => Promise<T>): Promise<T> =>
  withImap(instance, 'user@example.test', 'judgement password', session);

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

test('IMAP STORE: $Junk or $Phishing set trains spam; NonJunk set in Junk trains ham, set elsewhere (Thunderbird marks all it passes) nothing', async () => {
  await deliver('INBOX', 'qwxkeyword');
  await deliver('INBOX', 'qwxpassed');
  await deliver('INBOX', 'qwxphish');
  assert.is(await countsOf('qwxkeyword'), null, 'nothing learned yet');
  await imap(async (client) => {
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd({ subject: 'qwxkeyword' }, ['$Junk']);
    await waitFor(async () => (await countsOf('qwxkeyword'))?.[0] === 1, 10_000, 'spam from $Junk');
    // Marked as phishing (RFC 9051 §2.3.2's $Phishing): spam too.
    await client.messageFlagsAdd({ subject: 'qwxphish' }, ['$Phishing']);
    await waitFor(async () => (await countsOf('qwxphish'))?.[0] === 1, 10_000, 'spam from $Phishing');
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
  // move into Junk counted apart (the model counts the message once). Counted once the training has returned,
  // a moment after the model shows it.
  const learned = async () => {
    const reply = await fetch(`http://127.0.0.1:${instance.port('http')}/metrics`, {
      headers: { authorization: `Bearer ${bootstrapKey(instance)}` },
    });
    const text = await reply.text();
    const count = (cls: string) =>
      Number(
        new RegExp(`^wrenmail_spam_user_judgements_total\\{class="${cls}",outcome="learned"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    return [count('spam'), count('ham')];
  };
  await waitFor(async () => (await learned()).join() === '4,2', 10_000, 'four spam and two ham judgements counted');
  assert.equal(await learned(), [4, 2]);
});

test('junk is delivered with $Junk, and with $Phishing (RFC 9051 §2.3.2) when it impersonates: an IMAP FETCH of Junk shows them', async () => {
  const send = (from: string, subject: string, text: string) =>
    sendToMx(instance, { from, to: 'user@example.test', subject, text, envelope: { from, to: 'user@example.test' } });
  // Forged From of the user's own domain (FORGED_HOSTED_FROM): Junk before any training, and phishing.
  await send('ceo@example.test', 'Urgent wire transfer today', 'Please pay now.\n');
  // A shop's mail failing its own DMARC (p=quarantine): Junk, with no sign of phishing.
  await send('deals@shop.test', 'Weekend deals', 'Twenty percent off shoes.\n');
  const flags = await imap(async (client) => {
    await client.mailboxOpen('Junk');
    const found = new Map<string, string[]>();
    for await (const m of client.fetch(
      { or: [{ subject: 'Urgent wire transfer today' }, { subject: 'Weekend deals' }] },
      {
        flags: true,
        envelope: true,
      },
    ))
      found.set(m.envelope!.subject!, [...(m.flags ?? [])].sort());
    return found;
  });
  assert.equal(flags.get('Urgent wire transfer today'), ['$Junk', '$Phishing']);
  assert.equal(flags.get('Weekend deals'), ['$Junk']);
  await send('friend@elsewhere.test', 'Lunch on Friday', 'Shall we meet at noon?\n');
  const inbox = await store().messages.list(folder('INBOX').id);
  const lunch = [];
  for (const m of inbox) if ((await store().read(m)).includes('Subject: Lunch on Friday')) lunch.push(m);
  assert.is(lunch.length, 1, 'delivered to INBOX');
  assert.not.ok(lunch[0]!.flags.includes('$Junk'), 'ham carries no $Junk');
});

test('Junk past spam.junk_retention_days is expunged by the prune pass, counted from when it came to Junk; an IMAP session in Junk is told', async () => {
  const day = 86_400_000;
  const pause = () => new Promise((r) => setTimeout(r, 150));
  await store().deliver(makeMessage({ subject: 'served its term' }), [{ folder: folder('Junk') }]);
  // Everything in Junk now (this one and the earlier tests' junk) was saved before the term starts.
  const served = (await store().messages.list(folder('Junk').id)).length;
  await pause();
  const term = Date.now();
  await pause();
  await store().deliver(makeMessage({ subject: 'received long ago' }), [{ folder: folder('INBOX') }], {
    internalDate: Date.now() - 400 * day,
  });
  await imap(async (client) => {
    // A user moves year-old mail to Junk: its term starts with the move (its save date), not its arrival.
    await client.mailboxOpen('INBOX');
    assert.ok(await client.messageMove({ subject: 'received long ago' }, 'Junk'));
    await client.mailboxOpen('Junk');
    const before = client.mailbox ? client.mailbox.exists : 0;
    const pruned = await pruneOnce(
      store(),
      { events: 7 * day, junk: Date.now() - term },
      { owner: 'spam-judgement-test', ttlMs: 10_000 },
    );
    assert.is(pruned?.junk, served, 'the messages saved before the term');
    await client.noop();
    assert.is(client.mailbox ? client.mailbox.exists : -1, before - served, 'the session saw the EXPUNGEs');
    const left = [];
    for await (const m of client.fetch('1:*', { envelope: true })) left.push(m.envelope?.subject);
    assert.equal(left, ['received long ago'], 'moved to Junk just now: kept');
  });
});

test.run();
