// The IMAP server driven by imapflow (a real client) over real sockets: plain, STARTTLS, implicit TLS.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImapFlow } from 'imapflow';
import { startImap, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { pairKey } from '../../src/security/login.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
  await f.deliver(makeMessage({ subject: 'First', from: 'Carol <carol@example.org>' }));
  await f.deliver(makeMessage({ subject: 'Second', body: 'needle in a haystack\r\n' }), undefined, ['\\Seen']);
  await f.deliver(makeMessage({ subject: 'Third', bytes: 5000 }));
});
test.after(async () => {
  await f.close();
});

test('login over implicit TLS, capabilities, namespace and quota', async () => {
  const client = await f.client({ secure: true });
  assert.ok(client.capabilities.has('IMAP4rev2'));
  assert.ok(client.capabilities.has('CONDSTORE'));
  assert.is(client.namespace?.delimiter, '/');
  const quota = await client.getQuota('INBOX');
  assert.ok(quota);
  await client.logout();
});

test('STARTTLS upgrade then login', async () => {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: f.port,
    secure: false,
    doSTARTTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: 'correct horse battery staple' },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  assert.ok(client.secureConnection || client.usable);
  const status = await client.status('INBOX', { messages: true });
  assert.is(status ? status.messages : status, 3);
  await client.logout();
});

test('wrong password is refused with AUTHENTICATIONFAILED', async () => {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: f.tlsPort,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: 'nope' },
    logger: false,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    assert.unreachable('login should fail');
  } catch (err) {
    const e = err as { authenticationFailed?: boolean; serverResponseCode?: string; responseText?: string };
    assert.ok(e.authenticationFailed || e.serverResponseCode === 'AUTHENTICATIONFAILED', JSON.stringify(e));
  }
  f.login.byIp.reset('127.0.0.1');
  f.login.byPair.reset(pairKey(USER, '127.0.0.1'));
});

test('list with special-use, status, create/rename/delete', async () => {
  const client = await f.client();
  const folders = await client.list({ statusQuery: { messages: true, unseen: true } });
  const byPath = new Map(folders.map((x) => [x.path, x]));
  assert.is(byPath.get('Sent')?.specialUse, '\\Sent');
  assert.is(byPath.get('INBOX')?.status?.messages, 3);
  assert.is(byPath.get('INBOX')?.status?.unseen, 2);
  await client.mailboxCreate('Projects/Wren/Notes');
  await client.mailboxRename('Projects', 'Work');
  const after = (await client.list()).map((x) => x.path);
  assert.ok(after.includes('Work/Wren/Notes'), after.join());
  assert.not.ok(after.includes('Projects'));
  await client.mailboxDelete('Work/Wren/Notes');
  assert.not.ok((await client.list()).map((x) => x.path).includes('Work/Wren/Notes'));
  await client.mailboxCreate('Ünïcödé');
  assert.ok((await client.list()).map((x) => x.path).includes('Ünïcödé'));
  await client.logout();
});

test('select, fetch envelope/bodystructure/source, search, store flags', async () => {
  const client = await f.client();
  const box = await client.mailboxOpen('INBOX');
  assert.is(box.exists, 3);
  assert.ok(box.uidValidity > 0n);
  const messages = [];
  for await (const m of client.fetch('1:*', {
    uid: true,
    flags: true,
    envelope: true,
    bodyStructure: true,
    size: true,
  }))
    messages.push(m);
  assert.is(messages.length, 3);
  assert.is(messages[0]!.envelope!.subject, 'First');
  assert.is(messages[0]!.envelope!.from![0]!.address, 'carol@example.org');
  assert.is(messages[0]!.bodyStructure!.type, 'text/plain');
  const one = await client.fetchOne('2', { source: true });
  assert.ok(one && one.source!.toString().includes('needle in a haystack'));
  assert.equal(await client.search({ body: 'needle' }), [2]);
  assert.equal(await client.search({ seen: false }), [1, 3]);
  assert.equal(await client.search({ subject: 'third' }, { uid: true }), [3]);
  await client.messageFlagsAdd('1', ['\\Flagged', '$Important']);
  const flagged = await client.fetchOne('1', { flags: true });
  assert.ok(flagged && flagged.flags!.has('\\Flagged') && flagged.flags!.has('$Important'));
  await client.messageFlagsRemove('1', ['$Important']);
  assert.equal(await client.search({ flagged: true }), [1]);
  await client.logout();
});

test('BODY[] without PEEK sets \\Seen; PEEK does not', async () => {
  const client = await f.client();
  await client.mailboxOpen('INBOX');
  await client.fetchOne('3', { bodyParts: ['1'] }); // imapflow uses BODY.PEEK
  assert.equal(await client.search({ seen: false }), [1, 3]);
  const dl = await client.download('3', undefined, { uid: false });
  let size = 0;
  for await (const chunk of dl.content!) size += (chunk as Buffer).length;
  assert.ok(size > 4000);
  await client.messageFlagsRemove('3', ['\\Seen']);
  await client.logout();
});

test('append with flags and date, APPENDUID, copy/move with COPYUID, expunge', async () => {
  const client = await f.client();
  const appended = await client.append(
    'Drafts',
    makeMessage({ subject: 'Draft' }),
    ['\\Draft'],
    new Date('2024-02-03T04:05:06Z'),
  );
  assert.is(appended ? appended.uid : appended, 1);
  await client.mailboxOpen('Drafts');
  const m = await client.fetchOne('1', { flags: true, internalDate: true });
  assert.ok(m && m.flags!.has('\\Draft'));
  assert.is(new Date(m!.internalDate!).toISOString(), '2024-02-03T04:05:06.000Z');
  const copied = await client.messageCopy('1', 'Archive');
  assert.is(copied ? copied.uidMap?.get(1) : copied, 1);
  const moved = await client.messageMove('1', 'Trash');
  assert.ok(moved ? moved.uidMap?.get(1) === 1 : moved);
  assert.is(client.mailbox ? client.mailbox.exists : client.mailbox, 0);
  await client.mailboxOpen('Trash');
  await client.messageDelete('1');
  const trash = await client.status('Trash', { messages: true });
  assert.is(trash ? trash.messages : trash, 0);
  await client.logout();
});

test('IDLE receives a new delivery', async () => {
  const client = await f.client();
  await client.mailboxOpen('INBOX');
  const seen = new Promise<number>((resolve) => client.on('exists', (d: { count: number }) => resolve(d.count)));
  void client.idle().catch(() => {}); // resolves only when the IDLE ends
  await new Promise((r) => setTimeout(r, 200));
  await f.deliver(makeMessage({ subject: 'Live' }));
  const count = await Promise.race([
    seen,
    new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no EXISTS')), 3000)),
  ]);
  assert.is(count, 4);
  await client.logout();
});

test.run();
