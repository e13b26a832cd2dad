// The folder message-list cache never serves a stale list: appends, flag changes, expunges, moves
// and folder deletion show at once, also when they commit while a list is being read from disk.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Store } from '../../src/store/index.ts';
import { MessageListCache } from '../../src/store/message-cache.ts';
import { openTestStore } from '../helpers/store.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const dir = tempDir();
let store: Store;
test.before(async () => {
  store = await openTestStore(dir.path);
});
test.after(async () => {
  await store.close();
  dir.remove();
});

const fromDisk = async (folderId: number) =>
  store.kv.values<{ uid: number; flags: string[] }>({
    gte: `m/${folderId.toString(16).padStart(8, '0')}/`,
    lt: `m/${folderId.toString(16).padStart(8, '0')}/\xff`,
  });
const same = async (folderId: number) => {
  const listed = (await store.messages.list(folderId)).map((m) => [m.uid, [...m.flags].sort()]);
  const disk = (await fromDisk(folderId)).map((m) => [m.uid, [...m.flags].sort()]);
  assert.equal(listed, disk);
};

test('callers listing a folder together share one read from disk and one list', async () => {
  const team = await store.teams.create('t2');
  const account = await store.accounts.create({ teamId: team.id, address: 'together@cache.test' });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  for (let i = 0; i < 3; i++) await store.deliver(makeMessage({ subject: `m${i}` }), [{ folder: inbox }]);
  store.messages.forgetCached();
  const lists = await Promise.all(Array.from({ length: 5 }, () => store.messages.listShared(inbox.id)));
  for (const list of lists.slice(1)) {
    assert.is(list.length, 3);
    assert.is(list, lists[0], 'one list, not a copy each');
  }
  assert.is(await store.messages.listShared(inbox.id), lists[0], 'a later reader shares the cached list too');
  await same(inbox.id);
});

test('a shared list is never changed: each commit after it was handed out changes a copy', async () => {
  const team = await store.teams.create('t4');
  const account = await store.accounts.create({ teamId: team.id, address: 'cow@cache.test' });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const archive = store.folders.byName(account.id, 'Archive')!;
  for (let i = 0; i < 4; i++) await store.deliver(makeMessage({ subject: `m${i}` }), [{ folder: inbox }]);
  const held = await store.messages.listShared(inbox.id);
  const asHeld = held.map((m) => [m.uid, [...m.flags]]);
  await store.deliver(makeMessage({ subject: 'new' }), [{ folder: inbox }]);
  await store.messages.updateFlags(inbox.id, [1], 'add', ['\\Seen']);
  await store.messages.expunge(inbox.id, [2]);
  await store.messages.copy(inbox.id, [3], archive.id, true);
  assert.equal(
    held.map((m) => [m.uid, [...m.flags]]),
    asHeld,
    'the holder still sees the version it was given',
  );
  const now = await store.messages.listShared(inbox.id);
  assert.is.not(now, held);
  assert.equal(
    now.map((m) => m.uid),
    [1, 4, 5],
  );
  await same(inbox.id);
});

test('every change shows in the next list, and callers cannot edit the cache', async () => {
  const team = await store.teams.create('t');
  const account = await store.accounts.create({ teamId: team.id, address: 'c@cache.test' });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const archive = store.folders.byName(account.id, 'Archive')!;
  for (let i = 0; i < 5; i++) await store.deliver(makeMessage({ subject: `m${i}` }), [{ folder: inbox }]);
  await same(inbox.id); // fills the cache
  const listed = await store.messages.list(inbox.id);
  listed[0]!.flags.push('\\Hacked');
  assert.not.ok((await store.messages.list(inbox.id))[0]!.flags.includes('\\Hacked'), 'a returned list is a copy');

  await store.deliver(makeMessage({ subject: 'new' }), [{ folder: inbox }]);
  await same(inbox.id);
  await store.messages.updateFlags(inbox.id, [1, 2], 'add', ['\\Seen']);
  await same(inbox.id);
  await store.messages.expunge(inbox.id, [3]);
  await same(inbox.id);
  await store.messages.copy(inbox.id, [4], archive.id, true);
  await same(inbox.id);
  await same(archive.id);
  assert.equal(
    (await store.messages.list(inbox.id, 5)).map((m) => m.uid),
    [5, 6],
  );
});

test('a list being read while deliveries commit is not kept stale', async () => {
  const team = await store.teams.create('t2');
  const account = await store.accounts.create({ teamId: team.id, address: 'r@cache.test' });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  for (let round = 0; round < 20; round++) {
    const reading = store.messages.list(inbox.id);
    await Promise.all([store.deliver(makeMessage({ subject: `r${round}` }), [{ folder: inbox }]), reading]);
    await same(inbox.id);
  }
  assert.is((await store.messages.list(inbox.id)).length, 20);
});

test('a deleted folder leaves nothing behind', async () => {
  const team = await store.teams.create('t3');
  const account = await store.accounts.create({ teamId: team.id, address: 'd@cache.test' });
  const folder = await store.createFolder(account.id, 'Gone');
  await store.deliver(makeMessage(), [{ folder }]);
  assert.is((await store.messages.list(folder.id)).length, 1);
  await store.deleteFolder(folder);
  assert.is((await store.messages.list(folder.id)).length, 0);
});

test('a list read before a commit landed is not kept (the version guard)', () => {
  const cache = new MessageListCache();
  const msg = (uid: number) => ({ uid, blob: 'x', size: 1, internalDate: 0, flags: [], modseq: uid });
  const version = cache.version(7); // a reader starts its disk read here …
  cache.added(7, msg(2)); // … a delivery commits meanwhile …
  cache.keep(7, version, [msg(1)]); // … and the reader's list (without UID 2) must not be kept
  assert.is(cache.get(7), undefined);
  cache.keep(7, cache.version(7), [msg(1), msg(2)]);
  assert.equal(
    cache.get(7)!.map((m) => m.uid),
    [1, 2],
  );
  cache.added(7, msg(3));
  cache.removed(7, [1]);
  assert.equal(
    cache.get(7)!.map((m) => m.uid),
    [2, 3],
  );
});

test('a list read after a commit landed, kept before its callback ran, holds each UID once', () => {
  const cache = new MessageListCache();
  const msg = (uid: number, flags: string[] = []) => ({ uid, blob: 'x', size: 1, internalDate: 0, flags, modseq: uid });
  // The read saw the delivery of UID 2 (committed) and its later \\Seen; neither callback had run yet.
  cache.keep(7, cache.version(7), [msg(1), msg(2, ['\\Seen'])]);
  cache.added(7, msg(2)); // the delivery's callback …
  cache.changed(7, [msg(2, ['\\Seen'])]); // … and the flag change's, in commit order
  assert.equal(
    cache.get(7)!.map((m) => [m.uid, m.flags]),
    [
      [1, []],
      [2, ['\\Seen']],
    ],
  );
  cache.added(7, msg(3));
  assert.equal(
    cache.get(7)!.map((m) => m.uid),
    [1, 2, 3],
  );
});

test('the cache stays within its message budget, least recently used folders first', () => {
  const cache = new MessageListCache(5);
  const msgs = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ uid: i + 1, blob: 'x', size: 1, internalDate: 0, flags: [], modseq: 1 }));
  cache.keep(1, 0, msgs(3));
  cache.keep(2, 0, msgs(2));
  cache.get(1);
  cache.keep(3, 0, msgs(2));
  assert.ok(cache.get(1) && cache.get(3));
  assert.is(cache.get(2), undefined, 'folder 2 was the least recently used');
});

test.run();
