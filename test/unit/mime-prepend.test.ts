// indexPrepended (src/mime/prepend.ts): the index of a message with trace fields prepended, derived
// from the index of the message without them, must equal indexing the whole message again: over
// every in-repo fixture (MIME edge cases, real spam and ham) and the cases where it must re-parse.
// prependFields writes the fields into the room readMessage leaves before a message, once. The derived
// index's parts share the text decoded for the message without the fields (the spam stage's search
// text), and the full-text text built from them is the one built from scratch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodedLines } from '../../src/mime/decode.ts';
import { fulltextText } from '../../src/mime/fulltext-text.ts';
import { indexMessage } from '../../src/mime/index.ts';
import { indexPrepended, prependFields, withRoomBefore } from '../../src/mime/prepend.ts';
import { MIME_FIXTURES, SPAM_FIXTURES } from '../helpers/fixtures.ts';
import { loadMessages } from '../helpers/mime-check.ts';

// What the inbound pipeline prepends: Received, Authentication-Results, Received-SPF, X-Spam-*.
const TRACE =
  'Received: from mx.sender.test (mx.sender.test [192.0.2.1])\r\n\tby mx.wren.test (Wren Mail) with ESMTP id abc.1\r\n\tfor <u@wren.test>; Sun, 6 Dec 2026 17:00:00 +0000\r\n' +
  'Authentication-Results: mx.wren.test;\r\n dkim=pass header.d=sender.test; spf=pass smtp.mailfrom=sender.test\r\n' +
  'Received-SPF: pass (mx.wren.test: domain of =?utf-8?q?=C3=A9?=@sender.test designates 192.0.2.1) client-ip=192.0.2.1;\r\n' +
  'X-Spam-Score: 0.0\r\nX-Spam-Status: No, score=0.0 required=5.0 tests=none\r\n';

function same(prefix: string, rest: Buffer, name: string): { shifted: boolean } {
  const restIndex = indexMessage(rest);
  const raw = Buffer.concat([Buffer.from(prefix, 'utf8'), rest]);
  const derived = indexPrepended(raw, raw.length - rest.length, restIndex);
  assert.equal(derived, indexMessage(raw), name);
  // Derived without parsing again: the search fields that do not depend on the header are shared.
  return { shifted: derived.search.attachments === restIndex.search.attachments };
}

test('equals indexing again, over every fixture message, CRLF and LF', () => {
  const samples = [...loadMessages(MIME_FIXTURES).samples, ...loadMessages(SPAM_FIXTURES).samples];
  let shifted = 0;
  for (const s of samples) {
    if (same(TRACE, s.raw, s.name).shifted) shifted++;
    same(TRACE.replace(/\r\n/g, '\n'), s.raw, `${s.name} (LF prefix)`);
  }
  console.log(`  ${samples.length} messages, ${shifted} derived without a second parse`);
  assert.ok(samples.length >= 300 && shifted > samples.length * 0.9, `${shifted} of ${samples.length}`);
});

test('re-parses where a prepended field would change the index, and still equals it', () => {
  const msg = Buffer.from('Subject: hi\r\nFrom: a@b.test\r\n\r\nbody\r\n');
  const cases: [string, string, Buffer][] = [
    ['prefix with a Subject', 'Subject: injected\r\n', msg],
    ['prefix with a Content-Type', 'Content-Type: multipart/mixed; boundary=x\r\n', msg],
    ['rest starts with a continuation line', TRACE, Buffer.from(' folded\r\nSubject: hi\r\n\r\nbody')],
    ['empty rest', TRACE, Buffer.alloc(0)],
    ['prefix without its line break', 'Received: x', msg],
    ['prefix with a blank line', 'Received: x\r\n\r\n', msg],
  ];
  for (const [name, prefix, rest] of cases) assert.not.ok(same(prefix, rest, name).shifted, name);
});

test('shifts messages without header fields or without a body; re-parses a header that may hit the field cap', () => {
  assert.ok(same(TRACE, Buffer.from('\r\nonly a body\r\n'), 'no header fields').shifted);
  assert.ok(same(TRACE, Buffer.from('Subject: no body'), 'no body').shifted);
  assert.ok(same(TRACE, Buffer.from('junk line without colon\r\n\r\nbody'), 'junk header line').shifted);
  const many = Buffer.from(`${'a:\r\n'.repeat(9_995)}Subject: many\r\n\r\nbody`);
  assert.not.ok(same(TRACE, many, '10,000 fields with the prepended ones').shifted);
});

