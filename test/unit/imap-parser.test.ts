// The IMAP input layer and small codecs: framing with literals and limits, tokens, sequence sets,
// modified UTF-7, base subjects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMutf7, encodeMutf7 } from '../../src/mime/mutf7.ts';
import { Framer, FramingError, parseCommand, type ParseError, type Frame } from '../../src/imap/parser.ts';
import {
  formatSequenceSet,
  numberBytes,
  parseSequenceSet,
  resolveSequence,
  resolveUids,
} from '../../src/imap/sequence.ts';
import { baseSubject } from '../../src/imap/sort.ts';
import { filterHeader } from '../../src/imap/fetch.ts';

function framer(limits = { maxLineBytes: 1000, maxLiteralBytes: 5000 }) {
  const events: string[] = [];
  const f = new Framer(limits, {
    continuation: () => events.push('+'),
    refuse: (tag, text) => events.push(`${tag} ${text}`),
  });
  return { f, events };
}

function frames(f: Framer): Frame[] {
  const out: Frame[] = [];
  for (let frame = f.next(); frame; frame = f.next()) out.push(frame);
  return out;
}

test('frames lines and literals fed byte by byte', () => {
  const { f, events } = framer();
  const input = Buffer.from('a1 LOGIN {5}\r\nalice {3+}\r\npwd\r\na2 NOOP\r\n');
  const out: Frame[] = [];
  for (const byte of input) {
    f.feed(Buffer.from([byte]));
    out.push(...frames(f));
  }
  assert.is(out.length, 2);
  assert.equal(events, ['+']); // only the synchronising literal asks for "+"
  const cmd = parseCommand(out[0]!);
  assert.is(cmd.name, 'LOGIN');
  assert.equal(
    cmd.args.map((t) => (t.kind === 'string' ? t.value.toString() : '')),
    ['alice', 'pwd'],
  );
  assert.is(parseCommand(out[1]!).name, 'NOOP');
});

test('limits: long line throws, oversized sync literal is refused, oversized LITERAL+ throws', () => {
  const a = framer();
  a.f.feed(Buffer.alloc(2000, 0x61));
  assert.throws(
    () => a.f.next(),
    (err: unknown) => err instanceof FramingError,
  );
  const b = framer();
  b.f.feed(Buffer.from('t1 APPEND INBOX {6000}\r\nt2 NOOP\r\n'));
  const out = frames(b.f);
  assert.equal(b.events, ['t1 [TOOBIG] Literal exceeds APPENDLIMIT']);
  assert.is(parseCommand(out[0]!).tag, 't2');
  const c = framer();
  c.f.feed(Buffer.from('t1 LOGIN {2000+}\r\n'));
  assert.throws(
    () => c.f.next(),
    (err: unknown) => err instanceof FramingError,
  );
  const d = framer();
  d.f.feed(Buffer.from('t1 LOGIN {900}\r\n')); // non-APPEND literals count against the line limit
  frames(d.f);
  assert.equal(d.events, ['+']);
});

test('MULTIAPPEND: each literal under APPENDLIMIT, but their sum is bounded by it too', () => {
  const a = framer();
  a.f.feed(Buffer.from(`t1 APPEND INBOX {3000}\r\n${'x'.repeat(3000)} {2000}\r\n${'y'.repeat(2000)}\r\n`));
  const ok = frames(a.f);
  assert.is(ok.length, 1);
  assert.equal(
    ok[0]!.literals.map((l) => l.length),
    [3000, 2000],
  );
  const b = framer();
  b.f.feed(Buffer.from(`t1 APPEND INBOX {3000}\r\n${'x'.repeat(3000)} {2001}\r\nt2 NOOP\r\n`));
  const out = frames(b.f);
  assert.equal(b.events, ['+', 't1 [TOOBIG] Literal exceeds APPENDLIMIT']);
  assert.is(out.length, 1);
  assert.is(parseCommand(out[0]!).tag, 't2');
});

test('tokens: quoted escapes, nested lists, sections kept in atoms, UID commands', () => {
  const { f } = framer();
  f.feed(Buffer.from('x UID FETCH 1:*,4 (FLAGS BODY.PEEK[HEADER.FIELDS (From "To")]<0.10> (a (b))) "q\\"s\\\\"\r\n'));
  const cmd = parseCommand(f.next()!);
  assert.is(cmd.name, 'UID FETCH');
  const list = cmd.args[1]!;
  assert.ok(list.kind === 'list');
  assert.equal(list.items[1], { kind: 'atom', value: 'BODY.PEEK[HEADER.FIELDS (From "To")]<0.10>' });
  assert.ok(list.items[2]!.kind === 'list');
  const q = cmd.args[2]!;
  assert.ok(q.kind === 'string' && q.value.toString() === 'q"s\\');
});

