// Two sessions on one folder: changes by one (or by a delivery) reach the other with correct
// sequence numbers, at once in IDLE and at NOOP otherwise; FETCH/STORE/SEARCH do not renumber;
// CONDSTORE/QRESYNC resynchronise after changes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
  for (let i = 1; i <= 5; i++) await f.deliver(makeMessage({ subject: `m${i}` }));
});
test.after(async () => {
  await f.close();
});

async function session(select = 'SELECT INBOX'): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
  await c.command('s', select);
  return c;
}

test('EXPUNGE and delivery reach an idling session with the right numbers', async () => {
  const a = await session();
  const b = await session();
  b.write('i IDLE\r\n');
  await b.until(/^\+ /m);
  b.buffer = '';
  await a.command('a1', 'STORE 2,4 +FLAGS.SILENT (\\Deleted)');
  await b.until(/^\* 4 FETCH \(FLAGS \(\\Deleted\)\)/m);
  assert.match(await a.command('a2', 'EXPUNGE'), /^\* 4 EXPUNGE\r\n\* 2 EXPUNGE/m);
  await b.until(/^\* 2 EXPUNGE/m);
  assert.match(b.buffer, /^\* 4 EXPUNGE\r\n[\s\S]*^\* 2 EXPUNGE/m);
  b.buffer = '';
  await f.deliver(makeMessage({ subject: 'new' }));
  await b.until(/^\* 4 EXISTS/m);
  b.write('DONE\r\n');
  await b.until(/^i OK/m);
  assert.match(await b.command('b1', 'FETCH 4 (UID)'), /^\* 4 FETCH \(UID 6\)/m);
  a.close();
  b.close();
});

test('without IDLE, changes wait for NOOP; FETCH does not announce expunges', async () => {
  const a = await session();
  const b = await session();
  await a.command('a1', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
  await a.command('a2', 'EXPUNGE');
  assert.not.match(b.buffer, /EXPUNGE/);
  const fetched = await b.command('b1', 'FETCH 1:* (UID)');
  assert.not.match(fetched, /^\* \d+ EXPUNGE/m);
  assert.match(fetched, /^\* 2 FETCH \(UID 3\)/m); // still numbered as before
  assert.match(fetched, /^b1 NO \[EXPUNGEISSUED\] /m); // message 1 is gone: RFC 2180 4.1.2
  assert.match(await b.command('b2', 'NOOP'), /^\* 1 EXPUNGE/m);
  assert.match(await b.command('b3', 'FETCH 1 (UID)'), /^\* 1 FETCH \(UID 3\)/m);
  a.close();
  b.close();
});

test('CONDSTORE: MODSEQ, CHANGEDSINCE and UNCHANGEDSINCE with [MODIFIED]', async () => {
  const a = await session('SELECT INBOX (CONDSTORE)');
  const out = await a.command('c1', 'FETCH 1:* (UID MODSEQ)');
  const modseqs = [...out.matchAll(/MODSEQ \((\d+)\)/g)].map((m) => Number(m[1]));
  const top = Math.max(...modseqs);
  await a.command('c2', 'STORE 1 +FLAGS (\\Flagged)');
  const changed = await a.command('c3', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${top})`);
  assert.is([...changed.matchAll(/^\* \d+ FETCH /gm)].length, 1, changed);
  assert.match(changed, /MODSEQ \(\d+\)/);
  const conflict = await a.command('c4', `STORE 1,2 (UNCHANGEDSINCE ${top}) +FLAGS (\\Answered)`);
  assert.match(conflict, /^c4 OK \[MODIFIED 1\]/m);
  a.close();
});

test('QRESYNC: VANISHED (EARLIER) and changed flags on SELECT; VANISHED live', async () => {
  const a = await session();
  await a.command('e', 'ENABLE QRESYNC');
  const sel = await a.command('s2', 'SELECT INBOX');
  const validity = /UIDVALIDITY (\d+)/.exec(sel)![1];
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  const b = await session();
  await b.command('b1', 'UID STORE 5 +FLAGS.SILENT (\\Deleted)');
  await b.command('b2', 'UID EXPUNGE 5');
  await b.command('b3', 'UID STORE 6 +FLAGS (\\Seen)');
  assert.match(await a.command('a1', 'NOOP'), /^\* VANISHED 5/m);
  await a.command('u', 'UNSELECT');
  const resync = await a.command('a2', `SELECT INBOX (QRESYNC (${validity} ${modseq} 1:10))`);
  assert.match(resync, /^\* VANISHED \(EARLIER\) 5/m);
  assert.match(resync, /FETCH \(UID 6 FLAGS \(\\Seen\) MODSEQ/);
  a.close();
  b.close();
});

test('MOVE from one session shows as EXPUNGE in the other and EXISTS in the target', async () => {
  const a = await session();
  const b = await session('SELECT Archive');
  b.write('i IDLE\r\n');
  await b.until(/^\+ /m);
  const moved = await a.command('m1', 'UID MOVE 3 Archive');
  assert.match(moved, /COPYUID \d+ 3 1/);
  assert.match(moved, /^\* 1 EXPUNGE/m);
  await b.until(/^\* 1 EXISTS/m);
  b.write('DONE\r\n');
  await b.until(/^i OK/m);
  a.close();
  b.close();
});

test.run();
