// readMessage's bare CR / bare LF verdict (RFC 5321 §2.3.8, the SMTP smuggling guard) must not depend
// on where the network cut the DATA stream: every message here is fed whole, then split at every
// offset into two chunks, and byte by byte.
import { Readable } from 'node:stream';
import type { SMTPServerDataStream } from 'smtp-server';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMessage } from '../../src/smtp/server.ts';

/** The reference: any LF not after a CR, or any CR not before an LF (a final CR included). */
function hasBareLineEnd(raw: Buffer): boolean {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x0a && raw[i - 1] !== 0x0d) return true;
    if (raw[i] === 0x0d && raw[i + 1] !== 0x0a) return true;
  }
  return false;
}

const read = (chunks: Buffer[]) =>
  readMessage(Readable.from(chunks, { objectMode: false }) as unknown as SMTPServerDataStream, 1 << 20);

const cases = [
  'a: b\r\n\r\nbody\r\n',
  'a: b\r\n\r\nbo\ndy\r\n',
  'a: b\r\n\r\nbo\rdy\r\n',
  '\nstarts with LF\r\n',
  '\rstarts with CR\r\n',
  'ends with CR\r',
  'ends with CRCR\r\r',
  'CR CR LF\r\r\n',
  'LF LF\r\n\n',
  '',
  'x',
  `${'line of text\r\n'.repeat(50)}late bare\n${'more\r\n'.repeat(5)}`,
];

test('bare CR / LF found wherever the stream is cut', async () => {
  for (const text of cases) {
    const raw = Buffer.from(text, 'latin1');
    const want = hasBareLineEnd(raw);
    const whole = await read([raw]);
    assert.is(whole.bareNewline, want, JSON.stringify(text));
    assert.equal(whole.raw, raw);
    for (let cut = 1; cut < raw.length; cut++) {
      const split = await read([raw.subarray(0, cut), raw.subarray(cut)]);
      assert.is(split.bareNewline, want, `${JSON.stringify(text)} cut at ${cut}`);
    }
    const bytes = await read([...raw].map((b) => Buffer.from([b])));
    assert.is(bytes.bareNewline, want, `${JSON.stringify(text)} byte by byte`);
  }
});

test.run();
