// More of the mailbox API against the store an IMAP server serves: changes made over IMAP show up in
// /mailbox/changes, batch operations report per id, attachments download decoded with Range, search
// finds by every word and highlights it; keys still reach only their own mailbox.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { capUtf8 } from '../../src/api/views/messages.ts';
import { indexMessage } from '../../src/mime/index.ts';
import { collapseBlanks, SEARCH_TEXT_KEPT } from '../../src/store/blobs.ts';
import type { Account } from '../../src/store/index.ts';
import type { ApiFixture } from '../helpers/api.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { imapCount, startMailboxFixture, type MailboxFixture } from '../helpers/mailbox-api.ts';

let api: ApiFixture;
let fixture: MailboxFixture;
let alice: Account;
let bob: Account;
let aliceKey: string;
let bobKey: string;
const BINARY = Buffer.from(Array.from({ length: 1024 }, (_, i) => (i * 7) % 256));

/** A multipart message with a base64 binary attachment and a quoted-printable CSV one. */
const withAttachments = (subject: string): Buffer =>
  Buffer.from(
    'From: Dana <dana@sender.test>\r\nTo: alice@wren.test\r\n' +
      `Subject: ${subject}\r\nMessage-ID: <att.${Date.now()}@sender.test>\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n' +
      '--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached files.\r\n' +
      '--b1\r\nContent-Type: application/octet-stream; name="data.bin"\r\nContent-Disposition: attachment; filename="data.bin"\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${BINARY.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n` +
      '--b1\r\nContent-Type: text/csv; name="t.csv"\r\nContent-Disposition: attachment; filename="t.csv"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
      'a,b=3Dc\r\n1,caf=C3=A9\r\n' +
      '--b1--\r\n',
  );

test.before(async () => {
  fixture = await startMailboxFixture();
  ({ api, alice, bob, aliceKey, bobKey } = fixture);
  for (const n of [1, 2, 3]) await deliver(alice, { subject: `alice ${n}`, body: `Body number ${n}.\r\n` });
  await deliver(bob, { subject: 'bob private quarterly report' });
});
test.after(() => fixture.close());

const deliver: MailboxFixture['deliver'] = (account, o) => fixture.deliver(account, o);

const imapClient = () => fixture.imapClient();
const inboxList = async (key = aliceKey) =>
  (await api.call('GET', '/mailbox/messages?sort_direction=asc', { key })).body.data as any[];
const changes = async (since: string, extra = '') => {
  const reply = await api.call('GET', `/mailbox/changes?since=${since}${extra}`, { key: aliceKey });
  assert.is(reply.status, 200, reply.text);
  return reply.body.data;
};

test('changes made over IMAP (flag, move, expunge) show in /mailbox/changes; nothing changed, nothing listed', async () => {
  const start = (await api.call('GET', '/mailbox/changes', { key: aliceKey })).body.data.new_state as string;
  const quiet = await changes(start);
  assert.equal(
    [quiet.created, quiet.updated, quiet.destroyed, quiet.has_more, quiet.sync_required],
    [[], [], [], false, false],
  );
  assert.is(quiet.new_state, start);

  const [one, two, three] = await inboxList();
  const client = await imapClient();
  try {
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd(String(one.uid), ['\\Flagged'], { uid: true });
    await client.messageMove(String(two.uid), 'Archive', { uid: true });
    await client.messageDelete(String(three.uid), { uid: true });
  } finally {
    await client.logout();
  }
  const seen = await changes(start);
  assert.equal(seen.updated, [one.id]);
  assert.equal(seen.destroyed.sort(), [two.id, three.id].sort(), 'flagged then expunged shows only as destroyed');
  assert.is(seen.created.length, 1);
  const moved = (await api.call('GET', `/mailbox/messages/${seen.created[0]}`, { key: aliceKey })).body.data;
  assert.is(moved.folder, 'Archive');
  assert.is(moved.subject, 'alice 2');
  assert.is(seen.has_more, false);

  const after = await changes(seen.new_state);
  assert.equal([after.created, after.updated, after.destroyed], [[], [], []]);
  assert.is(after.new_state, seen.new_state);

  // A change over the API shows the same way.
  await api.call('PATCH', `/mailbox/messages/${one.id}`, { key: aliceKey, body: { seen: true } });
  assert.equal((await changes(seen.new_state)).updated, [one.id]);
});

