import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Store, StoreError, Tx } from '../../src/store/index.ts';
import { eventSeq } from '../../src/store/events.ts';
import { BLOB_CHUNK, Blobs, blobHash } from '../../src/store/blobs.ts';
import { indexMessage } from '../../src/mime/index.ts';
import { hashPassword, verifyPassword } from '../../src/security/passwords.ts';
import { hashApiKey, mintApiKey } from '../../src/security/api-keys.ts';
import { openTestStore, TEST_ENGINE, testDatabase } from '../helpers/store.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';
import { rejects } from '../helpers/assert.ts';

const dir = tempDir();
let store: Store;
let teamId: string;

test.before(async () => {
  store = await openTestStore(dir.path);
  teamId = (await store.teams.create('acme')).id;
});
test.after(async () => {
  await store.close();
  dir.remove();
});

// zt/ is no prefix of the keyspace (§4.1).
test('engine: the suite runs on the engine it names; ranges in byte order, batches atomic, snapshots frozen', async () => {
  const engine = store.kv.engine;
  assert.is(engine.kind, TEST_ENGINE);
  // One server per store: LevelDB's lock file, PostgreSQL's advisory lock (held exclusively: a server that
  // would share the database with others is refused too, §4.8).
  await rejects(() => openTestStore(dir.path));
  if (TEST_ENGINE === 'postgres') {
    const postgresUrl = await testDatabase(dir.path);
    await rejects(() => Store.open(dir.path, { postgresUrl, shared: true }));
  }
  // 'é' is two bytes above every ASCII byte: ordering is by UTF-8 bytes, as LevelDB compares keys.
  const names = [
    'zt/a',
    'zt/b',
    'zt/z',
    'zt/é',
    ...Array.from({ length: 1200 }, (_, i) => `zt/p/${String(i).padStart(5, '0')}`),
  ];
  await engine.batch([
    ...names.map((key) => ({ type: 'put' as const, key, value: Buffer.from(key) })),
    { type: 'put', key: 'zt/gone', value: Buffer.from('x') },
    { type: 'del', key: 'zt/gone' }, // the last op on a key wins
  ]);
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const range = { gte: 'zt/', lt: 'zt/\xff' };
  assert.equal(await store.kv.keys(range), sorted);
  assert.equal(await store.kv.keys({ ...range, reverse: true, limit: 2 }), ['zt/é', 'zt/z']);
  assert.equal(await store.kv.keys({ gt: 'zt/a', lte: 'zt/z' }), sorted.slice(1, -1));
  const iterated: string[] = [];
  for await (const [key, value] of store.kv.iterate({ ...range, reverse: true })) {
    assert.is(value.toString(), key);
    iterated.push(key);
  }
  assert.equal(iterated, [...sorted].reverse(), 'paged iteration past one page, in reverse');
  const limited: string[] = [];
  for await (const [key] of store.kv.iterate({ gt: 'zt/p/00100', limit: 700 })) limited.push(key);
  assert.equal(limited, sorted.filter((k) => k > 'zt/p/00100').slice(0, 700));
  assert.equal(await store.kv.getManyBytes(['zt/z', 'zt/gone', 'zt/a']), [
    Buffer.from('zt/z'),
    undefined,
    Buffer.from('zt/a'),
  ]);

  const snapshot = store.kv.snapshot();
  await engine.batch([
    { type: 'put', key: 'zt/a', value: Buffer.from('changed') },
    { type: 'del', key: 'zt/b' },
  ]);
  assert.equal(await snapshot.getBytes('zt/a'), Buffer.from('zt/a'), 'a snapshot does not see later commits');
  assert.ok(await snapshot.getBytes('zt/b'));
  assert.is(await store.kv.getBytes('zt/b'), undefined);
  await snapshot.close();
  await engine.batch(names.map((key) => ({ type: 'del' as const, key })));
  assert.equal(await store.kv.keys(range), []);
});

test('teams: create, get, list', async () => {
  const team = await store.teams.get(teamId);
  assert.is(team?.name, 'acme');
  assert.is(team?.limits.maxApiKeys, 100);
  assert.ok((await store.teams.list()).some((t) => t.id === teamId));
});