test('the derived parts share the decoded text of the rest; the full-text text is the one built from scratch', () => {
  const samples = [...loadMessages(MIME_FIXTURES).samples, ...loadMessages(SPAM_FIXTURES).samples];
  let shared = 0;
  for (const s of samples) {
    const rest = received(s.raw.toString('latin1'), 4096);
    s.raw.copy(rest); // the bytes as they are, not re-encoded
    const restIndex = indexMessage(rest); // decodes the text parts for its search text
    const raw = prependFields(TRACE, rest);
    const derived = indexPrepended(raw, raw.length - rest.length, restIndex, rest);
    const copy = Buffer.from(raw);
    assert.equal(fulltextText(raw, derived.root), fulltextText(copy, indexMessage(copy).root), s.name);
    const leaf = derived.root.children || derived.root.message ? null : derived.root;
    if (leaf?.type === 'text' && derived !== restIndex && derived.root !== restIndex.root) {
      // the same string, not a second decoding of the same bytes
      assert.is(decodedLines(raw, leaf, 1 << 30), decodedLines(rest, restIndex.root, 1 << 30), s.name);
      shared++;
    }
  }
  assert.ok(shared > 100, `${shared} single-part messages shared their text`);
});

test('parts share no decoded text with a Buffer that holds other bytes', () => {
  const rest = Buffer.from('Subject: x\r\n\r\nfirst body\r\n');
  const other = Buffer.from('Subject: x\r\n\r\nother body\r\n');
  const otherIndex = indexMessage(other);
  assert.is(decodedLines(other, otherIndex.root, 1024), 'other body\n');
  const raw = Buffer.concat([Buffer.from(TRACE), rest]);
  // the index of `other` fits `rest` (same structure and offsets), but its decoded text does not
  const derived = indexPrepended(raw, TRACE.length, otherIndex, other);
  assert.equal(derived.root, indexMessage(raw).root);
  assert.is(fulltextText(raw, derived.root).toString().split('\0')[1], 'first body\n');
});

/** Whether two Buffers share memory (small ones may share Node's pool, each in its own part). */
const overlap = (a: Buffer, b: Buffer) =>
  a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.length && b.byteOffset < a.byteOffset + a.length;

/** A message as readMessage gives it to the MX: `room` bytes free before it. */
function received(text: string, room: number): Buffer {
  const raw = withRoomBefore(Buffer.byteLength(text), room);
  raw.write(text);
  return raw;
}

test('prependFields writes into the room before the message, without copying it, once', () => {
  const body = 'From: a@b.test\r\nSubject: x\r\n\r\nbody\r\n';
  const raw = received(body, 4096);
  const first = prependFields(TRACE, raw);
  assert.equal(first, Buffer.from(TRACE + body, 'utf8'));
  // the message's own memory, the fields just before it: nothing of the message was copied
  assert.ok(overlap(first, raw));
  assert.is(first.byteOffset + Buffer.byteLength(TRACE), raw.byteOffset);
  assert.is(raw.toString(), body);
  // The room is spent: a second prefix is a copy, and the first result keeps its fields.
  const second = prependFields('X-Other: 1\r\n', raw);
  assert.equal(second, Buffer.from(`X-Other: 1\r\n${body}`));
  assert.not.ok(overlap(second, raw));
  assert.equal(first, Buffer.from(TRACE + body, 'utf8'));
});

test('prependFields copies when the fields do not fit the room, or there is none', () => {
  const body = 'Subject: y\r\n\r\nz\r\n';
  for (const raw of [received(body, 16), Buffer.from(body), received(body, 0)]) {
    const out = prependFields(TRACE, raw);
    assert.equal(out, Buffer.from(TRACE + body, 'utf8'));
    assert.not.ok(overlap(out, raw));
  }
  // exactly the room: fits (é is two bytes in UTF-8)
  const fields = 'X-A: é\r\n';
  const raw = received(body, Buffer.byteLength(fields));
  const out = prependFields(fields, raw);
  assert.equal(out, Buffer.from(fields + body, 'utf8'));
  assert.ok(overlap(out, raw));
});

test.run();
