// POP3 framing: dot-stuffing (RETR/TOP) across chunk boundaries, and the bounded line reader.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DotStuffer } from '../../src/pop3/dot-stuff.ts';
import { LineReader, LineTooLong } from '../../src/pop3/lines.ts';

/** Runs the stuffer over `input` cut into pieces of `step` bytes; returns the complete response body. */
function stuff(input: string, bodyLines = Infinity, step = input.length || 1): string {
  const s = new DotStuffer(bodyLines);
  const parts: Buffer[] = [];
  const bytes = Buffer.from(input, 'latin1');
  for (let i = 0; i < bytes.length && !s.done; i += step) parts.push(s.push(bytes.subarray(i, i + step)));
  parts.push(s.end());
  return Buffer.concat(parts).toString('latin1');
}

test('dot-stuffing: leading dots doubled, terminator added', () => {
  assert.is(
    stuff('A: b\r\n\r\n.hidden\r\n..two\r\n.\r\nend\r\n'),
    'A: b\r\n\r\n..hidden\r\n...two\r\n..\r\nend\r\n.\r\n',
  );
  assert.is(stuff('.first line\r\n'), '..first line\r\n.\r\n');
  assert.is(stuff(''), '.\r\n');
});

test('bare LF becomes CRLF; an unterminated last line is completed', () => {
  assert.is(stuff('A: b\n\nbody\n.dot\n'), 'A: b\r\n\r\nbody\r\n..dot\r\n.\r\n');
  assert.is(stuff('A: b\r\n\r\nno newline'), 'A: b\r\n\r\nno newline\r\n.\r\n');
  assert.is(stuff('x\ry\r\n'), 'x\ry\r\n.\r\n'); // a lone CR is data
});

test('the same output whatever the chunking (byte by byte, CR and LF split, 7-byte steps)', () => {
  const message = 'Subject: x\r\n\r\n.a\r\nb\n..c\r\n\r\n.\r\nlast';
  const whole = stuff(message);
  for (const step of [1, 2, 3, 7]) assert.is(stuff(message, Infinity, step), whole, `step ${step}`);
  for (const step of [1, 2, 5]) assert.is(stuff(message, 2, step), stuff(message, 2), `TOP step ${step}`);
});

test('TOP: the header, the empty line and n body lines', () => {
  const message = 'A: 1\r\nB: 2\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n';
  assert.is(stuff(message, 0), 'A: 1\r\nB: 2\r\n\r\n.\r\n');
  assert.is(stuff(message, 2), 'A: 1\r\nB: 2\r\n\r\nline 1\r\n..line 2\r\n.\r\n');
  assert.is(stuff(message, 10), `A: 1\r\nB: 2\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n`);
  assert.is(stuff('A: 1\r\nB: 2\r\n', 0), 'A: 1\r\nB: 2\r\n.\r\n'); // no body at all
  assert.is(stuff('A: 1\n\nx\ny\n', 1), 'A: 1\r\n\r\nx\r\n.\r\n');
});

test('line reader: CRLF and LF lines, partial input kept, limit enforced', () => {
  const r = new LineReader(16);
  r.feed(Buffer.from('USER a\r\nNO'));
  assert.is(r.next(), 'USER a');
  assert.is(r.next(), null);
  r.feed(Buffer.from('OP\nQUIT\r\n'));
  assert.is(r.next(), 'NOOP');
  assert.is(r.next(), 'QUIT');
  assert.is(r.next(), null);
  assert.is(r.buffered, 0);
  r.feed(Buffer.from('0123456789abcdef'));
  assert.is(r.next(), null); // exactly at the limit, still waiting for its end
  r.feed(Buffer.from('X'));
  assert.throws(
    () => r.next(),
    (e: unknown) => e instanceof LineTooLong,
  );
  const s = new LineReader(16);
  s.feed(Buffer.from('STLS\r\nUSER injected\r\n'));
  assert.is(s.next(), 'STLS');
  s.reset();
  assert.is(s.next(), null);
});

test.run();
