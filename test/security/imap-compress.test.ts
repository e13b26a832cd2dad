// A COMPRESS=DEFLATE bomb (about 1 KB on the wire per MiB inflated). The server may
// inflate no more than its parser will hold: the connection gets BYE and closes, the server's
// memory stays bounded (server and attacker run in this process: RSS is sampled while it lasts),
// and the next session works.
import { constants, createDeflateRaw, createInflateRaw } from 'node:zlib';
import { connect, type Socket } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

const MiB = 1024 * 1024;
const BOMB_MIB = 512;
let f: ImapFixture;
let bomb: Buffer;

/** BOMB_MIB MiB of "A" with no line end, raw-deflated (about 0.5 MB). */
async function makeBomb(): Promise<Buffer> {
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (c: Buffer) => out.push(c));
  const block = Buffer.alloc(MiB, 'A');
  for (let i = 0; i < BOMB_MIB; i++) if (!deflate.write(block)) await new Promise((r) => deflate.once('drain', r));
  await new Promise<void>((resolve) => deflate.end(resolve));
  return Buffer.concat(out);
}

test.before(async () => {
  f = await startImap();
  await f.deliver(makeMessage({ subject: 'still here' }));
  bomb = await makeBomb();
});
test.after(async () => {
  await f.close();
});

/** Logs in, turns on COMPRESS=DEFLATE, sends the bomb; resolves with the (inflated) replies once closed. */
async function attack(): Promise<string> {
  const socket: Socket = connect(f.port, '127.0.0.1');
  socket.on('error', () => {});
  let clear = '';
  await new Promise<void>((resolve, reject) => {
    socket.on('data', function onData(d: Buffer) {
      clear += d.toString('latin1');
      if (clear.includes('c OK')) {
        socket.off('data', onData);
        resolve();
      } else if (/^l OK/m.test(clear) && !clear.includes('c COMPRESS')) {
        clear += 'c COMPRESS';
        socket.write('c COMPRESS DEFLATE\r\n');
      } else if (/^[lc] (NO|BAD)/m.test(clear)) reject(new Error(clear));
    });
    socket.write(`l LOGIN ${USER} "${PASSWORD}"\r\n`);
  });
  const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH });
  let replies = '';
  inflate.on('data', (d: Buffer) => (replies += d.toString('latin1')));
  inflate.on('error', () => {});
  socket.pipe(inflate);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  // Sends in small writes, as fast as the server reads them; stops once the server has closed.
  for (let off = 0; off < bomb.length && !socket.destroyed; off += 4096) {
    if (!socket.write(bomb.subarray(off, off + 4096)))
      await new Promise((r) => {
        socket.once('drain', r);
        socket.once('close', r);
      });
  }
  const timeout = setTimeout(() => socket.destroy(), 30_000); // generous: a loaded machine inflates slowly
  await closed;
  clearTimeout(timeout);
  // The inflater works asynchronously: let it finish what arrived before the close (the BYE).
  if (!inflate.writableEnded) inflate.end();
  if (!inflate.readableEnded) {
    await new Promise<void>((resolve) => {
      const done = () => resolve();
      inflate.once('end', done).once('close', done).once('error', done);
      setTimeout(done, 5000);
    });
  }
  return replies;
}

test('a deflate bomb gets BYE and the connection closes, with memory bounded', async () => {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    for (let i = 0; i < 3; i++) {
      const replies = await attack();
      assert.match(replies, /^\* BYE /m, `attack ${i + 1}: ${JSON.stringify(replies.slice(0, 300))}`);
    }
  } finally {
    clearInterval(sampler);
  }
  const grew = (peak - before) / MiB;
  console.log(
    `RSS before ${(before / MiB).toFixed(0)} MiB, peak +${grew.toFixed(1)} MiB over three ${BOMB_MIB} MiB bombs`,
  );
  assert.ok(grew < 64, `RSS grew by ${grew.toFixed(1)} MiB`);
  for (let waited = 0; f.server.connections > 0 && waited < 5000; waited += 50)
    await new Promise((r) => setTimeout(r, 50));
  assert.is(f.server.connections, 0);
});

test('a normal session works afterwards', async () => {
  const client = await f.client();
  const lock = await client.getMailboxLock('INBOX');
  const message = await client.fetchOne('1', { envelope: true });
  assert.is(message ? message.envelope?.subject : message, 'still here');
  lock.release();
  await client.logout();
});

test.run();
