// A client that stops reading in the middle of a large FETCH of small messages (read a batch at a
// time and written beside the response text): the server waits for it, holding about a batch of
// bodies and one flush, never the whole reply.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loggedInRaw, startImap, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

const MESSAGES = 600;
const BYTES = 100 * 1024; // below the size FETCH streams: these go through its batch reads
const MiB = 1024 * 1024;

let f: ImapFixture;

test.before(async () => {
  f = await startImap();
  const raw = makeMessage({ bytes: BYTES });
  for (let i = 0; i < MESSAGES; i++) await f.deliver(raw);
});
test.after(async () => {
  await f.close();
});

test('a paused reader of a 60 MB FETCH BODY.PEEK[] holds the server at a bounded amount of memory', async () => {
  const c = await loggedInRaw(f.port);
  await c.command('s', 'SELECT INBOX');
  const before = process.memoryUsage().arrayBuffers;
  c.socket.pause(); // the server's writes back up once the socket buffers are full
  c.write('f FETCH 1:* BODY.PEEK[]\r\n');
  let held = 0;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    held = Math.max(held, process.memoryUsage().arrayBuffers - before);
  }
  // Two batches of at most 8 MiB (one written, the next read), a 256 KiB flush, and what the
  // kernel took (now garbage): 6 MiB measured; without the wait for drain, 43 MiB within 2 s.
  assert.ok(held < 24 * MiB, `server held ${(held / MiB).toFixed(1)} MiB`);
  // The end is watched on the last bytes only (reading the whole 60 MB string on each chunk would take minutes).
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no tagged reply in 30 s (${c.buffer.length} chars)`)), 30_000);
    let tail = '';
    c.socket.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-200);
      if (!/\r\nf OK[^\r\n]*\r\n$/.test(tail)) return;
      clearTimeout(timer);
      resolve();
    });
  });
  c.socket.resume();
  await done;
  assert.is((c.buffer.match(/^\* \d+ FETCH /gm) ?? []).length, MESSAGES);
  c.close();
});

test.run();
