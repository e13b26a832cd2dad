// The full-text index (issue 17): the searchable text built from real messages (QP, base64,
// charsets, encoded-words, HTML, attachments) and the word index over a store's folders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { indexMessage } from '../../src/mime/index.ts';
import { foldCase, fulltextMatch, fulltextText } from '../../src/mime/fulltext-text.ts';
import { isCandidate, needsText, RUN_MIN, type UidSet } from '../../src/store/fulltext.ts';
import { type Message, Store } from '../../src/store/index.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { MIME_FIXTURES } from '../helpers/fixtures.ts';
import { CountingEngine, openTestStore } from '../helpers/store.ts';
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

test('layout: header section, NUL, body section in UTF-8; a NUL inside is a space; the cap cuts on a character', () => {
  const raw = Buffer.from(
    'Subject: =?UTF-8?B?8J+YgCBIaQ==?=\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\u{1F600}É\0x\r\n',
  );
  const t = fulltextText(raw, indexMessage(raw).root);
  assert.equal(
    t,
    Buffer.from('subject: \u{1F600} hi\ncontent-type: text/plain; charset=utf-8\0\u{1F600}é x\n', 'utf8'),
  );
  // a body of 2-byte characters past the cap: cut before a split character, the section break kept
  const big = Buffer.from(`Subject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${'é'.repeat(600_000)}`);
  const cut = fulltextText(big, indexMessage(big).root);
  assert.ok(cut.length <= 1024 * 1024 && cut.length > 1024 * 1024 - 2, `${cut.length}`);
  assert.is(cut.indexOf(0), cut.lastIndexOf(0));
  assert.not.ok(cut.toString('utf8').includes('\uFFFD'));
});

test('normalization: a header block that never ends (body-only files) is searched, every line', () => {
  const raw = Buffer.from(
    'Subject: re : weekly call\r\nplease come to the meeting at noon\r\nno colon on this line either\r\n',
  );
  const t = fulltextText(raw, indexMessage(raw).root);
  assert.ok(has(t, 'the meeting at noon'));
  assert.ok(has(t, 'no colon on this line'));
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

const FOLDER_HEX = (id: number) => id.toString(16).padStart(8, '0');
/** The folder's full-text keys under `prefix` (fr runs; fq, fu, fx, fp the trigram layouts). */
const keysOf = (prefix: string, folderId: number) =>
  store.kv.keys({ gte: `${prefix}/${FOLDER_HEX(folderId)}/`, lt: `${prefix}/${FOLDER_HEX(folderId)}/\xff` });
/** Every UID the folder's index names for "zeppelin". */
async function postedUids(folderId: number): Promise<UidSet> {
  return (await store.fulltext.candidates(folderId, ['zeppelin']))!.uids;
}
const zeppelins = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({
    raw: makeMessage({ subject: `${tag} ${i}`, body: `the zeppelin ${tag} number ${i}\r\n` }),
  }));
/** Waits (30 s at most) for the background step after delivery to have indexed the folder up to `uid`. */
async function indexedUpTo(folderId: number, uid: number): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if ((await keysOf('fr', folderId)).length && (await store.fulltext.candidates(folderId, ['x']))!.above >= uid)
      return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.unreachable(`folder ${folderId} not indexed up to ${uid} after 30 s`);
}