test('domains: create is unique, listed per team, lookup is case-insensitive', async () => {
  await store.domains.create(teamId, 'Example.TEST.');
  assert.is((await store.domains.get('example.test'))?.teamId, teamId);
  assert.is((await store.domains.get('EXAMPLE.test'))?.name, 'example.test');
  try {
    await store.domains.create(teamId, 'example.test');
    assert.unreachable('duplicate domain accepted');
  } catch (err) {
    assert.instance(err, StoreError);
    assert.is((err as StoreError).code, 'exists');
  }
  const other = await store.teams.create('other');
  assert.equal((await store.domains.listForTeam(other.id)).length, 0);
  assert.equal(
    (await store.domains.listForTeam(teamId)).map((d) => d.name),
    ['example.test'],
  );
});

test('accounts: create with default folders, unique address, password check', async () => {
  const account = await store.accounts.create({
    teamId,
    address: 'Bob@Example.test',
    passwordHash: await hashPassword('s3cret pass'),
  });
  assert.is(account.address, 'bob@example.test');
  assert.equal(
    store.folders
      .list(account.id)
      .map((f) => [f.name, f.specialUse])
      .sort(),
    [
      ['Archive', '\\Archive'],
      ['Drafts', '\\Drafts'],
      ['INBOX', null],
      ['Junk', '\\Junk'],
      ['Sent', '\\Sent'],
      ['Trash', '\\Trash'],
    ],
  );
  assert.is((await store.accounts.byAddress('BOB@example.test'))?.id, account.id);
  assert.ok(await verifyPassword('s3cret pass', account.passwordHash));
  assert.not.ok(await verifyPassword('wrong', account.passwordHash));
  await rejects(() => store.accounts.create({ teamId, address: 'bob@example.test' }), 'exists');
  assert.is((await store.accounts.listForTeam(teamId)).length, 1);
});

test('addresses: alias and forward routes', async () => {
  const tx = new Tx();
  store.addresses.put(tx, 'Team@example.test', {
    kind: 'alias',
    targets: ['bob@example.test', 'carol@example.org'],
    teamId,
  });
  await store.kv.commit(tx);
  assert.equal(await store.addresses.get('team@EXAMPLE.test'), {
    kind: 'alias',
    targets: ['bob@example.test', 'carol@example.org'],
    teamId,
  });
  assert.is(await store.addresses.get('nobody@example.test'), undefined);
});

test('folders: INBOX is case-insensitive, create/rename/delete, uidvalidity never repeats', async () => {
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  assert.is(store.folders.byName(account.id, 'inbox')?.name, 'INBOX');
  const projects = await store.createFolder(account.id, 'Projects');
  await rejects(() => store.createFolder(account.id, 'Projects'), 'exists');
  const tx = new Tx();
  store.folders.rename(tx, projects, 'Work/Projects');
  await store.kv.commit(tx);
  assert.is(store.folders.byName(account.id, 'Projects'), undefined);
  assert.is(store.folders.byName(account.id, 'Work/Projects')?.id, projects.id);
  await store.deleteFolder(projects);
  const again = await store.createFolder(account.id, 'Work/Projects');
  assert.ok(again.uidValidity > projects.uidValidity, 'a recreated folder gets a new UIDVALIDITY');
  assert.ok(again.id !== projects.id);
});

test('messages: deliver, read back byte for byte, flags, modseq, changes', async () => {
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const raw = makeMessage({ subject: 'first' });
  const { delivered, events } = await store.deliver(raw, [{ folder: inbox }], {
    internalDate: Date.UTC(2026, 0, 2, 3, 4, 5),
    events: (d) => [{ type: 'message.received', teamId, accountId: account.id, data: { uid: d[0]!.message.uid } }],
  });
  const message = delivered[0]!.message;
  assert.is(message.uid, 1);
  assert.is(message.internalDate, Date.UTC(2026, 0, 2, 3, 4, 5));
  assert.ok((await store.read(message)).equals(raw));
  assert.ok((await store.read(message, 6, 11)).equals(raw.subarray(6, 11)));
  assert.is(inbox.exists, 1);
  assert.is(inbox.unseen, 1);
  assert.is(inbox.size, raw.length);
  assert.is(events[0]!.type, 'message.received');
  assert.equal(events[0]!.data, { uid: 1 });

  const structure = await store.blobs.structure(message.blob);
  assert.is(structure.size, raw.length);
  const [search] = await store.blobs.searchFields([message.blob]);
  assert.is(search!.subject, 'first');

  const before = inbox.highestModSeq;
  const update = await store.messages.updateFlags(inbox.id, [1], 'add', ['\\Seen', '$Label1']);
  assert.is(update.updated.length, 1);
  assert.is(update.updated[0]!.modseq, before + 1);
  assert.is(inbox.unseen, 0);
  const noop = await store.messages.updateFlags(inbox.id, [1], 'add', ['\\seen']);
  assert.is(noop.updated.length, 0, 'flags compare case-insensitively');
  const stale = await store.messages.updateFlags(inbox.id, [1], 'remove', ['$Label1'], before);
  assert.equal(stale.conflicts, [1], 'UNCHANGEDSINCE refuses a message changed after it');
  assert.equal((await store.messages.get(inbox.id, 1))!.flags, ['\\Seen', '$Label1']);

  const changes = await store.messages.changesSince(inbox.id, 0);
  assert.equal(
    changes.map((c) => [c.kind, c.uids]),
    [
      ['add', [1]],
      ['flags', [1]],
    ],
  );
});