test('parse errors carry the tag when there is one', () => {
  const bad = (line: string): ParseError => {
    const { f } = framer();
    f.feed(Buffer.from(`${line}\r\n`));
    try {
      parseCommand(f.next()!);
    } catch (err) {
      return err as ParseError;
    }
    throw new Error('parsed');
  };
  assert.is(bad('a+ NOOP').tag, null);
  assert.is(bad('t1 LOGIN (a').tag, 't1');
  assert.is(bad('t2 LOGIN a)').tag, 't2');
  assert.is(bad('t3 LOGIN "x').tag, 't3');
  assert.is(bad('t4').tag, 't4');
});

test('sequence sets', () => {
  assert.equal(parseSequenceSet('1:3,7,9:*'), [
    [1, 3],
    [7, 7],
    [9, Infinity],
  ]);
  assert.throws(() => parseSequenceSet('0'));
  assert.throws(() => parseSequenceSet('1,,2'));
  assert.equal(resolveSequence(parseSequenceSet('2:*'), 4), [1, 2, 3]);
  assert.equal(resolveSequence(parseSequenceSet('*:2'), 4), [1, 2, 3]);
  assert.equal(resolveUids(parseSequenceSet('5:*'), [2, 4, 8, 9]), [2, 3]);
  assert.equal(resolveUids(parseSequenceSet('100:*'), [2, 4, 9]), [2]); // "*" is the largest UID
  assert.is(formatSequenceSet([5, 1, 2, 3, 9, 10]), '1:3,5,9:10');
  assert.is(formatSequenceSet([7, 8, 9, 2, 3, 1], false), '7:9,2:3,1', 'SORT order kept, ascending runs shortened');
  assert.is(formatSequenceSet([]), '');
});

test('number lists as bytes: every number, in pieces of at most 64 KiB, a list or a sequence set', () => {
  const numbers = Array.from({ length: 100_000 }, (_, i) => i * 3 + (i % 4 === 0 ? 1 : 2)); // runs and gaps
  numbers.push(4_294_967_295);
  const list = numberBytes('* SEARCH', numbers, false, ' (MODSEQ 7)\r\n');
  assert.ok(list.length > 10, `${list.length} pieces`);
  for (const piece of list) assert.ok(piece.length <= 65_536 + 11, `a piece of ${piece.length} bytes`);
  assert.is(Buffer.concat(list).toString(), `* SEARCH ${numbers.join(' ')} (MODSEQ 7)\r\n`);
  const runs = [1, 2, 3, 5, 10, 11, 4_294_967_294, 4_294_967_295];
  assert.is(
    Buffer.concat(numberBytes('ALL ', runs, true, '\r\n')).toString(),
    'ALL 1:3,5,10:11,4294967294:4294967295\r\n',
  );
  assert.is(Buffer.concat(numberBytes('* SEARCH', [], false, '\r\n')).toString(), '* SEARCH\r\n');
  assert.is(Buffer.concat(numberBytes('* SEARCH', [0, 10, 99, 100], false, '')).toString(), '* SEARCH 0 10 99 100');
});

test('modified UTF-7 round trips', () => {
  assert.is(encodeMutf7('Entwürfe'), 'Entw&APw-rfe');
  assert.is(encodeMutf7('A&B'), 'A&-B');
  assert.is(encodeMutf7('日本語'), '&ZeVnLIqe-');
  for (const s of ['Entwürfe', 'A&B', '日本語/子', 'plain', '😀 emoji']) assert.is(decodeMutf7(encodeMutf7(s)), s);
});

test('base subject and header field filtering', () => {
  assert.is(baseSubject('Re: [list] Fwd: Hello (fwd)'), 'HELLO');
  assert.is(baseSubject('[fwd: Re: Topic]'), 'TOPIC');
  assert.is(baseSubject('re: [fwd: [fwd: re: [fwd: babylon]]]'), 'BABYLON');
  assert.is(baseSubject('[xyz]'), '[XYZ]', 'a blob alone stays');
  assert.is(baseSubject('[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)'), 'B');
  const header = Buffer.from('From: a\r\nSubject: x\r\n  folded\r\nTo: b\r\n\r\n');
  assert.is(filterHeader(header, ['subject'], false).toString(), 'Subject: x\r\n  folded\r\n\r\n');
  assert.is(filterHeader(header, ['subject'], true).toString(), 'From: a\r\nTo: b\r\n\r\n');
});

test.run();
