// An APPEND that announces a literal near APPENDLIMIT and then sends nothing cost the server the whole
// announced size at once (50 MiB per connection, 50 connections per address: 2.5 GB). Memory must
// follow the bytes that actually arrive. Server and clients run in this process: the growth of
// Buffer memory (arrayBuffers) is what the server allocated for them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

const MiB = 1024 * 1024;
const CONNECTIONS = 10;
const ANNOUNCED = 40 * MiB;
let f: ImapFixture;

test.before(async () => {
  f = await startImap();
});
test.after(async () => {
  await f.close();
});

test('ten APPENDs announcing 40 MiB each and sending nothing hold no such memory; a real APPEND still works', async () => {
  const clients: RawClient[] = [];
  const before = process.memoryUsage().arrayBuffers;
  try {
    for (let i = 0; i < CONNECTIONS; i++) {
      const c = await RawClient.connect(f.port);
      clients.push(c);
      assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
      c.write(`a APPEND INBOX {${ANNOUNCED}}\r\n`);
      await c.until(/^\+ /m);
      c.write('Subject: only the start\r\n');
    }
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(
      grown < 16 * MiB,
      `Buffer memory grew by ${(grown / MiB).toFixed(1)} MiB for ${CONNECTIONS} idle literals`,
    );
  } finally {
    for (const c of clients) c.close();
  }
  const c = await RawClient.connect(f.port);
  assert.match(await c.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
  const raw = makeMessage({ subject: 'whole' });
  c.write(`a APPEND INBOX {${raw.length}}\r\n`);
  await c.until(/^\+ /m);
  assert.match(await c.command('a', Buffer.concat([raw, Buffer.from('\r\n')])), /^a OK/m);
  assert.match(await c.command('s', 'STATUS INBOX (MESSAGES)'), /MESSAGES 1\)/);
  c.close();
});

test.run();
