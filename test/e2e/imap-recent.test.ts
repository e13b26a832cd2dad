// \Recent for IMAP4rev1 clients: the first read-write session to see a message gets it as \Recent
// (SELECT's RECENT count, FETCH FLAGS, SEARCH RECENT/NEW/OLD), later sessions do not; EXAMINE looks
// without taking; STATUS counts what nobody has seen yet; IMAP4rev2 sessions never see it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
  await f.deliver(makeMessage({ subject: 'one' }));
  await f.deliver(makeMessage({ subject: 'two' }), f.inbox, ['\\Seen']);
});
test.after(async () => {
  await f.close();
});

async function session(): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
  return c;
}

test('first SELECT takes the new messages as \\Recent, the next one sees none', async () => {
  const observer = await session();
  assert.match(
    await observer.command('st', 'STATUS INBOX (MESSAGES RECENT)'),
    /^\* STATUS "?INBOX"? \(MESSAGES 2 RECENT 2\)/m,
  );
  const peek = await session();
  assert.match(await peek.command('e', 'EXAMINE INBOX'), /^\* 2 RECENT/m); // looks without taking
  assert.match(await peek.command('f', 'FETCH 1 FLAGS'), /^\* 1 FETCH \(FLAGS \(\\Recent\)\)/m);

  const a = await session();
  assert.match(await a.command('s', 'SELECT INBOX'), /^\* 2 RECENT/m);
  const fetched = await a.command('f', 'FETCH 1:2 FLAGS');
  assert.match(fetched, /^\* 1 FETCH \(FLAGS \(\\Recent\)\)/m);
  assert.match(fetched, /^\* 2 FETCH \(FLAGS \(\\Seen \\Recent\)\)/m);
  assert.match(await a.command('r', 'SEARCH RECENT'), /^\* SEARCH 1 2\r\n/m);
  assert.match(await a.command('n', 'SEARCH NEW'), /^\* SEARCH 1\r\n/m);
  assert.match(await a.command('o', 'SEARCH OLD'), /^\* SEARCH\r\n/m);
  // STORE cannot set or clear \Recent (BAD: test/security/imap-append.test.ts), and reports it.
  assert.match(await a.command('t', 'STORE 1 +FLAGS (\\Flagged)'), /^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\)\)/m);

  const b = await session();
  assert.match(await b.command('s', 'SELECT INBOX'), /^\* 0 RECENT/m);
  assert.match(await b.command('f', 'FETCH 1 FLAGS'), /^\* 1 FETCH \(FLAGS \(\\Flagged\)\)/m);
  assert.match(await b.command('o', 'SEARCH OLD'), /^\* SEARCH 1 2\r\n/m);
  assert.match(await observer.command('st', 'STATUS INBOX (RECENT)'), /RECENT 0\)/m);

  // A delivery goes to whichever selected session hears of it first.
  await f.deliver(makeMessage({ subject: 'three' }));
  assert.match(await observer.command('st', 'STATUS INBOX (RECENT)'), /RECENT 1\)/m);
  const bNoop = await b.command('n', 'NOOP');
  assert.match(bNoop, /^\* 3 EXISTS\r\n\* 1 RECENT\r\n/m);
  const aNoop = await a.command('n', 'NOOP');
  assert.match(aNoop, /^\* 3 EXISTS\r\n\* 2 RECENT\r\n/m);
  assert.match(await b.command('f', 'FETCH 3 FLAGS'), /^\* 3 FETCH \(FLAGS \(\\Recent\)\)/m);
  assert.match(await a.command('f', 'FETCH 3 FLAGS'), /^\* 3 FETCH \(FLAGS \(\)\)/m);
  assert.match(await observer.command('st', 'STATUS INBOX (RECENT)'), /RECENT 0\)/m);

  // An expunged recent message leaves the count.
  await a.command('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  assert.match(await a.command('x', 'EXPUNGE'), /^\* 1 EXPUNGE/m);
  assert.match(await a.command('r', 'SEARCH RECENT'), /^\* SEARCH 1\r\n/m);
  for (const c of [observer, peek, a, b]) c.close();
});

test('IMAP4rev2 sessions neither see nor take \\Recent', async () => {
  await f.deliver(makeMessage({ subject: 'four' }));
  const rev2 = await session();
  await rev2.command('en', 'ENABLE IMAP4rev2');
  const selected = await rev2.command('s', 'SELECT INBOX');
  assert.not.match(selected, /RECENT/);
  assert.not.match(await rev2.command('f', 'FETCH 1:* FLAGS'), /\\Recent/);
  const rev1 = await session();
  assert.match(await rev1.command('s', 'SELECT INBOX'), /^\* 1 RECENT/m);
  rev2.close();
  rev1.close();
});

test.run();
