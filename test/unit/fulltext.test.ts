// The full-text index (issue 17): the searchable text built from real messages (QP, base64,
// charsets, encoded-words, HTML, attachments) and the trigram postings over a store's folder.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { indexMessage } from '../../src/mime/index.ts';
import { foldCase, fulltextMatch, fulltextText } from '../../src/mime/fulltext-text.ts';
import { buckets, isCandidate, SEGMENT_MIN } from '../../src/store/fulltext.ts';
import type { Message, Store } from '../../src/store/index.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { MIME_FIXTURES } from '../helpers/fixtures.ts';
import { openTestStore } from '../helpers/store.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const textOf = (path: string): Buffer => {
  const raw = readFileSync(join(MIME_FIXTURES, path));
  return fulltextText(raw, indexMessage(raw).root);
};
const has = (text: Buffer, s: string, bodyOnly = false) => fulltextMatch(text, Buffer.from(foldCase(s)), bodyOnly);

test('normalization: QP in ISO-8859-4, encoded-words split over a folded line, HTML source, no image bytes', () => {
  const t = textOf('mailparser/mail.eml');
  // Subject: two ISO-8859-4 encoded-words on two lines decode to one string
  assert.ok(has(t, 'special characters like š and õ'));
  assert.not.ok(has(t, 'special characters like š and õ', true), 'BODY does not look at headers');
  // text/plain, quoted-printable, ISO-8859-4 (=F6=E4=F5=FC), case-insensitive
  assert.ok(has(t, 'SPECIAL CHARACTERS (öäõü)', true));
  // the text/html alternative is searched as its source, as Dovecot does: markup included, QP soft breaks joined
  assert.ok(has(t, 'word-wrap: break-word; -webkit-nbsp-mode', true));
  assert.ok(has(t, 'b) <b>html</b> alternative', true));
  // the base64 GIF is not text: neither its encoding nor its bytes are searched; its MIME header is (TEXT)
  assert.not.ok(has(t, 'R0lGODlhlgAX'));
  assert.not.ok(has(t, 'GIF89a'));
  assert.ok(has(t, 'filename=favourite.gif'));
  assert.not.ok(has(t, 'favourite.gif', true));
});

test('normalization: ISO-2022-JP body and UTF-8 base64 encoded-words', () => {
  const t = textOf('mikel-mail/multi_charset/japanese_iso_2022.eml');
  assert.ok(has(t, 'まみむめも'), 'Subject =?UTF-8?B?...?=');
  assert.ok(has(t, 'to: みける <raasdnil@gmail.com>'), 'To: =?UTF-8?B?...?= <addr>');
  assert.ok(has(t, 'すみません', true), 'body converted from ISO-2022-JP');
  assert.not.ok(has(t, '$B$9$_', true), 'not the undecoded bytes');
});

test('normalization: a base64 application/octet-stream attachment is not searched; the ISO-8859-1 subject is', () => {
  const t = textOf('php-mime-mail-parser/m0002');
  assert.ok(has(t, 'fichier attaché de 3ko'));
  assert.not.ok(has(t, 'lorem ipsum'));
  assert.not.ok(has(t, 'TG9yZW0gaXBzdW0'));
});

test('normalization: a header block that never ends (body-only files) is searched, every line', () => {
  const raw = Buffer.from(
    'Subject: re : weekly call\r\nplease come to the meeting at noon\r\nno colon on this line either\r\n',
  );
  const t = fulltextText(raw, indexMessage(raw).root);
  assert.ok(has(t, 'the meeting at noon'));
  assert.ok(has(t, 'no colon on this line'));
});

test("buckets: every 3-byte window of a string is among its text's buckets", () => {
  const text = Buffer.from(foldCase('Hello Wörld, meeting at noon'));
  const all = new Set(buckets(text));
  for (const s of ['meeting', 'wörld', 'lo w', 'noo'])
    for (const k of buckets(Buffer.from(s))) assert.ok(all.has(k), s);
  assert.equal(buckets(Buffer.from('ab')), []);
});

