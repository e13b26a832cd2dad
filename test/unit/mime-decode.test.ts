// decodedLines (src/mime/decode.ts): a text part decoded with its line breaks as LF, built from the
// bytes for UTF-8 and unlabelled parts (issue 17), must be exactly the decoded text with CRLF and lone
// CR replaced, whatever the transfer encoding, charset, or invalid bytes next to a CR; the message's
// own bytes are never written, and decodedPart still gives the text with its CRs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import libmimeCharsets from 'libmime/lib/charset.js';
import { decodeCharset, decodedLines, decodedPart, decodeTransfer } from '../../src/mime/decode.ts';
import { indexMessage } from '../../src/mime/index.ts';

const bodies: [string, Buffer][] = [
  ['CRLF lines', Buffer.from('one\r\ntwo\r\n\r\nthree\r\n')],
  ['lone CRs', Buffer.from('a\rb\r\rc\r')],
  ['CR CR LF and LF CR', Buffer.from('a\r\r\nb\n\rc\n')],
  ['LF only', Buffer.from('a\nb\n')],
  ['no line break', Buffer.from('just text')],
  ['CR at the very end', Buffer.from('end\r')],
  ['UTF-8 and a BOM', Buffer.from('\ufeffgrüße\r\n日本\r\n')],
  ['invalid UTF-8 around CRs', Buffer.from([0x61, 0xe2, 0x82, 0x0d, 0x0a, 0xff, 0x0d, 0xc3, 0x0d, 0xa9, 0x0a])],
  ['Latin-1 bytes', Buffer.from('caf\xe9\r\nna\xefve\r', 'latin1')],
];
// UTF-16 has CR and LF bytes inside other characters (U+0D0A is 0A 0D in UTF-16LE): no byte-level change.
const charsets = [undefined, 'utf-8', 'US-ASCII', 'iso-8859-1', 'windows-1252', 'utf-16le'];

function part(body: Buffer, encoding: string, charset: string | undefined): Buffer {
  const encoded =
    encoding === 'base64'
      ? Buffer.from(`${body.toString('base64').replace(/.{76}/g, '$&\r\n')}\r\n`)
      : encoding === 'quoted-printable'
        ? Buffer.from(
            `${[...body].map((b) => (b === 0x3d || b >= 0x7f || b === 0x0d ? `=${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b))).join('')}\r\n`,
            'latin1',
          )
        : body;
  const type = charset === undefined ? 'text/plain' : `text/plain; charset=${charset}`;
  return Buffer.concat([
    Buffer.from(`Subject: t\r\nContent-Type: ${type}\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`),
    encoded,
  ]);
}

test('is the decoded text with CRLF and lone CR as LF, for every encoding and charset', () => {
  let cases = 0;
  for (const [name, body] of bodies) {
    for (const encoding of ['7bit', 'base64', 'quoted-printable']) {
      for (const charset of charsets) {
        const raw = part(body, encoding, charset);
        const copy = Buffer.from(raw);
        const { root } = indexMessage(raw);
        const source = raw.subarray(root.bodyStart, root.end);
        const expected = decodeCharset(decodeTransfer(source, root.encoding), charset).replace(/\r\n?/g, '\n');
        const label = `${name}, ${encoding}, ${charset ?? 'no charset'}`;
        assert.is(decodedLines(raw, root, 1 << 30), expected, label);
        assert.equal(raw, copy, `${label}: the message is not written`);
        // asked after: the text as decoded, its CRs kept
        assert.is(
          decodedPart(raw, root, 1 << 30),
          decodeCharset(decodeTransfer(source, root.encoding), charset),
          label,
        );
        cases++;
      }
    }
  }
  assert.is(cases, bodies.length * 3 * charsets.length);
});

test('a body cut by the cap, and one longer than the reused buffer', () => {
  const big = Buffer.from(`${'line of text\r\n'.repeat(100_000)}lone\rend`);
  const raw = part(big, '7bit', 'utf-8');
  const { root } = indexMessage(raw);
  const source = raw.subarray(root.bodyStart, root.end);
  assert.ok(big.length > 1024 * 1024);
  assert.is(decodedLines(raw, root, 1 << 30), source.toString('utf8').replace(/\r\n?/g, '\n'));
  // a cap that ends between CR and LF: the CR alone is a line break, as decoding the slice would give
  const cut = 'line of text\r'.length;
  assert.is(decodedLines(raw, root, cut), 'line of text\n');
  // the small one after the big one, through the same scratch memory
  const small = part(Buffer.from('a\r\nb'), '7bit', undefined);
  assert.is(decodedLines(small, indexMessage(small).root, 1 << 30), 'a\nb');
});

test('ASCII bytes under a single-byte charset label are decoded without iconv-lite, to the same text', () => {
  const ascii = Buffer.from(Array.from({ length: 128 }, (_, i) => i));
  const labels = [
    'iso-8859-1',
    'ISO-8859-1 ',
    'iso8859-15',
    'iso_8859-2',
    'windows-1252',
    'cp1251',
    'latin1',
    'koi8-r',
  ];
  const decode = libmimeCharsets.decode;
  let calls = 0;
  libmimeCharsets.decode = (...args: Parameters<typeof decode>) => {
    calls++;
    return decode(...args);
  };
  try {
    for (const label of labels) {
      calls = 0;
      assert.is(decodeCharset(ascii, label), decode(ascii, label.trim().toLowerCase()), label);
      assert.is(calls, 0, `${label}: no table decoding`);
    }
    // A byte above 0x7f is the charset's: Windows-1252's 0x80 is the euro sign, KOI8-R's 0xc1 a Cyrillic а.
    assert.is(decodeCharset(Buffer.from([0x41, 0x80]), 'windows-1252'), 'A€');
    assert.is(decodeCharset(Buffer.from([0xc1]), 'koi8-r'), 'а');
    // VISCII puts letters at control codes and ISO-2022-JP reads escapes: both still go to the table decoder.
    calls = 0;
    decodeCharset(Buffer.from('\x1b$B$"\x1b(B', 'latin1'), 'iso-2022-jp');
    decodeCharset(Buffer.from([0x02]), 'viscii');
    assert.is(calls, 2);
  } finally {
    libmimeCharsets.decode = decode;
  }
});

test.run();