test('blobs: deduplicated across folders and refcounted; the last expunge deletes them', async () => {
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const archive = store.folders.byName(account.id, 'Archive')!;
  const raw = makeMessage({ subject: 'shared' });
  const sha = blobHash(raw);
  const { delivered } = await store.deliver(raw, [{ folder: inbox }, { folder: archive }]);
  assert.is(await store.kv.get<number>(`br/${sha}`), 2);
  const copied = await store.messages.copy(inbox.id, [delivered[0]!.message.uid], archive.id);
  assert.is(copied.to.length, 1);
  assert.is(await store.kv.get<number>(`br/${sha}`), 3);
  await store.messages.expunge(inbox.id, [delivered[0]!.message.uid]);
  await store.messages.expunge(archive.id, [delivered[1]!.message.uid]);
  assert.is(await store.kv.get<number>(`br/${sha}`), 1);
  assert.ok((await store.kv.getBytes(`b/${sha}/0000`)) !== undefined);
  await store.messages.expunge(archive.id, copied.to);
  assert.is(await store.kv.get<number>(`br/${sha}`), undefined);
  assert.is(await store.kv.getBytes(`b/${sha}/0000`), undefined, 'blob deleted with its last reference');
  assert.is(await store.kv.getBytes(`bi/${sha}`), undefined);
  const expunges = (await store.messages.changesSince(archive.id, 0)).filter((c) => c.kind === 'expunge');
  assert.is(expunges.length, 2);
});

test('blobs: an APPEND of content whose last copy is expunged while it waits still finds the blob loaded', async () => {
  // imaptest stress found this: APPEND loaded the blob's count, an EXPUNGE of the last copy then
  // dropped it from memory, and the APPEND failed with "used before Blobs.load" (SERVERBUG).
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const raw = makeMessage({ subject: 'appended again' });
  const sha = blobHash(raw);
  const [first] = await store.appendMany(inbox, [{ raw }]);
  assert.is(await store.blobs.load(sha), 1, 'the APPEND of the second copy has loaded the count');
  await store.messages.expunge(inbox.id, [first!.uid]);
  assert.is(store.blobs.refCount(sha), 0, 'still loaded, at 0');
  const [second] = await store.appendMany(inbox, [{ raw }]);
  assert.equal(await store.read(second!), raw, 'stored again, whole');
  assert.is(await store.kv.get<number>(`br/${sha}`), 1);
});

test('blobs: zero counts of freed blobs stay in memory only up to the bound, and only once durable', async () => {
  const blobs = new Blobs(store.kv, 3); // the store's database, a bound small enough to pass
  const commit = async (build: (tx: Tx) => void) => {
    const tx = new Tx();
    build(tx);
    await store.kv.commit(tx);
  };
  const raws = Array.from({ length: 8 }, (_, i) => makeMessage({ subject: `freed ${i}` }));
  const shas = raws.map(blobHash);
  for (const [i, raw] of raws.entries()) {
    await blobs.load(shas[i]!);
    await commit((tx) => blobs.addRef(tx, shas[i]!, { raw, index: indexMessage(raw) }));
    await commit((tx) => blobs.release(tx, shas[i]!, raw.length));
  }
  assert.is(blobs.countsHeld, 3, 'the three freed last, not one entry per blob ever freed');
  assert.throws(() => blobs.refCount(shas[0]!), /before Blobs.load/, 'the oldest is gone from memory');
  assert.is(await blobs.load(shas[0]!), 0, 'and reads 0 from the disk, as memory said');
  await commit((tx) => blobs.addRef(tx, shas[0]!, { raw: raws[0]!, index: indexMessage(raws[0]!) }));
  assert.ok((await blobs.read(shas[0]!, raws[0]!.length)).equals(raws[0]!), 'stored again, whole');

  // Freed, referenced again and freed again, each batch still on its way: not dropped until the last is durable.
  const raw = makeMessage({ subject: 'in flight' });
  const sha = blobHash(raw);
  await blobs.load(sha);
  await commit((tx) => blobs.addRef(tx, sha, { raw, index: indexMessage(raw) }));
  const free1 = new Tx();
  blobs.release(free1, sha, raw.length);
  const again = new Tx();
  blobs.addRef(again, sha, { raw, index: indexMessage(raw) });
  const free2 = new Tx();
  blobs.release(free2, sha, raw.length);
  const pending = [store.kv.commit(free1), store.kv.commit(again)];
  await Promise.all(pending);
  for (const other of raws.slice(1, 5)) await blobs.load(blobHash(other)); // would push it out if it counted as durable
  assert.is(blobs.refCount(sha), 0, 'kept while the batch that frees it again is not durable');
  await store.kv.commit(free2);
  assert.is(await store.kv.get<number>(`br/${sha}`), undefined);
});

