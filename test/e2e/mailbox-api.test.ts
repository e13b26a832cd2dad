// The mailbox API against the same store an IMAP server serves: a flag set over the API shows in an
// IMAP FETCH, a move made over IMAP shows in the API's listing; keys reach only their own mailbox.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Account } from '../../src/store/index.ts';
import type { ApiFixture } from '../helpers/api.ts';
import { imapCount, startMailboxFixture, type MailboxFixture } from '../helpers/mailbox-api.ts';

let api: ApiFixture;
let fixture: MailboxFixture;
let alice: Account;
let bob: Account;
let aliceKey: string;
let bobKey: string;

test.before(async () => {
  fixture = await startMailboxFixture();
  ({ api, alice, bob, aliceKey, bobKey } = fixture);
  for (const n of [1, 2, 3]) await fixture.deliver(alice, { subject: `alice ${n}`, body: `Body number ${n}.\r\n` });
  await fixture.deliver(bob, { subject: 'bob private' });
});
test.after(() => fixture.close());

const imapClient = () => fixture.imapClient();
const folderId = async (key: string, name: string) =>
  (await api.call('GET', '/mailbox/folders', { key })).body.data.find((f: any) => f.name === name).id as string;

test('me, folders and the message list (newest first, paged)', async () => {
  const me = await api.call('GET', '/mailbox/me', { key: aliceKey });
  assert.is(me.status, 200);
  assert.is(me.body.data.email, 'alice@wren.test');
  assert.is(me.body.data.id, `mbx_${alice.id}`);
  const folders = (await api.call('GET', '/mailbox/folders', { key: aliceKey })).body.data;
  assert.equal(folders.map((f: any) => f.name).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
  assert.is(folders.find((f: any) => f.name === 'INBOX').total, 3);
  const page1 = await api.call('GET', '/mailbox/messages?limit=2', { key: aliceKey });
  assert.equal(
    page1.body.data.map((m: any) => m.subject),
    ['alice 3', 'alice 2'],
  );
  assert.equal(page1.body.data[0].from, [{ name: 'Carol', email: 'carol@sender.test' }]);
  const page2 = await api.call('GET', `/mailbox/messages?limit=2&cursor=${page1.body.pagination.next_cursor}`, {
    key: aliceKey,
  });
  assert.equal(
    page2.body.data.map((m: any) => m.subject),
    ['alice 1'],
  );
  assert.is(page2.body.pagination.has_more, false);
  const one = await api.call('GET', `/mailbox/messages/${page2.body.data[0].id}`, { key: aliceKey });
  assert.match(one.body.data.body.text, /Body number 1\./);
  const raw = await api.call('GET', `/mailbox/messages/${page2.body.data[0].id}/raw`, { key: aliceKey });
  assert.match(raw.headers.get('content-type')!, /^message\/rfc822/);
  assert.match(raw.text, /^From: Carol <carol@sender.test>\r\n/);
});

test('a flag set over the API shows in an IMAP FETCH; one set over IMAP shows in the API', async () => {
  const [newest] = (await api.call('GET', '/mailbox/messages?limit=1', { key: aliceKey })).body.data;
  const patched = await api.call('PATCH', `/mailbox/messages/${newest.id}`, {
    key: aliceKey,
    body: { seen: true, flagged: true, keywords: { $Important: true } },
  });
  assert.is(patched.status, 200, patched.text);
  assert.ok(patched.body.data.seen && patched.body.data.flagged);
  const client = await imapClient();
  try {
    await client.mailboxOpen('INBOX');
    const fetched = await client.fetchOne(String(newest.uid), { flags: true }, { uid: true });
    assert.ok(
      fetched && fetched.flags!.has('\\Flagged') && fetched.flags!.has('\\Seen') && fetched.flags!.has('$Important'),
      JSON.stringify([...(fetched ? fetched.flags! : [])]),
    );
    await client.messageFlagsRemove(String(newest.uid), ['\\Seen'], { uid: true });
  } finally {
    await client.logout();
  }
  const after = await api.call('GET', `/mailbox/messages/${newest.id}`, { key: aliceKey });
  assert.is(after.body.data.seen, false);
  assert.ok(
    (await api.call('GET', '/mailbox/messages?is_unread=true', { key: aliceKey })).body.data.some(
      (m: any) => m.id === newest.id,
    ),
  );
});

test('a message moved over IMAP shows in the API listing of its new folder; API moves and deletes show in IMAP', async () => {
  const client = await imapClient();
  try {
    await client.mailboxOpen('INBOX');
    const [oldest] = (await api.call('GET', '/mailbox/messages?sort_direction=asc&limit=1', { key: aliceKey })).body
      .data;
    await client.messageMove(String(oldest.uid), 'Archive', { uid: true });
    const archive = await folderId(aliceKey, 'Archive');
    const listed = (await api.call('GET', `/mailbox/messages?folder_id=${archive}`, { key: aliceKey })).body.data;
    assert.equal(
      listed.map((m: any) => m.subject),
      ['alice 1'],
    );
    assert.is(
      (await api.call('GET', `/mailbox/messages/${oldest.id}`, { key: aliceKey })).status,
      404,
      'the old id is gone',
    );

    const moved = await api.call('PATCH', `/mailbox/messages/${listed[0].id}`, {
      key: aliceKey,
      body: { folder_id: await folderId(aliceKey, 'Junk') },
    });
    assert.is(moved.body.data.folder, 'Junk');
    assert.is(await imapCount(client, 'Junk'), 1);

    const deleted = await api.call('DELETE', `/mailbox/messages/${moved.body.data.id}`, { key: aliceKey });
    assert.is(deleted.body.data.permanent, false);
    assert.is(await imapCount(client, 'Trash'), 1);
    const gone = await api.call('DELETE', `/mailbox/messages/${deleted.body.data.trash_id}`, { key: aliceKey });
    assert.is(gone.body.data.permanent, true, 'deleting from Trash removes it');
    assert.is(await imapCount(client, 'Trash'), 0);
  } finally {
    await client.logout();
  }
});

test('a mailbox key of mailbox A cannot read mailbox B', async () => {
  const [bobs] = (await api.call('GET', '/mailbox/messages', { key: bobKey })).body.data;
  assert.is(bobs.subject, 'bob private');
  assert.is((await api.call('GET', `/mailbox/messages/${bobs.id}`, { key: aliceKey })).status, 404);
  assert.is((await api.call('GET', `/mailbox/messages/${bobs.id}/raw`, { key: aliceKey })).status, 404);
  assert.is(
    (await api.call('PATCH', `/mailbox/messages/${bobs.id}`, { key: aliceKey, body: { seen: true } })).status,
    404,
  );
  assert.is((await api.call('DELETE', `/mailbox/messages/${bobs.id}`, { key: aliceKey })).status, 404);
  assert.is((await api.call('GET', `/mailbox/messages?mailbox_id=mbx_${bob.id}`, { key: aliceKey })).status, 403);
  const bobInbox = await folderId(bobKey, 'INBOX');
  assert.is((await api.call('GET', `/mailbox/messages?folder_id=${bobInbox}`, { key: aliceKey })).status, 404);
  // A root key names the mailbox; without it the request is incomplete.
  assert.is((await api.call('GET', '/mailbox/messages')).status, 400);
  assert.is((await api.call('GET', `/mailbox/messages?mailbox_id=mbx_${bob.id}`)).body.data[0].subject, 'bob private');
  const other = await api.newTeam('other');
  assert.is((await api.call('GET', `/mailbox/me?mailbox_id=mbx_${bob.id}`, { key: other.key })).status, 404);
});

test.run();