const dir = tempDir();
let store: Store;
let accountId = '';

test.before(async () => {
  store = await openTestStore(dir.path);
  const team = await store.teams.create('acme');
  await store.domains.create(team.id, 'example.test');
  ({ id: accountId } = await store.accounts.create({
    teamId: team.id,
    address: 'ft@example.test',
    passwordHash: await hashPassword('pw-fulltext'),
  }));
});
test.after(async () => {
  await store.close();
  dir.remove();
});

test('postings: segments name the messages with a string, the tail is always a candidate, old blobs get their text', async () => {
  const folder = store.folders.byName(accountId, 'INBOX')!;
  const uploads = Array.from({ length: SEGMENT_MIN + 10 }, (_, i) => ({
    raw: makeMessage({
      subject: `note ${i}`,
      body: i % 50 === 7 ? `the zeppelin number ${i}\r\n` : `plain words ${i}\r\n`,
    }),
  }));
  const messages = await store.appendMany(folder, uploads);
  // As a store written before the index has it: no postings, no watermark, and one blob without its
  // text (reopened, as after an upgrade).
  await store.close();
  store = await openTestStore(dir.path);
  const stale = await store.kv.keys({ gte: 'fp/', lt: 'fp/\xff' });
  await store.kv.engine.batch(
    [...stale, `fw/${folder.id.toString(16).padStart(8, '0')}`, `ft/${messages[57]!.blob}`].map((key) => ({
      type: 'del' as const,
      key,
    })),
  );
  assert.is(
    (await store.fulltext.candidates(folder.id, ['zeppelin']))!.above,
    messages.at(-1)!.uid,
    'the first search builds the folder',
  );
  const c = (await store.fulltext.candidates(folder.id, ['Zeppelin']))!;
  const expected = messages.filter((_, i) => i % 50 === 7).map((m) => m.uid);
  for (const uid of expected) assert.ok(isCandidate(c, uid), `uid ${uid}`);
  const listed = messages.filter((m) => m.uid <= c.above && isCandidate(c, m.uid)).length;
  assert.ok(listed < 20, `postings narrow the segment down (${listed} of ${c.above})`);
  assert.ok(await store.kv.getBytes(`ft/${messages[57]!.blob}`), 'the text was stored when the segment was built');
  assert.is(await store.fulltext.candidates(folder.id, ['ze']), null, 'under 3 bytes: no postings to use');
});

const FOLDER_HEX = (id: number) => id.toString(16).padStart(8, '0');
/** The folder's full-text keys under `prefix` (fq postings, fu texts, fx segments, fp the old layout). */
const keysOf = (prefix: string, folderId: number) =>
  store.kv.keys({ gte: `${prefix}/${FOLDER_HEX(folderId)}/`, lt: `${prefix}/${FOLDER_HEX(folderId)}/\xff` });
/** Every UID the folder's postings name, whatever the bucket. */
async function postedUids(folderId: number): Promise<Set<number>> {
  const c = (await store.fulltext.candidates(folderId, ['zeppelin']))!;
  return c.uids;
}
const zeppelins = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    raw: makeMessage({ subject: `${tag} ${i}`, body: `the zeppelin ${tag} number ${i}\r\n` }),
  }));

test('expunge: a segment that lost most of its messages is rebuilt, its texts and postings name only the rest', async () => {
  const folder = await store.createFolder(accountId, 'Expunged');
  const messages = await store.appendMany(folder, zeppelins(SEGMENT_MIN + 4, 'gone'));
  const all = (await postedUids(folder.id)).size;
  assert.is(all, messages.length, 'every message has the word');
  assert.is((await keysOf('fu', folder.id)).length, messages.length, 'a text per message the segment covers');
  const expunged = messages.filter((_, i) => i % 4 !== 0).map((m) => m.uid);
  await store.messages.expunge(folder.id, expunged);
  assert.is((await keysOf('fu', folder.id)).length, messages.length - expunged.length, 'texts go with the message');
  const left = await postedUids(folder.id);
  for (const uid of expunged) assert.not.ok(left.has(uid), `uid ${uid} is no longer in the postings`);
  assert.is(left.size, messages.length - expunged.length);
  await store.messages.expunge(folder.id, [...left]);
  assert.is((await postedUids(folder.id)).size, 0);
  assert.is((await keysOf('fq', folder.id)).length, 0, 'an emptied segment leaves no postings');
  assert.is((await keysOf('fx', folder.id)).length, 0);
});

