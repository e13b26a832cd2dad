// RETR while an IMAP session expunges the message (the blob is freed): the message that has started
// goes out whole, read from one snapshot; one that is already gone is a -ERR, never a cut-off body.
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startPop3, PASSWORD, USER, type Pop3Fixture } from '../helpers/pop3.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: Pop3Fixture;
test.before(async () => {
  f = await startPop3({ allowPlainAuthWithoutTls: true });
});
test.after(async () => {
  await f.close();
});

test('an expunge in the middle of a streamed RETR leaves the message whole', async () => {
  // Larger than the kernel can buffer between the sockets, so the server is still reading chunks
  // from the store while the reader is paused.
  const raw = makeMessage({ body: 'The quick brown fox jumps over the lazy dog 0123456789.\r\n'.repeat(720_000) }); // about 40 MiB
  const uid = await f.deliver(raw);
  // A plain socket: the 40 MiB reply is counted as it comes, not re-buffered per chunk.
  const socket = connect(f.port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let received = 0;
  let tail = '';
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    received += d.length;
    tail = (tail + d.toString('latin1')).slice(-200);
  });
  const waitFor = async (what: string, check: () => boolean): Promise<void> => {
    for (const deadline = Date.now() + 30_000; !check(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${what}; got ${JSON.stringify(tail)}`);
    }
  };
  const okCount = (): number => (Buffer.concat(chunks).toString('latin1').match(/^\+OK/gm) ?? []).length;
  await waitFor('the greeting', () => okCount() === 1);
  socket.write(`USER ${USER}\r\n`);
  await waitFor('USER', () => okCount() === 2);
  socket.write(`PASS ${PASSWORD}\r\n`);
  await waitFor('PASS', () => okCount() === 3);
  const before = received;
  socket.write('RETR 1\r\n');
  await waitFor('the RETR status', () => received > before + 100);
  socket.pause();
  await new Promise((r) => setTimeout(r, 200));
  await f.store.messages.expunge(f.inbox.id, [uid]); // what an IMAP EXPUNGE does
  assert.is(await f.store.messages.get(f.inbox.id, uid), undefined);
  assert.ok(received - before < raw.length, 'the reader was still in the middle of the message');
  socket.resume();
  await waitFor('the end of the message', () => /\r\n\.\r\n$/.test(tail) || /-ERR[^\r\n]*\r\n$/.test(tail));
  const reply = Buffer.concat(chunks).subarray(before).toString('latin1');
  assert.ok(reply.startsWith(`+OK ${raw.length} octets\r\n`), reply.slice(0, 100));
  const body = reply.slice(reply.indexOf('\r\n') + 2, -'.\r\n'.length);
  assert.is(body.length, raw.length, 'nothing cut off');
  assert.ok(body === raw.toString('latin1'), 'the message, byte for byte (no line starts with a dot)');
  socket.destroy();
});

test.run();
