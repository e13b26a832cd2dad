// SEARCH TEXT/BODY through imapflow with the full-text index (issue 17): the answers Dovecot gives
// ("contains the specified string", RFC 3501 6.4.4: every header block, every text part decoded,
// HTML as its source, not attachments), while messages arrive and after some are expunged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ImapFlow } from 'imapflow';
import { RUN_MIN } from '../../src/store/fulltext.ts';
import { MIME_FIXTURES } from '../helpers/fixtures.ts';
import { loggedInRaw, startImap, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: ImapFixture;
let c: ImapFlow;
const fixture = (path: string) => readFileSync(join(MIME_FIXTURES, path));

/** A multipart/alternative whose HTML part alone has `word` (in an attribute, as real newsletters do). */
const htmlOnly = (word: string) =>
  Buffer.from(
    'From: news@example.org\r\nTo: alice@wren.test\r\nSubject: letter\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n' +
      '--alt\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlain version.\r\n' +
      `--alt\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p title=3D"${word} caf=E9">HTML version.</p>\r\n` +
      '--alt--\r\n',
  );

test.before(async () => {
  f = await startImap();
  await f.deliver(fixture('mailparser/mail.eml')); // 1
  await f.deliver(fixture('mikel-mail/multi_charset/japanese_iso_2022.eml')); // 2
  await f.deliver(fixture('php-mime-mail-parser/m0002')); // 3
  await f.deliver(htmlOnly('budget')); // 4
  await f.deliver('Subject: re : weekly call\r\nplease come to the budget meeting at noon\r\n'); // 5: no blank line, as Enron-Spam files
  c = await f.client();
  await c.mailboxOpen('INBOX');
});
test.after(async () => {
  await f.close();
});

const text = async (s: string) => ((await c.search({ text: s }, { uid: true })) || []).join(' ');
const body = async (s: string) => ((await c.search({ body: s }, { uid: true })) || []).join(' ');

test('TEXT and BODY: decoded parts, HTML source in every alternative, every header line, no attachments', async () => {
  assert.is(await text('budget'), '4 5', 'the HTML alternative and a header block without end');
  assert.is(await body('budget'), '4');
  assert.is(await text('CAFÉ'), '4', 'QP ISO-8859-1 in HTML, case-insensitive');
  assert.is(await text('word-wrap: break-word'), '1', 'HTML markup is searched as Dovecot does');
  assert.is(await text('special characters like š and õ'), '1', 'encoded-words across a folded Subject');
  assert.is(await body('special characters like'), '');
  assert.is(await body('(öäõü)'), '1', 'QP ISO-8859-4 text/plain');
  assert.is(await body('すみません'), '2', 'ISO-2022-JP');
  assert.is(await text('lorem ipsum'), '', 'a base64 application/octet-stream attachment is not text');
  assert.is(await text('filename=favourite.gif'), '1', 'MIME part headers are part of TEXT');
  assert.is(await text('Õ'), '1', 'a 2-byte string scans the stored text');
  assert.is(
    await c
      .search({ or: [{ body: 'budget' }, { text: 'すみません' }] }, { uid: true })
      .then((r) => (r || []).join(' ')),
    '2 4',
  );
  assert.is(
    await c.search({ body: 'budget', not: { text: 'café' } } as never, { uid: true }).then((r) => (r || []).join(' ')),
    '',
  );
});

test('deliveries while searching: every answer is exact for the messages it covers; expunge removes hits', async () => {
  const total = RUN_MIN * 2 + 30; // enough for the searches to build segments meanwhile
  const hasWord = new Map<number, boolean>();
  let delivering = true;
  const deliveries = (async () => {
    for (let i = 0; i < total; i++) {
      const word = i % 7 === 3;
      const uid = await f.deliver(
        makeMessage({ subject: `n${i}`, body: word ? `about the zeppelin ${i}\r\n` : `about nothing ${i}\r\n` }),
      );
      hasWord.set(uid, word);
    }
    delivering = false;
  })();
  const searcher = await f.client();
  await searcher.mailboxOpen('INBOX');
  let rounds = 0;
  while (delivering || rounds === 0) {
    await searcher.noop(); // new messages become visible to the session
    const known = new Set([...hasWord].filter(([, w]) => w).map(([uid]) => uid));
    const found = (await searcher.search({ text: 'Zeppelin' }, { uid: true })) || [];
    for (const uid of found) assert.ok(hasWord.get(uid), `uid ${uid} has no zeppelin`);
    const missing = [...known].filter(
      (uid) => !found.includes(uid) && uid <= (searcher.mailbox as { uidNext: number }).uidNext - 1,
    );
    assert.equal(missing, [], 'every zeppelin the session can see was found');
    rounds++;
  }
  await deliveries;
  await searcher.noop();
  const expected = [...hasWord].filter(([, w]) => w).map(([uid]) => uid);
  assert.equal((await searcher.search({ text: 'zeppelin' }, { uid: true })) || [], expected);
  assert.ok((await f.store.fulltext.candidates(f.inbox.id, ['zeppelin']))!.above >= RUN_MIN, 'segments were built');

  const gone = expected.slice(0, 3);
  await searcher.messageFlagsAdd(gone.join(','), ['\\Deleted'], { uid: true });
  await searcher.mailboxClose(); // CLOSE expunges
  await searcher.mailboxOpen('INBOX');
  assert.equal((await searcher.search({ text: 'zeppelin' }, { uid: true })) || [], expected.slice(3));
  // A copy arrives above every UID the searches so far confirmed: found again, BODY and TEXT alike.
  const copy = await searcher.messageCopy(String(expected[3]), 'INBOX', { uid: true });
  const copyUid = copy ? copy.uidMap?.get(expected[3]!) : undefined;
  assert.ok(copyUid, 'COPYUID');
  await searcher.noop();
  assert.equal((await searcher.search({ text: 'zeppelin' }, { uid: true })) || [], [...expected.slice(3), copyUid]);
  assert.equal((await searcher.search({ body: 'zeppelin' }, { uid: true })) || [], [...expected.slice(3), copyUid]);
  await searcher.logout();
});

test('a string in most of a large folder: SEARCH, UID SEARCH, BODY, ESEARCH ALL, indexed or not yet', async () => {
  const folder = await f.store.createFolder(f.account.id, 'Big');
  // In the body of 8 messages out of 9, and in the subject of every 5th: BODY and TEXT differ.
  const inBody = (i: number) => i % 9 !== 4;
  const inSubject = (i: number) => i % 5 === 0;
  const raw = (i: number) =>
    makeMessage({
      subject: `big ${i}${inSubject(i) ? ' Commonplace' : ''}`,
      body: inBody(i) ? `a common word, number ${i}\r\n` : `nothing here ${i}\r\n`,
    });
  const indexed = 2 * RUN_MIN + 20;
  const stored = await f.store.appendMany(
    folder,
    Array.from({ length: indexed }, (_, i) => ({ raw: raw(i) })),
  );
  await f.store.fulltext.catchUp(folder.id);
  const gone = stored.filter((_, i) => i % 13 === 1).map((m) => m.uid); // sequence numbers stop being UIDs
  await f.store.messages.expunge(folder.id, gone);
  const all = stored.map((m, i) => ({ uid: m.uid, i })).filter((m) => !gone.includes(m.uid));
  for (let i = indexed; i < indexed + 12; i++) all.push({ uid: await f.deliver(raw(i), folder), i }); // not indexed yet
  const candidates = (await f.store.fulltext.candidates(folder.id, ['common']))!;
  assert.ok(candidates.exact && candidates.above < all.at(-1)!.uid, 'the index covers all but the last deliveries');

  const seqs = (hit: (i: number) => boolean) => all.flatMap((m, n) => (hit(m.i) ? [n + 1] : []));
  const uids = (hit: (i: number) => boolean) => all.filter((m) => hit(m.i)).map((m) => m.uid);
  const text = (i: number) => inBody(i) || inSubject(i);
  const ranges = (list: number[]) =>
    list
      .reduce<number[][]>((out, n) => {
        const last = out.at(-1);
        if (last && last[1] === n - 1) last[1] = n;
        else out.push([n, n]);
        return out;
      }, [])
      .map(([a, b]) => (a === b ? `${a}` : `${a}:${b}`))
      .join(',');
  const raw1 = await loggedInRaw(f.port);
  await raw1.command('s', 'SELECT Big');
  const line = async (command: string) => /^\* (?:SEARCH|ESEARCH)(.*)\r$/m.exec(await raw1.command('q', command))![1]!;
  assert.is(await line('SEARCH TEXT common'), ` ${seqs(text).join(' ')}`);
  assert.is(await line('UID SEARCH TEXT common'), ` ${uids(text).join(' ')}`);
  assert.is(await line('UID SEARCH BODY common'), ` ${uids(inBody).join(' ')}`);
  assert.is(await line('UID SEARCH TEXT common UNDELETED'), ` ${uids(text).join(' ')}`, 'tested per message');
  assert.is(await line('UID SEARCH TEXT nowhere'), '');
  assert.is(
    await line('UID SEARCH RETURN (COUNT ALL) TEXT common'),
    ` (TAG "q") UID COUNT ${uids(text).length} ALL ${ranges(uids(text))}`,
  );
  assert.is(await line('SEARCH RETURN (ALL) BODY common'), ` (TAG "q") ALL ${ranges(seqs(inBody))}`);
  raw1.close();
});

test.run();