test('changes page with limit and has_more; a bad token is a 400; a deleted folder asks for a full sync', async () => {
  const start = (await api.call('GET', '/mailbox/changes', { key: aliceKey })).body.data.new_state as string;
  for (const n of [4, 5, 6]) await deliver(alice, { subject: `alice ${n}` });
  const collected: string[] = [];
  let state = start;
  for (let i = 0; i < 5; i++) {
    const page = await changes(state, '&limit=1');
    collected.push(...page.created);
    state = page.new_state;
    if (!page.has_more) break;
    assert.is(page.created.length, 1);
  }
  assert.is(collected.length, 3);
  assert.equal((await changes(state)).created, []);
  assert.is((await api.call('GET', '/mailbox/changes?since=bm9wZQ', { key: aliceKey })).status, 400);
  assert.is((await api.call('GET', '/mailbox/changes?since=x&limit=501', { key: aliceKey })).status, 400);

  const folder = await api.store.createFolder(alice.id, 'Scratch');
  const withScratch = (await api.call('GET', '/mailbox/changes', { key: aliceKey })).body.data.new_state as string;
  await api.store.deleteFolder(folder);
  const broken = await changes(withScratch);
  assert.is(broken.sync_required, true);
  assert.is((await changes(broken.new_state)).sync_required, false);
});

test("batch get, update and delete answer per id; other mailboxes' ids are not found", async () => {
  const list = await inboxList();
  const [bobs] = await inboxList(bobKey);
  const got = await api.call('POST', '/mailbox/messages/batch', {
    key: aliceKey,
    body: { action: 'get', ids: [list[0].id, 'msg_nonsense', bobs.id, list[1].id], max_body_chars: 100 },
  });
  assert.is(got.status, 200, got.text);
  const results = got.body.data.results;
  assert.equal(
    results.map((r: any) => r.ok),
    [true, false, false, true],
  );
  assert.is(results[1].error.code, 'not_found');
  assert.is(results[2].error.code, 'not_found');
  assert.is(results[0].message.subject, list[0].subject);
  assert.type(results[0].body.text, 'string');

  const ids = [list[0].id, list[1].id];
  const updated = await api.call('POST', '/mailbox/messages/batch', {
    key: aliceKey,
    body: { action: 'update', ids, flagged: true, keywords: { $Batch: true } },
  });
  assert.is(updated.status, 200, updated.text);
  assert.ok(
    updated.body.data.results.every((r: any) => r.ok && r.message.flagged && r.message.keywords.includes('$Batch')),
  );
  const client = await imapClient();
  try {
    await client.mailboxOpen('INBOX');
    for (const m of list.slice(0, 2)) {
      const fetched = await client.fetchOne(String(m.uid), { flags: true }, { uid: true });
      assert.ok(fetched && fetched.flags!.has('\\Flagged') && fetched.flags!.has('$Batch'));
    }
    const junk = (await api.call('GET', '/mailbox/folders', { key: aliceKey })).body.data.find(
      (f: any) => f.name === 'Junk',
    ).id;
    const moved = (
      await api.call('POST', '/mailbox/messages/batch', {
        key: aliceKey,
        body: { action: 'update', ids: [list[0].id], folder_id: junk },
      })
    ).body.data.results;
    assert.is(moved[0].message.folder, 'Junk');
    assert.is(moved[0].new_id, moved[0].message.id);
    assert.is(await imapCount(client, 'Junk'), 1);

    const deleted = (
      await api.call('POST', '/mailbox/messages/batch', {
        key: aliceKey,
        body: { action: 'delete', ids: [moved[0].new_id, list[1].id, bobs.id] },
      })
    ).body.data.results;
    assert.equal(
      deleted.map((r: any) => r.ok),
      [true, true, false],
    );
    assert.ok(deleted[0].new_id.startsWith('msg_'));
    assert.is(await imapCount(client, 'Trash'), 2);
    const purged = (
      await api.call('POST', '/mailbox/messages/batch', {
        key: aliceKey,
        body: { action: 'delete', ids: [deleted[0].new_id], permanent: true },
      })
    ).body.data.results;
    assert.equal([purged[0].ok, purged[0].new_id], [true, null]);
    assert.is(await imapCount(client, 'Trash'), 1);
  } finally {
    await client.logout();
  }
  assert.is((await inboxList(bobKey)).length, 1, "bob's message untouched");

  const tooMany = Array.from({ length: 101 }, (_, i) => `msg_${String(i).padStart(16, '0')}`);
  assert.is(
    (await api.call('POST', '/mailbox/messages/batch', { key: aliceKey, body: { action: 'get', ids: tooMany } }))
      .status,
    400,
  );
  const readOnly = await api.makeKey(['mailbox.read'], api.teamId, 'mailbox', alice.id);
  assert.is(
    (await api.call('POST', '/mailbox/messages/batch', { key: readOnly, body: { action: 'get', ids } })).status,
    200,
  );
  assert.is(
    (await api.call('POST', '/mailbox/messages/batch', { key: readOnly, body: { action: 'delete', ids } })).status,
    403,
  );
});