test('delivery indexes the folder in the background: no search needed, the answers are exact', async () => {
  const folder = await store.createFolder(accountId, 'Delivered');
  const messages = await store.appendMany(
    folder,
    Array.from({ length: RUN_MIN + 10 }, (_, i) => ({
      raw: makeMessage({
        subject: `note ${i}`,
        body: i % 50 === 7 ? `the Zeppelin number ${i}, über alles\r\n` : `plain words ${i}\r\n`,
      }),
    })),
  );
  // Only deliveries ran: the run was written by the step after their commit.
  for (let i = 0; i < 1200 && !(await keysOf('fr', folder.id)).length; i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok((await keysOf('fr', folder.id)).length > 0, 'a run was built after delivery');
  const c = (await store.fulltext.candidates(folder.id, ['zeppelin']))!;
  assert.ok(c.exact, 'a string of word characters is decided by the index');
  assert.is(c.above, messages.at(-1)!.uid, 'the whole folder is covered');
  const expected = messages.filter((_, i) => i % 50 === 7).map((m) => m.uid);
  assert.equal(
    [...c.uids].sort((a, b) => a - b),
    expected,
  );
  // Substrings of words, short strings and non-ASCII ones are exact too.
  assert.equal(
    [...(await store.fulltext.candidates(folder.id, ['EPPEL']))!.uids].sort((a, b) => a - b),
    expected,
  );
  assert.equal(
    [...(await store.fulltext.candidates(folder.id, ['üb']))!.uids].sort((a, b) => a - b),
    expected,
  );
  const note = (await store.fulltext.candidates(folder.id, ['note']))!;
  assert.is(note.uids.size, messages.length, 'a header word, for TEXT');
  assert.is((await store.fulltext.candidates(folder.id, ['note'], true))!.uids.size, 0, 'not for BODY');
  // A string with a separator: narrowed by its words, each message then checked on its text.
  const phrase = (await store.fulltext.candidates(folder.id, ['zeppelin number']))!;
  assert.not.ok(phrase.exact);
  for (const uid of expected) assert.ok(needsText(phrase, uid) && isCandidate(phrase, uid));
  assert.ok(phrase.uids.size < 20, `the words narrow it down (${phrase.uids.size})`);
  assert.is(await store.fulltext.candidates(folder.id, ['@ ']), null, 'no word at all: every message');
});

test('a store from before the index: the first search builds it, old blobs get their text', async () => {
  const folder = store.folders.byName(accountId, 'INBOX')!;
  const messages = await store.appendMany(folder, zeppelins(RUN_MIN + 10, 'old'));
  await indexedUpTo(folder.id, messages.at(-1)!.uid);
  // As a store written before the index has it: no runs, one blob without its text (reopened).
  await store.close();
  store = await openTestStore(dir.path);
  const stale = await keysOf('fr', folder.id);
  await store.kv.engine.batch([...stale, `ft/${messages[57]!.blob}`].map((key) => ({ type: 'del' as const, key })));
  const c = (await store.fulltext.candidates(folder.id, ['Zeppelin']))!;
  assert.is(c.above, messages.at(-1)!.uid, 'the first search builds the folder');
  assert.is(c.uids.size, messages.length);
  assert.ok(await store.kv.getBytes(`ft/${messages[57]!.blob}`), 'the text was stored when the run was built');
});

test('after a restart the runs are read in the background: the first search reads none', async () => {
  const folder = store.folders.byName(accountId, 'INBOX')!;
  const messages = await store.appendMany(folder, zeppelins(RUN_MIN, 'restart'));
  await indexedUpTo(folder.id, messages.at(-1)!.uid);
  await store.close();
  const engine = await CountingEngine.open(dir.path);
  store = await Store.open(dir.path, { engine });
  await store.fulltext.preload();
  assert.ok(engine.families.get('fr'), 'the runs were read at startup');
  const before = engine.families.get('fr');
  const c = (await store.fulltext.candidates(folder.id, ['restart']))!;
  assert.is(c.uids.size, RUN_MIN);
  assert.is(engine.families.get('fr'), before, 'the search found them in memory');
});

test('runs merge as deliveries go on: few runs, every message named once', async () => {
  const folder = await store.createFolder(accountId, 'Merged');
  const rounds: number[][] = [];
  for (const tag of ['alpha', 'bravo', 'charlie', 'delta']) {
    const messages = await store.appendMany(folder, zeppelins(RUN_MIN, tag));
    rounds.push(messages.map((m) => m.uid));
    await indexedUpTo(folder.id, messages.at(-1)!.uid);
  }
  assert.is((await keysOf('fr', folder.id)).length, 1, '4 runs of RUN_MIN merged into one');
  assert.is((await postedUids(folder.id)).size, 4 * RUN_MIN);
  const charlie = (await store.fulltext.candidates(folder.id, ['charlie']))!;
  assert.equal(
    [...charlie.uids].sort((a, b) => a - b),
    rounds[2],
  );
});

test('expunge: a run that lost most of its messages is rewritten, naming only the rest', async () => {
  const folder = await store.createFolder(accountId, 'Expunged');
  const messages = await store.appendMany(folder, zeppelins(RUN_MIN + 4, 'gone'));
  await indexedUpTo(folder.id, messages.at(-1)!.uid);
  assert.is((await postedUids(folder.id)).size, messages.length, 'every message has the word');
  const expunged = messages.filter((_, i) => i % 4 !== 0).map((m) => m.uid);
  await store.messages.expunge(folder.id, expunged);
  await store.fulltext.catchUp(folder.id); // what the step after the expunge's commit runs
  const left = await postedUids(folder.id);
  for (const uid of expunged) assert.not.ok(left.has(uid), `uid ${uid} is no longer in the index`);
  assert.is(left.size, messages.length - expunged.length);
  await store.messages.expunge(folder.id, [...left]);
  await store.fulltext.catchUp(folder.id);
  assert.is((await postedUids(folder.id)).size, 0);
});

test('COPY and MOVE: the target indexes its copies; the source names only what stayed', async () => {
  const source = await store.createFolder(accountId, 'Source');
  const target = await store.createFolder(accountId, 'Target');
  const messages = await store.appendMany(source, zeppelins(RUN_MIN + 4, 'moved'));
  await indexedUpTo(source.id, messages.at(-1)!.uid);
  const uids = messages.map((m) => m.uid);
  await store.messages.copy(source.id, uids.slice(0, 10), target.id);
  const moved = await store.messages.copy(source.id, uids.slice(10), target.id, true);
  await indexedUpTo(target.id, moved.to.at(-1)!);
  await store.fulltext.catchUp(source.id);
  assert.equal([...(await postedUids(source.id))], uids.slice(0, 10));
  const found = await postedUids(target.id);
  assert.is(found.size, messages.length);
  const c = (await store.fulltext.candidates(target.id, [`moved number ${12}`]))!;
  assert.ok(isCandidate(c, moved.to[2]!));
  const view = store.view();
  try {
    const copies = (await view.getMany(target.id, moved.to.slice(0, 3))) as Message[];
    const texts = await view.fulltext(copies);
    texts.forEach((t, i) => assert.ok(has(t, `zeppelin moved number ${i + 10}`), `copy ${i}`));
  } finally {
    await view.close();
  }
});

test('an index in the trigram layout is dropped and built again; answers stay right', async () => {
  const folder = await store.createFolder(accountId, 'Legacy');
  const messages = await store.appendMany(folder, zeppelins(RUN_MIN + 4, 'legacy'));
  await indexedUpTo(folder.id, messages.at(-1)!.uid);
  await store.close();
  // The trigram layout: `fq/` postings, `fu/` texts, `fx/` segments and an `fv/` watermark, no runs.
  const hex = FOLDER_HEX(folder.id);
  const uid = (n: number) => n.toString(16).padStart(8, '0');
  store = await openTestStore(dir.path);
  const runs = await keysOf('fr', folder.id);
  await store.kv.engine.batch([
    ...runs.map((key) => ({ type: 'del' as const, key })),
    { type: 'put', key: `fq/${hex}/0001/${uid(messages[0]!.uid)}`, value: Buffer.from([1]) },
    { type: 'put', key: `fu/${hex}/${uid(messages[0]!.uid)}`, value: Buffer.from('x') },
    { type: 'put', key: `fx/${hex}/${uid(messages[0]!.uid)}`, value: Buffer.from('{}') },
    { type: 'put', key: `fv/${hex}`, value: Buffer.from(String(messages.at(-1)!.uid)) },
  ]);
  await store.close();
  store = await openTestStore(dir.path);
  const c = (await store.fulltext.candidates(folder.id, ['zeppelin']))!;
  assert.is(c.uids.size, messages.length);
  for (const p of ['fq', 'fu', 'fx']) assert.is((await keysOf(p, folder.id)).length, 0, `the old ${p}/ keys are gone`);
  assert.is(await store.kv.getBytes(`fv/${hex}`), undefined, 'and the old watermark');
});

test("removing an account removes its folders' runs", async () => {
  const team = await store.teams.create('gone');
  await store.domains.create(team.id, 'gone.test');
  const account = await store.accounts.create({
    teamId: team.id,
    address: 'bye@gone.test',
    passwordHash: await hashPassword('pw-fulltext'),
  });
  const folder = store.folders.byName(account.id, 'INBOX')!;
  const messages = await store.appendMany(folder, zeppelins(RUN_MIN + 4, 'bye'));
  await indexedUpTo(folder.id, messages.at(-1)!.uid);
  assert.ok((await postedUids(folder.id)).size > 0);
  await store.accounts.remove(account);
  assert.equal(await keysOf('fr', folder.id), [], 'no run left');
});

test.run();