test('blobs: a message larger than a chunk is split and ranges across chunks read correctly', async () => {
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const raw = makeMessage({ bytes: BLOB_CHUNK * 2 + 12345 });
  const { delivered } = await store.deliver(raw, [{ folder: inbox }]);
  const message = delivered[0]!.message;
  assert.ok((await store.read(message)).equals(raw));
  const start = BLOB_CHUNK - 10;
  assert.ok((await store.read(message, start, start + 20)).equals(raw.subarray(start, start + 20)));
  assert.ok(
    (await store.read(message, 2 * BLOB_CHUNK + 5, 2 * BLOB_CHUNK + 100)).equals(
      raw.subarray(2 * BLOB_CHUNK + 5, 2 * BLOB_CHUNK + 100),
    ),
  );
});

test('messages: move is one batch (gone from source, present in target)', async () => {
  const account = (await store.accounts.byAddress('bob@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const trash = store.folders.byName(account.id, 'Trash')!;
  const { delivered } = await store.deliver(makeMessage({ subject: 'move me' }), [{ folder: inbox }]);
  const uid = delivered[0]!.message.uid;
  const seenChanges: string[] = [];
  const listener = (c: { folderId: number; kind: string }) =>
    seenChanges.push(`${c.folderId === inbox.id ? 'inbox' : 'trash'}:${c.kind}`);
  store.notifier.on('change', listener);
  const moved = await store.messages.copy(inbox.id, [uid], trash.id, true);
  store.notifier.off('change', listener);
  assert.is(await store.messages.get(inbox.id, uid), undefined);
  assert.ok(await store.messages.get(trash.id, moved.to[0]!));
  assert.equal(seenChanges.sort(), ['inbox:expunge', 'trash:add']);
});

test('quota: a delivery over quota is refused and nothing is written', async () => {
  const account = await store.accounts.create({ teamId, address: 'small@example.test', quotaBytes: 10_000 });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  await store.deliver(makeMessage({ bytes: 6000 }), [{ folder: inbox, quotaBytes: account.quotaBytes }]);
  try {
    await store.deliver(makeMessage({ bytes: 6000 }), [{ folder: inbox, quotaBytes: account.quotaBytes }]);
    assert.unreachable('over-quota delivery accepted');
  } catch (err) {
    assert.is((err as StoreError).code, 'quota');
  }
  assert.is(inbox.exists, 1);
  assert.is((await store.messages.list(inbox.id)).length, 1);
});

test('concurrency: 100 parallel deliveries into one folder get 100 distinct, increasing UIDs', async () => {
  const account = await store.accounts.create({ teamId, address: 'busy@example.test' });
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      store.deliver(makeMessage({ subject: `parallel ${i}` }), [{ folder: inbox }]),
    ),
  );
  const uids = results.map((r) => r.delivered[0]!.message.uid);
  assert.equal(
    [...uids].sort((a, b) => a - b),
    Array.from({ length: 100 }, (_, i) => i + 1),
    '100 distinct UIDs, 1 to 100',
  );
  const stored = await store.messages.list(inbox.id);
  assert.is(stored.length, 100);
  assert.equal(
    stored.map((m) => m.uid),
    [...uids].sort((a, b) => a - b),
  );
  for (let i = 1; i < stored.length; i++)
    assert.ok(stored[i]!.modseq > stored[i - 1]!.modseq, 'a later UID has a later MODSEQ');
  const modseqs = stored.map((m) => m.modseq);
  assert.equal(new Set(modseqs).size, 100);
  assert.is(inbox.uidNext, 101);
  assert.is(inbox.exists, 100);
  assert.ok(store.kv.committer.stats.batches < store.kv.committer.stats.writes, 'concurrent writes shared fsyncs');
});

