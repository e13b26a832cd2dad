import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { capUtf8 } from '../../src/api/views/messages.ts';
import { indexMessage } from '../../src/mime/index.ts';
import { BLOB_CHUNK, collapseBlanks, SEARCH_TEXT_KEPT } from '../../src/store/blobs.ts';
import type { Store } from '../../src/store/index.ts';
import { addTestAccount, openTestStore } from '../helpers/store.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const dir = tempDir();
let store: Store;
let inboxId: number;

test.before(async () => {
  store = await openTestStore(dir.path);
  const account = await addTestAccount(store, 'hf@example.test', 'pw-header-fields');
  inboxId = store.folders.byName(account.id, 'INBOX')!.id;
});
test.after(async () => {
  await store.close();
  dir.remove();
});

test('headerFields: the search fields without body text, read from their own record', async () => {
  const inbox = store.folders.get(inboxId)!;
  const [message] = await store.appendMany(inbox, [
    {
      raw: makeMessage({ subject: 'Quarterly numbers', from: 'Carol <carol@example.org>', body: 'long body text\r\n' }),
    },
  ]);
  const [full] = await store.blobs.searchFields([message!.blob]);
  const [fields] = await store.blobs.headerFields([message!.blob]);
  const { text, headers, attachments, ...expected } = full!;
  assert.ok(text.includes('long body text'));
  assert.equal(fields, expected);
  assert.not.ok('text' in fields!);
});

test('headerFields: blobs stored before the record existed fall back to the full search fields', async () => {
  const inbox = store.folders.get(inboxId)!;
  const messages = await store.appendMany(inbox, [
    { raw: makeMessage({ subject: 'old one' }) },
    { raw: makeMessage({ subject: 'new one' }) },
  ]);
  await store.kv.engine.batch([{ type: 'del', key: `bh/${messages[0]!.blob}` }]); // as a store written by an earlier version has it
  const fields = await store.blobs.headerFields(messages.map((m) => m.blob));
  assert.equal(
    fields.map((f) => f.subject),
    ['old one', 'new one'],
  );
});

test('headerFields: the record goes with the blob', async () => {
  const inbox = store.folders.get(inboxId)!;
  const [message] = await store.appendMany(inbox, [{ raw: makeMessage({ subject: 'short-lived' }) }]);
  assert.ok(await store.kv.getBytes(`bh/${message!.blob}`));
  await store.messages.expunge(inboxId, [message!.uid]);
  assert.is(await store.kv.getBytes(`bh/${message!.blob}`), undefined);
});

test('search fields: a long body text is stored once (in the blob), and read back whole', async () => {
  const inbox = store.folders.get(inboxId)!;
  const html = (body: string) =>
    Buffer.from(
      'From: a@example.org\r\nSubject: html\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n' +
        '--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
        `${Buffer.from(`<p>${body}</p>`).toString('base64')}\r\n--b--\r\n`,
    );
  const raws = [
    makeMessage({ bytes: 100 * 1024 }),
    makeMessage({ bytes: BLOB_CHUNK + 1000 }), // a blob of two chunks
    html('Grüße &amp; <b>Ünïcödé</b> '.repeat(2000)),
    // The cut falls inside a surrogate pair in one of the two.
    makeMessage({ body: '\u{1F600}'.repeat(5000) }),
    makeMessage({ body: `x${'\u{1F600}'.repeat(5000)}` }),
    // Blank at the start (tidy keeps em spaces): no preview in a prefix, so kept whole.
    makeMessage({ body: `a${' \u2003'.repeat(3000)} ${'word '.repeat(2000)}` }),
    makeMessage({ body: 'short\r\n' }),
  ];
  const messages = await store.appendMany(
    inbox,
    raws.map((raw) => ({ raw })),
  );
  const shas = messages.map((m) => m.blob);
  const full = await store.blobs.searchFields(shas);
  const stored = await store.blobs.summaryFields(shas);
  for (const [i, raw] of raws.entries()) {
    const expected = indexMessage(raw).search;
    assert.equal(full[i], expected, `message ${i}: the whole search fields`);
    const record = (await store.kv.getBytes(`bs/${shas[i]}`))!;
    const text = stored[i]!.text;
    assert.ok(expected.text.startsWith(text), `message ${i}: the stored text is the start of the whole`);
    assert.ok(text.isWellFormed(), `message ${i}: no half surrogate pair`);
    const preview = (t: string) => capUtf8(collapseBlanks(t), 256).text;
    assert.is(preview(text), preview(expected.text), `message ${i}: the same preview`);
    if (i <= 4) assert.ok(record.length < 2 * SEARCH_TEXT_KEPT + 1024, `message ${i}: ${record.length} bytes stored`);
    else assert.is(text, expected.text, `message ${i}: kept whole`);
  }
});

test('search fields: records stored whole by earlier versions read as they are', async () => {
  const inbox = store.folders.get(inboxId)!;
  const raw = makeMessage({ bytes: 20 * 1024 });
  const [message] = await store.appendMany(inbox, [{ raw }]);
  const whole = indexMessage(raw).search;
  await store.kv.engine.batch([{ type: 'put', key: `bs/${message!.blob}`, value: Buffer.from(JSON.stringify(whole)) }]);
  assert.equal(await store.blobs.searchFields([message!.blob]), [whole]);
  assert.equal(await store.blobs.summaryFields([message!.blob]), [whole]);
});

test('messages.range: the messages in a UID interval, in UID order', async () => {
  const inbox = store.folders.get(inboxId)!;
  const added = await store.appendMany(
    inbox,
    [1, 2, 3, 4].map((n) => ({ raw: makeMessage({ subject: `r${n}` }) })),
  );
  await store.messages.expunge(inboxId, [added[1]!.uid]);
  const found = await store.messages.range(inboxId, added[0]!.uid, added[2]!.uid);
  assert.equal(
    found.map((m) => m.uid),
    [added[0]!.uid, added[2]!.uid],
  );
});

test.run();