test('COPY and MOVE: the target indexes its copies with texts of its own; the source keeps only what stayed', async () => {
  const source = await store.createFolder(accountId, 'Source');
  const target = await store.createFolder(accountId, 'Target');
  const messages = await store.appendMany(source, zeppelins(SEGMENT_MIN + 4, 'moved'));
  await postedUids(source.id);
  const uids = messages.map((m) => m.uid);
  await store.messages.copy(source.id, uids.slice(0, 10), target.id);
  const moved = await store.messages.copy(source.id, uids.slice(10), target.id, true);
  assert.is((await keysOf('fu', source.id)).length, 10, 'moved messages take no text of theirs along in the source');
  const found = await postedUids(target.id);
  assert.is(found.size, messages.length);
  assert.is((await keysOf('fu', target.id)).length, messages.length);
  const view = store.view();
  try {
    const copies = (await view.getMany(target.id, moved.to.slice(0, 3))) as Message[];
    const texts = await view.fulltext(copies, target.id);
    texts.forEach((t, i) => assert.ok(has(t, `zeppelin moved number ${i + 10}`), `copy ${i}`));
  } finally {
    await view.close();
  }
});

test('an index in the layout before per-folder texts is dropped and built again; answers stay right', async () => {
  const folder = await store.createFolder(accountId, 'Legacy');
  const messages = await store.appendMany(folder, zeppelins(SEGMENT_MIN + 4, 'old'));
  // The old layout: `fp/` postings naming only the first message, a `fw/` watermark over all of them.
  const hex = FOLDER_HEX(folder.id);
  const uid = (n: number) => n.toString(16).padStart(8, '0');
  const legacy = buckets(Buffer.from('zeppelin')).map((k) => ({
    type: 'put' as const,
    key: `fp/${hex}/${k.toString(16).padStart(4, '0')}/${uid(messages[0]!.uid)}`,
    value: Buffer.from([messages[0]!.uid]),
  }));
  legacy.push({ type: 'put', key: `fw/${hex}`, value: Buffer.from(String(messages.at(-1)!.uid)) });
  await store.kv.engine.batch(legacy);
  await store.close();
  store = await openTestStore(dir.path);
  const c = (await store.fulltext.candidates(folder.id, ['zeppelin']))!;
  for (const m of messages) assert.ok(isCandidate(c, m.uid), `uid ${m.uid}`);
  assert.is((await keysOf('fp', folder.id)).length, 0, 'the old postings are gone');
  assert.is(await store.kv.getBytes(`fw/${hex}`), undefined, 'and the old watermark');
  assert.is((await keysOf('fu', folder.id)).length, messages.length);
});

test("removing an account removes its folders' postings and texts", async () => {
  const team = await store.teams.create('gone');
  await store.domains.create(team.id, 'gone.test');
  const account = await store.accounts.create({
    teamId: team.id,
    address: 'bye@gone.test',
    passwordHash: await hashPassword('pw-fulltext'),
  });
  const folder = store.folders.byName(account.id, 'INBOX')!;
  await store.appendMany(folder, zeppelins(SEGMENT_MIN + 4, 'bye'));
  assert.ok((await postedUids(folder.id)).size > 0);
  const held = async () => (await Promise.all(['fp', 'fq', 'fu', 'fx'].map((p) => keysOf(p, folder.id)))).flat();
  assert.ok((await held()).length > 0, 'the folder is indexed');
  await store.accounts.remove(account);
  assert.equal(await held(), [], 'no posting, text or segment key left');
  assert.is(await store.kv.getBytes(`fv/${FOLDER_HEX(folder.id)}`), undefined, 'the watermark');
});

test.run();