test('concurrency: parallel flag updates on one message lose nothing', async () => {
  const account = (await store.accounts.byAddress('busy@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.messages.updateFlags(inbox.id, [1], 'add', [`$k${i}`])));
  assert.is((await store.messages.get(inbox.id, 1))!.flags.length, 20);
});

test('events: ordered ids, per-team and per-account listing, prune', async () => {
  const account = (await store.accounts.byAddress('busy@example.test'))!;
  const a = await store.emit({ type: 'test', teamId, accountId: account.id, data: { n: 1 } });
  const b = await store.emit({ type: 'test', teamId, data: { n: 2 } });
  assert.ok(a.id < b.id, 'event ids sort in order');
  assert.is(eventSeq(b.id), b.seq);
  const forAccount = await store.events.list({ accountId: account.id, afterSeq: a.seq - 1 });
  assert.equal(
    forAccount.map((e) => e.id),
    [a.id],
  );
  const forTeam = await store.events.list({ teamId, afterSeq: a.seq - 1 });
  assert.equal(
    forTeam.map((e) => e.id),
    [a.id, b.id],
  );
  const removed = await store.events.prune(Date.now() + 1);
  assert.ok(removed >= 2);
  assert.is((await store.events.list({})).length, 0);
});

test('api keys: stored by hash only, found by secret, rotated (the old key stays until revoked), revoked', async () => {
  const minted = mintApiKey('root');
  assert.match(minted.secret, /^wm_root_[A-Za-z0-9]{32}$/);
  const key = {
    id: 'key_test',
    teamId,
    type: 'root' as const,
    name: 'ci',
    prefix: minted.prefix,
    permissions: ['*'],
    accountId: null,
    domain: null,
    createdAt: Date.now(),
    lastUsedAt: null,
    revokedAt: null,
    expiresAt: null,
  };
  await store.apiKeys.create(key, minted.hash);
  const raw: string[] = [];
  for await (const [k, v] of store.kv.iterate()) raw.push(k + v.toString());
  assert.not.ok(
    raw.some((entry) => entry.includes(minted.secret)),
    'the secret itself is never stored',
  );
  assert.is((await store.apiKeys.bySecretHash(hashApiKey(minted.secret)))?.id, 'key_test');
  const rotated = mintApiKey('root');
  const successor = { ...key, id: 'key_next', prefix: rotated.prefix, rotatedFrom: key.id };
  await store.apiKeys.rotate(key, successor, rotated.hash, false);
  assert.is((await store.apiKeys.bySecretHash(minted.hash))?.id, 'key_test');
  assert.is((await store.apiKeys.bySecretHash(rotated.hash))?.id, 'key_next');
  await store.apiKeys.revoke(key);
  assert.is(await store.apiKeys.bySecretHash(minted.hash), undefined);
  assert.is((await store.apiKeys.bySecretHash(rotated.hash))?.id, 'key_next');
  assert.ok((await store.apiKeys.get('key_test'))?.revokedAt);
  const third = mintApiKey('root');
  await store.apiKeys.rotate(successor, { ...successor, id: 'key_third', rotatedFrom: successor.id }, third.hash, true);
  assert.is(await store.apiKeys.bySecretHash(rotated.hash), undefined, 'revoke_old: gone in the same batch');
  assert.is((await store.apiKeys.bySecretHash(third.hash))?.id, 'key_third');
  assert.is((await store.apiKeys.listForTeam(teamId)).length, 3);
});

test('reopen: counters and folders come back as they were', async () => {
  const account = (await store.accounts.byAddress('busy@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  const snapshot = { ...inbox };
  await store.close();
  store = await openTestStore(dir.path);
  const reopened = store.folders.byName(account.id, 'INBOX')!;
  assert.equal(reopened, snapshot);
  const { delivered } = await store.deliver(makeMessage(), [{ folder: reopened }]);
  assert.is(delivered[0]!.message.uid, snapshot.uidNext);
});

test('accounts: remove deletes folders, messages and blobs', async () => {
  const account = (await store.accounts.byAddress('busy@example.test'))!;
  await store.accounts.remove(account);
  assert.is(await store.accounts.get(account.id), undefined);
  assert.is(store.folders.list(account.id).length, 0);
  assert.is(await store.addresses.get('busy@example.test'), undefined);
});

test.run();
