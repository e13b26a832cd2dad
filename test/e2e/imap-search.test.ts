// SEARCH keys, ESEARCH, SORT and THREAD over the stored search fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loggedInRaw, RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';

let f: ImapFixture;
let c: RawClient;

const msg = (id: string, subject: string, from: string, date: string, refs = '', body = 'body'): Buffer =>
  Buffer.from(
    `From: ${from}\r\nTo: team@wren.test\r\nSubject: ${subject}\r\nDate: ${date}\r\nMessage-ID: <${id}>\r\n` +
      (refs ? `References: ${refs}\r\nIn-Reply-To: ${refs.split(' ').pop()}\r\n` : '') +
      `X-Priority: ${id.startsWith('a') ? 'high' : 'low'}\r\n\r\n${body}\r\n`,
  );

test.before(async () => {
  f = await startImap();
  await f.deliver(msg('a@x', 'Topic', 'Zed <zed@example.org>', 'Mon, 1 Jan 2024 10:00:00 +0000', '', 'the blue whale'));
  await f.deliver(msg('b@x', 'Re: Topic', 'Amy <amy@example.org>', 'Mon, 1 Jan 2024 11:00:00 +0000', '<a@x>'));
  await f.deliver(msg('c@x', 'Other', 'Bob <bob@example.org>', 'Sun, 31 Dec 2023 09:00:00 +0000'), undefined, [
    '\\Seen',
  ]);
  await f.deliver(
    msg('d@x', 'Re: Topic', 'Amy <amy@example.org>', 'Mon, 1 Jan 2024 12:00:00 +0000', '<a@x> <b@x>'),
    undefined,
    ['\\Flagged'],
  );
  await f.deliver(
    msg('e@x', 'Re: Topic', 'Cy <cy@example.org>', 'Mon, 1 Jan 2024 13:00:00 +0000', '<a@x>', 'x'.repeat(3000)),
  );
  c = await RawClient.connect(f.port);
  await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
  await c.command('s', 'SELECT INBOX');
});
test.after(async () => {
  c.close();
  await f.close();
});

const search = async (q: string): Promise<string> =>
  /^\* (?:SEARCH|SORT|THREAD)(.*)\r$/m.exec(await c.command('q', q))![1]!.trim();

