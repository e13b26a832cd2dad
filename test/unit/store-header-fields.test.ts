import { test } from 'uvu';
import * as assert from 'uvu/assert';
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
