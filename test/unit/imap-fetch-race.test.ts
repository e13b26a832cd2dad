// FETCH while another session expunges (RFC 2180 4.1): a response that has started is finished from
// one consistent snapshot of the store, a message already gone ends the command with
// NO [EXPUNGEISSUED] (RFC 5530 3), and no error ever leaves an untagged FETCH half-written.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { keys } from '../../src/store/keys.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
});
test.after(async () => {
  await f.close();
});

async function session(): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
  await c.command('s', 'SELECT INBOX');
  return c;
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Removes every message of the inbox, so each test starts from an empty folder. */
async function emptyInbox(): Promise<void> {
  await f.store.messages.expunge(
    f.inbox.id,
    (await f.store.messages.list(f.inbox.id)).map((m) => m.uid),
  );
}

test('a store view keeps reading a message whose blob an expunge freed after the view was taken', async () => {
  await emptyInbox();
  const raw = makeMessage({ bytes: 3 * 1024 * 1024 + 17 }); // four chunks
  const uid = await f.deliver(raw);
  const view = f.store.view();
  try {
    await f.store.messages.expunge(f.inbox.id, [uid]);
    const [message] = await view.getMany(f.inbox.id, [uid]);
    assert.ok(message, 'the view still has the record');
    assert.is(await f.store.messages.get(f.inbox.id, uid), undefined, 'the live store has not');
    await f.store.read(message!).then(
      () => assert.unreachable('the live store freed the blob'),
      (err: Error) => assert.match(err.message, /missing chunks/),
    );
    assert.ok((await view.read(message!)).equals(raw));
    assert.is((await view.structures([message!.blob]))[0]!.envelope.subject, 'Test message');
  } finally {
    await view.close();
  }
});

test('an expunge by another session in the middle of a streamed BODY[] leaves the literal whole', async () => {
  await emptyInbox();
  // Larger than what the kernel can buffer between the two sockets (send + autotuned receive
  // buffers), so while the reader is paused the server is still reading chunks from the store.
  const raw = makeMessage({ body: 'The quick brown fox jumps over the lazy dog 0123456789.\r\n'.repeat(720_000) }); // about 40 MiB
  const uid = await f.deliver(raw);
  const a = await session();
  const b = await session();
  let received = 0;
  let tail = '';
  a.socket.on('data', (d: string) => {
    received += d.length;
    tail = (tail + d).slice(-400);
  });
  a.write('a1 FETCH 1 (UID BODY.PEEK[])\r\n');
  await waitFor('the literal to start', () => a.buffer.includes(`{${raw.length}}\r\n`));
  a.socket.pause();
  await new Promise((r) => setTimeout(r, 200)); // let the server fill the buffers and wait for drain

  assert.match(await b.command('b1', 'STORE 1 +FLAGS.SILENT (\\Deleted)'), /^b1 OK/m);
  assert.match(await b.command('b2', 'EXPUNGE'), /\* 1 EXPUNGE\r\nb2 OK/);
  assert.is(await f.store.messages.get(f.inbox.id, uid), undefined, 'the message and its blob are gone from the store');
  assert.ok(received < raw.length, 'the reader was still in the middle of the literal');

  a.socket.resume();
  await waitFor('the tagged reply', () => a.closed || /\r\na1 (OK|NO|BAD)[^\r\n]*\r\n$/.test(tail));
  const text = a.buffer;
  assert.not.match(text, /SERVERBUG/);
  const start = text.indexOf(`* 1 FETCH (UID ${uid} BODY[] {${raw.length}}\r\n`);
  assert.ok(start >= 0, 'one FETCH response with the whole size');
  const literalAt = text.indexOf('\r\n', start) + 2;
  assert.ok(
    text.slice(literalAt, literalAt + raw.length) === raw.toString('latin1'),
    'the literal is the message, byte for byte',
  );
  assert.is(text.slice(literalAt + raw.length), ')\r\na1 OK FETCH completed\r\n');
  a.buffer = '';
  // The expunge is announced at the next command that may announce it.
  assert.match(await a.command('a2', 'NOOP'), /^\* 1 EXPUNGE\r\na2 OK/m);
  a.close();
  b.close();
});