test('attachments download decoded, with Range (206) and 416 past the end', async () => {
  await deliver(alice, { subject: 'files', raw: withAttachments('files') });
  const message = (await inboxList()).find((m) => m.subject === 'files');
  assert.equal(
    message.attachments.map((a: any) => a.filename),
    ['data.bin', 't.csv'],
  );
  const url = `${api.base}/mailbox/messages/${message.id}/attachments`;
  const get = (n: number, headers: Record<string, string> = {}) =>
    fetch(`${url}/${n}`, { headers: { authorization: `Bearer ${aliceKey}`, ...headers } });

  const full = await get(0);
  assert.is(full.status, 200);
  assert.is(full.headers.get('content-type'), 'application/octet-stream');
  assert.match(full.headers.get('content-disposition')!, /data\.bin/);
  assert.is(full.headers.get('accept-ranges'), 'bytes');
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(BINARY));

  const part = await get(0, { range: 'bytes=10-19' });
  assert.is(part.status, 206);
  assert.is(part.headers.get('content-range'), 'bytes 10-19/1024');
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(BINARY.subarray(10, 20)));
  const tail = await get(0, { range: 'bytes=-5' });
  assert.is(tail.headers.get('content-range'), 'bytes 1019-1023/1024');
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(BINARY.subarray(1019)));

  const past = await get(0, { range: 'bytes=2000-' });
  assert.is(past.status, 416);
  assert.is(past.headers.get('content-range'), 'bytes */1024');
  await past.arrayBuffer();

  const csv = await get(1);
  assert.match(csv.headers.get('content-type')!, /^text\/csv/);
  assert.is(await csv.text(), 'a,b=c\r\n1,café');
  assert.is((await get(2)).status, 404);
  const bobView = await fetch(`${url}/0`, { headers: { authorization: `Bearer ${bobKey}` } });
  assert.is(bobView.status, 404);
});

