// ENVELOPE and BODYSTRUCTURE formatted once, when the content is stored (Blobs.fetchItems), over the
// in-repo MIME fixtures: byte for byte what FETCH formatted from the stored structure before the
// record existed, so FETCH replies do not change; the record lives and dies with its blob.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bodyStructureToImap, envelopeToImap, indexMessage } from '../../src/mime/index.ts';
import { fetchItemsOf } from '../../src/store/blobs.ts';
import type { Store } from '../../src/store/index.ts';
import { MIME_FIXTURES } from '../helpers/fixtures.ts';
import { loadMessages } from '../helpers/mime-check.ts';
import { addTestAccount, openTestStore } from '../helpers/store.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const dir = tempDir();
let store: Store;
let inboxId: number;
let accountId: string;

test.before(async () => {
  store = await openTestStore(dir.path);
  const account = await addTestAccount(store, 'fi@example.test', 'pw-fetch-items');
  accountId = account.id;
  inboxId = store.folders.byName(account.id, 'INBOX')!.id;
});
test.after(async () => {
  await store.close();
  dir.remove();
});

test('every fixture message: the stored ENVELOPE and BODYSTRUCTURE are those formatted from its stored structure', async () => {
  const { samples } = loadMessages(MIME_FIXTURES);
  const inbox = store.folders.get(inboxId)!;
  const stored = await store.appendMany(
    inbox,
    samples.map((s) => ({ raw: s.raw })),
  );
  const blobs = stored.map((m) => m.blob);
  const items = await store.blobs.fetchItems(blobs);
  // What FETCH formats without the record: from the structure as read back from the store.
  const structures = await store.blobs.structures(blobs);
  let nonAscii = 0;
  samples.forEach((sample, i) => {
    const expected = {
      envelope: envelopeToImap(structures[i]!.envelope),
      bodyStructure: bodyStructureToImap(structures[i]!.root, true),
    };
    assert.equal(items[i], expected, sample.name);
    assert.equal(fetchItemsOf(indexMessage(sample.raw)), expected, `${sample.name}, indexed again`);
    if (/[^\x00-\x7f]/.test(expected.envelope + expected.bodyStructure)) nonAscii++;
  });
  assert.ok(samples.length >= 280, `${samples.length} messages`);
  assert.ok(nonAscii > 0, 'some fixture has non-ASCII text in its ENVELOPE or BODYSTRUCTURE');
});

test('the record goes with the blob: kept while a copy holds it, deleted with the last reference', async () => {
  const inbox = store.folders.get(inboxId)!;
  const [message] = await store.appendMany(inbox, [{ raw: makeMessage({ subject: 'copied then expunged' }) }]);
  const other = await store.createFolder(accountId, 'Copies');
  const key = `be/${message!.blob}`;
  assert.ok(await store.kv.getBytes(key));
  const { to } = await store.messages.copy(inboxId, [message!.uid], other.id);
  await store.messages.expunge(inboxId, [message!.uid]);
  assert.ok(await store.kv.getBytes(key), 'the copy still holds the content');
  assert.equal(await store.blobs.fetchItems([message!.blob]), [
    fetchItemsOf(await store.blobs.structure(message!.blob)),
  ]);
  await store.messages.expunge(other.id, to);
  assert.is(await store.kv.getBytes(key), undefined);
});

test('a blob stored before the record existed has none (FETCH formats its structure)', async () => {
  const inbox = store.folders.get(inboxId)!;
  const [message] = await store.appendMany(inbox, [{ raw: makeMessage({ subject: 'from an older store' }) }]);
  await store.kv.engine.batch([{ type: 'del', key: `be/${message!.blob}` }]); // as an earlier version left it
  assert.equal(await store.blobs.fetchItems([message!.blob]), [undefined]);
});

test.run();
