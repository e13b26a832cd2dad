// Reading DATA with indexOf (fastDataStream, src/smtp/server.ts) must do exactly what smtp-server's own
// parser does (RFC 5321 §4.5.2 dot-unstuffing, the "." line that ends DATA, what follows it): every
// session here goes through both, whole, cut in two at every offset, cut in three, and byte by byte,
// and the commands, message bytes and byte counts they report must be the same.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { type DataParser, fastDataStream } from '../../src/smtp/server.ts';

interface Parser extends DataParser {
  oncommand(line: Buffer, callback?: () => void): void;
  startDataMode(maxBytes: number): import('node:stream').PassThrough & { byteLength: number };
  continue(): void;
  write(chunk: Buffer, callback: (err?: Error | null) => void): boolean;
  end(callback: () => void): void;
}

/** What a server sees of `chunks`: each command line, and each message with its byte count. */
async function session(fast: boolean, chunks: Buffer[]): Promise<string[]> {
  const parser = new SMTPStream() as Parser;
  if (fast) fastDataStream(parser);
  const seen: string[] = [];
  parser.oncommand = (line, callback) => {
    const text = line.toString('latin1');
    seen.push(`command ${JSON.stringify(text)}`);
    if (text === 'DATA') {
      const data = parser.startDataMode(1 << 20);
      const parts: Buffer[] = [];
      data.on('data', (part: Buffer) => parts.push(part));
      data.on('end', () => {
        seen.push(`message ${JSON.stringify(Buffer.concat(parts).toString('latin1'))} ${data.byteLength}`);
        setImmediate(() => parser.continue()); // as smtp-server does once the application has the message
      });
    }
    if (callback) setImmediate(callback); // after the reply, as smtp-server's handlers call it
  };
  for (const chunk of chunks)
    await new Promise<void>((resolve, reject) => parser.write(chunk, (err) => (err ? reject(err) : resolve())));
  await new Promise<void>((resolve) => parser.end(resolve));
  return seen;
}

const sessions = [
  'DATA\r\nhello\r\n.\r\nQUIT\r\n',
  'DATA\r\n.\r\nQUIT\r\n',
  'DATA\r\n..\r\n.\r\nQUIT\r\n',
  'DATA\r\n...\r\n..x\r\n.x\r\n.\r\nNOOP\r\n',
  'DATA\r\na\r\n..\r\n..\r\n.\r\n.\r\n',
  'DATA\r\n.x\r\n.\r\n',
  'DATA\r\nbare\n.\nstill data\r\n.\r\n',
  'DATA\r\ncr\r.\rstill data\r\n\r\n.\r\n',
  'DATA\r\nx\r\n.\r\r\n.\r\nRSET\r\n',
  'DATA\r\nm1\r\n.\r\nDATA\r\nm2\r\n..\r\n.\r\nDATA\r\n.\r\nQUIT\r\n',
  'DATA\r\n\r\n.\r\n',
  'DATA\r\nno end\r\n.',
  `DATA\r\n${Array.from({ length: 40 }, (_, i) => (i % 3 ? `${'.'.repeat(i % 4)}line ${i}` : '.'))
    .join('\r\n')
    .replace(/^\.$/gm, '..')}\r\n.\r\nQUIT\r\n`,
];

test('DATA reads the same as smtp-server reads it, however the input is cut', async () => {
  for (const text of sessions) {
    const raw = Buffer.from(text, 'latin1');
    const cuts: Buffer[][] = [[raw], [...raw].map((b) => Buffer.from([b]))];
    for (let a = 1; a < raw.length; a++) {
      cuts.push([raw.subarray(0, a), raw.subarray(a)]);
      if (raw.length < 60)
        for (let b = a + 1; b < raw.length; b++) cuts.push([raw.subarray(0, a), raw.subarray(a, b), raw.subarray(b)]);
    }
    for (const chunks of cuts) {
      const want = await session(false, chunks);
      assert.equal(await session(true, chunks), want, `${JSON.stringify(text)} cut at ${chunks.map((c) => c.length)}`);
    }
  }
});

test('a 100 KB message with dot-stuffed lines arrives unstuffed and whole', async () => {
  const lines = Array.from({ length: 1300 }, (_, i) => `${i % 7 === 0 ? '.' : ''}${i % 10}${'X'.repeat(78)}`);
  const body = `${lines.join('\r\n')}\r\n`;
  const stuffed = Buffer.from(`DATA\r\n${body.replace(/^\./gm, '..')}.\r\nQUIT\r\n`, 'latin1');
  const chunks: Buffer[] = [];
  for (let at = 0; at < stuffed.length; at += 65536) chunks.push(stuffed.subarray(at, at + 65536));
  const seen = await session(true, chunks);
  assert.equal(seen, ['command "DATA"', `message ${JSON.stringify(body)} ${body.length}`, 'command "QUIT"']);
  assert.equal(await session(false, chunks), seen);
});

test.run();