test('a message expunged before the FETCH but not yet announced: no response for it, NO [EXPUNGEISSUED]', async () => {
  await emptyInbox();
  for (let i = 1; i <= 3; i++) await f.deliver(makeMessage({ subject: `race ${i}` }));
  const [, second] = (await f.store.messages.list(f.inbox.id)).map((m) => m.uid);
  const a = await session();
  await f.store.messages.expunge(f.inbox.id, [second!]); // another session's EXPUNGE; `a` has not been told
  const reply = await a.command('a1', 'FETCH 1:3 (UID ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  assert.match(
    reply,
    /^\* 1 FETCH \(UID \d+ ENVELOPE \(.*"race 1".*\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: race 1\r\n\r\n\)\r\n/m,
  );
  assert.match(reply, /^\* 3 FETCH \(UID \d+ ENVELOPE \(.*"race 3"/m);
  assert.not.match(reply, /^\* 2 FETCH/m);
  assert.match(reply, /^a1 NO \[EXPUNGEISSUED\] /m);
  assert.match(await a.command('a2', 'NOOP'), /^\* 2 EXPUNGE\r\na2 OK/m);
  a.close();
});

test('an error on a later item of a FETCH leaves no half-written response', async () => {
  await emptyInbox();
  await f.deliver(makeMessage({ subject: 'fine' }));
  await f.deliver(
    'From: a@example.org\r\nSubject: odd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\nend\r\n--b--\r\n',
  );
  const a = await session();
  const reply = await a.command('a1', 'FETCH 1:2 (BODY.PEEK[] BINARY.PEEK[2])');
  assert.match(
    reply,
    /^\* 1 FETCH \(BODY\[\] \{\d+\}\r\n[\s\S]*\)\r\na1 NO \[UNKNOWN-CTE\] /m,
    'message 1 whole, then the tagged NO',
  );
  assert.not.match(reply, /^\* 2 FETCH/m, 'nothing of message 2 was written');
  assert.match(await a.command('a2', 'NOOP'), /^a2 OK/m, 'the connection is still in step');
  a.close();
});

test('a record the cached folder list still holds after its blob is gone: no response for it, NO [EXPUNGEISSUED]', async () => {
  // FETCH takes records from the folder's cached list, which follows commits: between an expunge's
  // commit and its callbacks, the list still has a record whose blob is gone. Made here by deleting
  // the record and blob underneath the cache, as that commit would.
  await emptyInbox();
  for (let i = 1; i <= 3; i++) await f.deliver(makeMessage({ subject: `ghost ${i}` }));
  await f.deliver(makeMessage({ subject: 'ghost 4', bytes: 600 * 1024 })); // streamed, not read with its batch
  const a = await session();
  const records = await f.store.messages.list(f.inbox.id); // the list is cached now
  for (const gone of [records[1]!, records[3]!]) {
    const chunks = Math.max(1, Math.ceil(gone.size / (1 << 20)));
    await f.store.kv.engine.batch([
      { type: 'del', key: keys.message(f.inbox.id, gone.uid) },
      { type: 'del', key: keys.blobIndex(gone.blob) },
      ...Array.from({ length: chunks }, (_, n) => ({ type: 'del' as const, key: keys.blobChunk(gone.blob, n) })),
    ]);
  }
  try {
    const reply = await a.command('a1', 'FETCH 1:4 (UID ENVELOPE BODY.PEEK[])');
    assert.match(reply, /^\* 1 FETCH \(UID \d+ ENVELOPE \(.*"ghost 1".*\) BODY\[\] \{\d+\}\r\n/m);
    assert.match(reply, /^\* 3 FETCH \(UID \d+ ENVELOPE \(.*"ghost 3"/m);
    assert.not.match(reply, /^\* [24] FETCH/m);
    assert.not.match(reply, /SERVERBUG/);
    assert.match(reply, /^a1 NO \[EXPUNGEISSUED\] /m);
    assert.match(
      await a.command('a2', 'FETCH 4 (BODY.PEEK[])'),
      /^a2 NO \[EXPUNGEISSUED\] /m,
      'a streamed literal is never started',
    );
    assert.match(await a.command('a3', 'NOOP'), /^a3 OK/m, 'the connection is still in step');
  } finally {
    a.close();
    f.store.messages.forgetCached(); // the list held records the disk has not
  }
});

test.run();
