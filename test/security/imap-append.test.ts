// APPEND's date-time must be a real date (RFC 3501 §9 date-time), \Recent is not a
// flag a client can set (RFC 3501 §2.3.2 and §9: `flag` excludes "\Recent"), and a mailbox's
// keywords are capped: past the cap STORE/APPEND answer NO [LIMIT] (RFC 5530) and PERMANENTFLAGS
// no longer offers \*.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loggedInRaw, RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

const KEYWORD_CAP = 12;
let f: ImapFixture;

test.before(async () => {
  f = await startImap({ limits: { maxKeywordsPerMailbox: KEYWORD_CAP } });
  await f.deliver(makeMessage({ subject: 'one' }));
});
test.after(async () => {
  await f.close();
});

const loggedIn = (): Promise<RawClient> => loggedInRaw(f.port);

const MSG = 'Subject: x\r\n\r\nbody\r\n';
const append = (c: RawClient, args: string) => c.command('a', `APPEND INBOX ${args} {${MSG.length}+}\r\n${MSG}`);

test('impossible date-times are a tagged BAD', async () => {
  const c = await loggedIn();
  for (const date of [
    '32-Jan-2024 10:00:00 +0000', // day 32
    '30-Feb-2024 10:00:00 +0000', // no 30 February
    '29-Feb-2023 10:00:00 +0000', // not a leap year
    '31-Apr-2024 10:00:00 +0000',
    ' 0-Jan-2024 10:00:00 +0000',
    '01-Jan-2024 24:00:00 +0000',
    '01-Jan-2024 10:60:00 +0000',
    '01-Jan-2024 10:00:61 +0000',
    '01-Jan-2024 10:00:00 -9999', // zone hours and minutes out of range
    '01-Jan-2024 10:00:00 +0060',
    '01-Jan-2024 10:00:00 +1500',
  ]) {
    assert.match(await append(c, `"${date}"`), /^a BAD [^\r\n]*date/im, date);
  }
  for (const date of ['29-Feb-2024 23:59:59 +1400', ' 1-Jan-2024 00:00:00 -1200', '31-Dec-1999 12:30:00 +0530']) {
    assert.match(await append(c, `"${date}"`), /^a OK \[APPENDUID/m, date);
  }
  const selected = await c.command('s', 'SELECT INBOX');
  const count = Number(/^\* (\d+) EXISTS/m.exec(selected)![1]);
  assert.match(
    await c.command('f', `FETCH ${count} INTERNALDATE`),
    /INTERNALDATE "31-Dec-1999 07:00:00 \+0000"|INTERNALDATE "31-Dec-1999 12:30:00 \+0530"/,
  );
  c.close();
});

test('\\Recent cannot be set by APPEND or STORE (BAD, as Dovecot answers)', async () => {
  const c = await loggedIn();
  assert.match(await append(c, '(\\Seen \\Recent)'), /^a BAD [^\r\n]*\\Recent/m);
  assert.match(await append(c, '(\\RECENT)'), /^a BAD/m);
  assert.match(await c.command('s', 'SELECT INBOX'), /^s OK/m);
  assert.match(await c.command('t', 'STORE 1 +FLAGS (\\Recent)'), /^t BAD [^\r\n]*\\Recent/m);
  assert.match(await c.command('t', 'UID STORE 1:* FLAGS (\\Flagged \\recent)'), /^t BAD/m);
  assert.match(await c.command('t', 'STORE 1 -FLAGS.SILENT \\Recent'), /^t BAD/m);
  assert.match(await c.command('t', 'STORE 1 +FLAGS (\\Flagged)'), /^t OK/m);
  c.close();
});

test('keywords per mailbox are capped: NO [LIMIT], and PERMANENTFLAGS drops \\*', async () => {
  const c = await loggedIn();
  const create = await c.command('c', 'CREATE Tags');
  assert.match(create, /^c OK/m);
  const kw = (from: number, n: number) => Array.from({ length: n }, (_, i) => `kw${from + i}`).join(' ');
  assert.match(
    await c.command('a', `APPEND Tags (${kw(0, KEYWORD_CAP + 1)}) {${MSG.length}+}\r\n${MSG}`),
    /^a NO \[LIMIT\]/m,
  );
  assert.match(await c.command('a', `APPEND Tags (${kw(0, KEYWORD_CAP - 2)}) {${MSG.length}+}\r\n${MSG}`), /^a OK/m);
  assert.match(await c.command('a', `APPEND Tags (\\Seen) {${MSG.length}+}\r\n${MSG}`), /^a OK/m);
  let selected = await c.command('s', 'SELECT Tags');
  assert.match(selected, /PERMANENTFLAGS \([^)]*\\\*\)/);
  // Two more fit; the third new one does not, on any message, by STORE or APPEND.
  assert.match(await c.command('t', `STORE 2 +FLAGS (${kw(KEYWORD_CAP - 2, 2)})`), /^t OK/m);
  assert.match(await c.command('t', `STORE 1:2 +FLAGS (${kw(100, 1)})`), /^t NO \[LIMIT\]/m);
  assert.match(await c.command('t', `STORE 2 FLAGS (\\Seen ${kw(200, 1)})`), /^t NO \[LIMIT\]/m);
  assert.match(await c.command('a', `APPEND Tags (${kw(300, 1)}) {${MSG.length}+}\r\n${MSG}`), /^a NO \[LIMIT\]/m);
  // Keywords the mailbox already has stay usable.
  assert.match(await c.command('t', `STORE 2 +FLAGS (${kw(0, 3)} \\Flagged)`), /^t OK/m);
  assert.match(await c.command('a', `APPEND Tags (${kw(5, 2)}) {${MSG.length}+}\r\n${MSG}`), /^a OK/m);
  selected = await c.command('s', 'SELECT Tags');
  assert.match(selected, /PERMANENTFLAGS \(/);
  assert.not.match(selected, /PERMANENTFLAGS \([^)]*\\\*\)/);
  assert.match(await c.command('f', 'FETCH 2 FLAGS'), new RegExp(`kw${KEYWORD_CAP - 1}`));
  c.close();
});

test('the default cap is 100 keywords per mailbox', async () => {
  const other = await startImap();
  try {
    const c = await RawClient.connect(other.port);
    assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
    const many = Array.from({ length: 101 }, (_, i) => `k${i}`).join(' ');
    assert.match(await c.command('a', `APPEND INBOX (${many}) {${MSG.length}+}\r\n${MSG}`), /^a NO \[LIMIT\]/m);
    c.close();
  } finally {
    await other.close();
  }
});

test.run();