test('search keys: text, flags, OR/NOT/lists, sizes, dates, header, sequence and UID sets', async () => {
  assert.is(await search('SEARCH BODY whale'), '1');
  assert.is(await search('SEARCH TEXT WHALE'), '1');
  assert.is(
    await search('SEARCH TEXT high'),
    '1',
    'TEXT covers every header field (X-Priority), not only the indexed ones',
  );
  assert.is(await search('SEARCH TEXT "team@wren.test"'), '1 2 3 4 5');
  assert.is(await search('SEARCH FROM amy'), '2 4');
  assert.is(await search('SEARCH CHARSET UTF-8 SUBJECT "re: topic"'), '2 4 5');
  assert.is(await search('SEARCH OR SEEN FLAGGED'), '3 4');
  assert.is(await search('SEARCH NOT (OR SEEN FLAGGED) 1:4'), '1 2');
  assert.is(await search('SEARCH LARGER 2000'), '5');
  assert.is(await search('SEARCH SENTBEFORE 1-Jan-2024'), '3');
  assert.is(await search('SEARCH SENTON 1-Jan-2024 UNSEEN'), '1 2 4 5');
  assert.is(await search('SEARCH HEADER X-Priority high'), '1');
  assert.is(await search('SEARCH HEADER Message-ID <d@x>'), '4');
  assert.is(await search('UID SEARCH UID 2:* NOT DELETED'), '2 3 4 5');
  assert.is(await search('SEARCH SINCE 1-Jan-2000'), '1 2 3 4 5');
  assert.match(await c.command('q', 'SEARCH CHARSET KOI8-R ALL'), /NO \[BADCHARSET/);
  assert.match(await c.command('q', 'SEARCH BOGUS'), /^q BAD/m);
});

test('ESEARCH return options', async () => {
  assert.match(
    await c.command('q', 'UID SEARCH RETURN (MIN MAX COUNT) FROM amy'),
    /\* ESEARCH \(TAG "q"\) UID MIN 2 MAX 4 COUNT 2/,
  );
  assert.match(await c.command('q', 'SEARCH RETURN () ALL'), /\* ESEARCH \(TAG "q"\) ALL 1:5/);
});

test('SORT by date, from, subject, size, reverse', async () => {
  assert.is(await search('SORT (DATE) UTF-8 ALL'), '3 1 2 4 5');
  assert.is(await search('SORT (FROM) UTF-8 ALL'), '2 4 3 5 1');
  assert.is(await search('SORT (SUBJECT REVERSE DATE) UTF-8 ALL'), '3 5 4 2 1');
  assert.is(await search('SORT (REVERSE SIZE) UTF-8 FROM amy'), '4 2'); // 4 has the longer References
  assert.is(await search('UID SORT (ARRIVAL) UTF-8 ALL'), '1 2 3 4 5');
});

test('THREAD REFERENCES and ORDEREDSUBJECT', async () => {
  assert.is(await search('THREAD REFERENCES UTF-8 ALL'), '(3)(1 (2 4)(5))');
  assert.is(await search('THREAD ORDEREDSUBJECT UTF-8 ALL'), '(3)(1 (2)(4)(5))');
});

test('SAVEDATE (RFC 8514): the save date is when the message came into this folder; a move sets it anew, the internal date stays', async () => {
  const raw = await loggedInRaw(f.port);
  try {
    assert.match(await raw.command('c', 'CAPABILITY'), /^\* CAPABILITY .* SAVEDATE[ \r]/m);
    await raw.command('k', 'CREATE Kept');
    const message = 'Subject: old mail\r\n\r\nfrom 2020\r\n';
    assert.match(
      await raw.command('a', `APPEND Kept "01-Feb-2020 10:00:00 +0000" {${message.length}+}\r\n${message}`),
      /^a OK/m,
    );
    const now = new Date();
    const today = `${now.getUTCDate()}-${now.toUTCString().slice(8, 11)}-${now.getUTCFullYear()}`;
    await raw.command('s', 'SELECT Kept');
    const fetched = await raw.command('f', 'FETCH 1 (SAVEDATE INTERNALDATE)');
    assert.match(fetched, /INTERNALDATE "01-Feb-2020 10:00:00 \+0000"/);
    const saved = /SAVEDATE "([^"]+)"/.exec(fetched)?.[1];
    assert.ok(
      saved && Math.abs(Date.parse(saved.replace(/^(\d+)-(\w+)-(\d+)/, '$2 $1 $3')) - Date.now()) < 60_000,
      saved,
    );
    const keys = async (q: string) => /^\* SEARCH(.*)\r$/m.exec(await raw.command('q', `SEARCH ${q}`))![1]!.trim();
    assert.is(await keys(`SAVEDON ${today}`), '1');
    assert.is(await keys(`SAVEDSINCE ${today}`), '1');
    assert.is(await keys(`SAVEDBEFORE ${today}`), '');
    assert.is(await keys(`SINCE ${today}`), '', 'the internal date is 2020');
    assert.is(await keys('BEFORE 1-Mar-2020 SAVEDATESUPPORTED'), '1');
    assert.match(await raw.command('m', 'MOVE 1 INBOX'), /^m OK/m);
    await raw.command('s', 'SELECT INBOX');
    const moved = await raw.command('f', 'FETCH 6 (SAVEDATE INTERNALDATE)');
    assert.match(moved, /INTERNALDATE "01-Feb-2020 10:00:00 \+0000"/, 'the move keeps the internal date');
    assert.is(await keys(`SAVEDON ${today} BEFORE 1-Mar-2020`), '6', 'and gives the message a save date of today');
    assert.match(await raw.command('b', 'SEARCH SAVEDON 31-Foo-2020'), /^b BAD/m);
  } finally {
    raw.close();
  }
});

test.run();
