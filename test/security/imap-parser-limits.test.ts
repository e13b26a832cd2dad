// Deeply nested IMAP grammar (SEARCH NOT/OR/parentheses, nested lists in any command)
// must get a tagged BAD naming the nesting limit, never a stack overflow (NO [SERVERBUG]); the
// session and the server go on working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
  await f.deliver(makeMessage({ subject: 'nested' }));
});
test.after(async () => {
  await f.close();
});

async function selected(): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
  assert.match(await c.command('s', 'SELECT INBOX'), /^s OK/m);
  return c;
}

const NESTING_BAD = /^t BAD [^\r\n]*nest/im;

test('SEARCH NOT NOT … ×5000 is a tagged BAD, not a stack overflow', async () => {
  const c = await selected();
  const out = await c.command('t', `SEARCH ${'NOT '.repeat(5000)}ALL`);
  assert.match(out, NESTING_BAD);
  assert.not.match(out, /SERVERBUG/);
  assert.match(await c.command('n', 'SEARCH NOT NOT ALL'), /^\* SEARCH 1\r\n/m);
  c.close();
});

test('SEARCH OR chains and parenthesised groups beyond the limit are BAD', async () => {
  const c = await selected();
  assert.match(await c.command('t', `UID SEARCH ${'OR ALL '.repeat(3000)}ALL`), NESTING_BAD);
  assert.match(await c.command('t', `SEARCH ${'('.repeat(20000)}ALL${')'.repeat(20000)}`), NESTING_BAD);
  assert.match(await c.command('t', `SORT (DATE) UTF-8 ${'NOT '.repeat(5000)}ALL`), NESTING_BAD);
  // A reasonable nesting still works.
  assert.match(
    await c.command('n', `SEARCH ${'('.repeat(20)}NOT ${'OR ALL '.repeat(20)}ALL${')'.repeat(20)}`),
    /^n OK/m,
  );
  c.close();
});

test('nested parenthesised lists in FETCH, STORE, APPEND and LOGIN arguments are BAD', async () => {
  const c = await selected();
  const deep = `${'('.repeat(30000)}${')'.repeat(30000)}`;
  assert.match(await c.command('t', `FETCH 1 ${deep}`), NESTING_BAD);
  assert.match(await c.command('t', `STORE 1 +FLAGS ${deep}`), NESTING_BAD);
  assert.match(await c.command('t', `APPEND INBOX ${deep} {5+}\r\nhello`), NESTING_BAD);
  assert.match(await c.command('t', `ID ${deep}`), NESTING_BAD);
  assert.match(await c.command('n', 'FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])'), /^n OK/m);
  c.close();
});

test('other sessions were unaffected', async () => {
  const client = await f.client();
  const lock = await client.getMailboxLock('INBOX');
  assert.equal(await client.search({ all: true }), [1]);
  lock.release();
  await client.logout();
});

test.run();