test("search finds messages with every word, newest first, with escaped <mark> snippets; only in the key's mailbox", async () => {
  await deliver(alice, {
    subject: 'Quarterly <report> draft',
    body: 'Numbers for the quarterly review are attached & final.\r\n',
  });
  await deliver(alice, { subject: 'Lunch', body: 'About the quarterly report: see you at noon.\r\n' });
  await deliver(alice, { subject: 'quarterly only', body: 'Nothing else here.\r\n' });
  const search = (q: string, extra = '') =>
    api.call('GET', `/mailbox/search?q=${encodeURIComponent(q)}${extra}`, { key: aliceKey });

  const found = await search('quarterly REPORT');
  assert.is(found.status, 200, found.text);
  assert.equal(
    found.body.data.map((m: any) => m.subject),
    ['Lunch', 'Quarterly <report> draft'],
  );
  assert.is(found.body.data[1].snippet.subject, '<mark>Quarterly</mark> &#60;<mark>report</mark>&#62; draft');
  assert.match(found.body.data[0].snippet.preview, /About the <mark>quarterly<\/mark> <mark>report<\/mark>: see you/);
  assert.match(found.body.data[1].snippet.preview, /&#38; final/);

  const paged = await search('quarterly', '&limit=2');
  assert.is(paged.body.data.length, 2);
  assert.is(paged.body.pagination.has_more, true);
  assert.equal((await search('zebra')).body.data, []);
  assert.is((await search('')).status, 400);
  assert.ok(!(await search('private')).body.data.length, "bob's mail is not searched");
});

/** A message in a conversation: its own Message-ID and, for replies, the ones it answers. */
const conversation = (id: string, subject: string, parents: string[] = []): Buffer =>
  Buffer.from(
    `From: Erin <erin@sender.test>\r\nTo: alice@wren.test\r\nSubject: ${subject}\r\nMessage-ID: <${id}>\r\n` +
      (parents.length
        ? `In-Reply-To: <${parents.at(-1)}>\r\nReferences: ${parents.map((p) => `<${p}>`).join(' ')}\r\n`
        : '') +
      'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThread body.\r\n',
  );

test('search matches what IMAP SEARCH TEXT matches: the HTML alternative, every header, not attachments (issue 17)', async () => {
  const html =
    'From: news@example.org\r\nTo: alice@wren.test\r\nSubject: newsletter\r\nX-Campaign: springtide\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n--alt\r\nContent-Type: text/plain\r\n\r\nPlain version.\r\n' +
    '--alt\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Vernissage caf=E9 tonight</p>\r\n--alt--\r\n';
  await deliver(alice, { subject: 'newsletter', raw: Buffer.from(html) });
  await deliver(alice, { subject: 'attachment', raw: withAttachments('files for the vernissage') });
  const search = async (q: string) =>
    (await api.call('GET', `/mailbox/search?q=${encodeURIComponent(q)}`, { key: aliceKey })).body.data.map(
      (m: any) => m.subject,
    );
  assert.equal(await search('vernissage tonight'), ['newsletter'], 'the HTML alternative');
  assert.equal(
    await search('CAFÉ vernissage'),
    ['files for the vernissage', 'newsletter'],
    'QP ISO-8859-1 HTML; QP UTF-8 text/csv',
  );
  assert.equal(await search('springtide'), ['newsletter'], 'a header field the summary does not show');
  assert.equal(await search('vernissage'), ['files for the vernissage', 'newsletter']);
  assert.equal(await search('data.bin vernissage'), ['files for the vernissage'], 'a MIME part header');
});

test('threads link messages by References and In-Reply-To, across folders', async () => {
  await deliver(alice, { subject: 'plan', raw: conversation('root.1@sender.test', 'Plan') });
  await deliver(alice, {
    subject: 'plan',
    raw: conversation('reply.2@sender.test', 'Re: Plan', ['root.1@sender.test']),
  });
  await deliver(alice, {
    subject: 'plan',
    raw: conversation('reply.3@sender.test', 'Re: Re: Plan', ['root.1@sender.test', 'reply.2@sender.test']),
  });
  await deliver(alice, { subject: 'other', raw: conversation('alone.4@sender.test', 'Unrelated') });
  const list = await inboxList();
  const [root, second, third] = ['Plan', 'Re: Plan', 'Re: Re: Plan'].map((s) => list.find((m) => m.subject === s));
  const alone = list.find((m) => m.subject === 'Unrelated');
  const client = await imapClient();
  try {
    await client.mailboxOpen('INBOX');
    await client.messageMove(String(third.uid), 'Archive', { uid: true });
  } finally {
    await client.logout();
  }
  const bySecond = await api.call('GET', `/mailbox/threads/${second.id}`, { key: aliceKey });
  assert.is(bySecond.status, 200, bySecond.text);
  const thread = bySecond.body.data;
  assert.is(thread.subject, 'Plan');
  assert.is(thread.message_ids.length, 3);
  assert.equal(
    thread.messages.map((m: any) => m.folder),
    ['INBOX', 'INBOX', 'Archive'],
  );
  assert.is(thread.message_ids[0], root.id);
  const byId = await api.call('GET', `/mailbox/threads/${thread.id}`, { key: aliceKey });
  assert.equal(byId.body.data.message_ids, thread.message_ids);
  const single = (await api.call('GET', `/mailbox/threads/${alone.id}`, { key: aliceKey })).body.data;
  assert.equal(single.message_ids, [alone.id]);
  assert.is.not(single.id, thread.id);
  assert.is((await api.call('GET', `/mailbox/threads/${thread.id}`, { key: bobKey })).status, 404);
  assert.is((await api.call('GET', '/mailbox/threads/thr_0000000000000000', { key: aliceKey })).status, 404);
});

test('identity: name and signatures kept per mailbox', async () => {
  const before = await api.call('GET', '/mailbox/identity', { key: aliceKey });
  assert.equal(before.body.data, {
    email: 'alice@wren.test',
    name: 'Alice',
    text_signature: null,
    html_signature: null,
  });
  const patched = await api.call('PATCH', '/mailbox/identity', {
    key: aliceKey,
    body: { name: 'Alice W.', text_signature: '-- \nAlice' },
  });
  assert.is(patched.status, 200, patched.text);
  assert.equal((await api.call('GET', '/mailbox/identity', { key: aliceKey })).body.data, {
    email: 'alice@wren.test',
    name: 'Alice W.',
    text_signature: '-- \nAlice',
    html_signature: null,
  });
  const cleared = await api.call('PATCH', '/mailbox/identity', { key: aliceKey, body: { text_signature: null } });
  assert.equal([cleared.body.data.name, cleared.body.data.text_signature], ['Alice W.', null]);
  assert.is(
    (await api.call('PATCH', '/mailbox/identity', { key: aliceKey, body: { html_signature: 'x'.repeat(2048) } }))
      .status,
    400,
  );
  assert.is((await api.call('GET', '/mailbox/identity', { key: bobKey })).body.data.email, 'bob@wren.test');
  assert.is((await api.call('GET', '/mailbox/identity', { key: bobKey })).body.data.text_signature, null);
  const readOnly = await api.makeKey(['mailbox.read'], api.teamId, 'mailbox', alice.id);
  assert.is((await api.call('PATCH', '/mailbox/identity', { key: readOnly, body: { name: 'x' } })).status, 403);
});

test("a long message: the preview and the body text are the whole text's, though the store keeps only its start", async () => {
  const body = Array.from({ length: 1500 }, (_, i) => `Line ${i} of the long report, \u00fcber alles.\r\n`).join('');
  const raw = makeMessage({ from: 'Carol <carol@sender.test>', to: bob.address, subject: 'long report', body });
  await deliver(bob, { subject: 'long report', raw });
  const whole = indexMessage(raw).search.text;
  assert.ok(whole.length > SEARCH_TEXT_KEPT && whole.endsWith('Line 1499 of the long report, über alles.'));
  const listed = ((await api.call('GET', '/mailbox/messages', { key: bobKey })).body.data as any[]).find(
    (m) => m.subject === 'long report',
  );
  assert.is(listed.preview, capUtf8(collapseBlanks(whole), 256).text);
  const reply = await api.call('GET', `/mailbox/messages/${listed.id}?max_body_chars=1000000`, { key: bobKey });
  assert.is(reply.status, 200, reply.text);
  assert.equal(reply.body.data.body, { text: whole, truncated: false });
});

test.run();
