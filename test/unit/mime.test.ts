// Hand-checked expectations for the message indexer: BODYSTRUCTURE, ENVELOPE and section byte
// ranges for structurally different messages. Strings follow RFC 3501 in Dovecot's style
// (upper-case type/subtype/parameter names, values as sent, "7BIT" default), as Dovecot would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { htmlToText, tidy } from '../../src/mime/html-text.ts';
import {
  bodyStructureToImap,
  envelopeToImap,
  findSection,
  imapList,
  imapString,
  indexMessage,
  sectionRange,
  type MessageIndex,
  type SectionPart,
} from '../../src/mime/index.ts';
import { parseAddressList } from '../../src/mime/addresses.ts';
import { messageHeader, readHeader } from '../../src/mime/headers.ts';
import { parseHeaders } from '../../src/mime/parsed-headers.ts';
import { parseDate } from '../../src/mime/date.ts';
import { parseMessage } from '../../src/mime/parts.ts';
import type { MimeNode } from '../../src/mime/types.ts';

const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const lf = (...lines: string[]): Buffer => Buffer.from(lines.join('\n'), 'utf8');

/** The bytes of BODY[path.part] as a string, or null when the section does not exist. */
function section(raw: Buffer, idx: MessageIndex, path: number[], part: SectionPart = ''): string | null {
  const r = sectionRange(idx, path, part);
  return r ? raw.subarray(r.start, r.end).toString('utf8') : null;
}

test('single-part text/plain: BODYSTRUCTURE, BODY, ENVELOPE, byte ranges', () => {
  const raw = crlf(
    'From: Alice <alice@example.com>', // 31 + 2
    'To: bob@example.org', // 19 + 2
    'Subject: Hello', // 14 + 2
    'Date: Tue, 1 Jul 2003 10:52:37 +0200', // 36 + 2
    'Message-ID: <1234@local.machine.example>', // 40 + 2
    'Content-Type: text/plain; charset=us-ascii', // 42 + 2  -> header ends at 194
    '', // blank line -> body at 196
    'Hello World', // 11 + 2 -> 209
    '',
  );
  const idx = indexMessage(raw);
  assert.is(idx.size, 209);
  assert.is(idx.headerSize, 196);
  assert.equal([idx.root.start, idx.root.bodyStart, idx.root.end, idx.root.size, idx.root.lines], [0, 196, 209, 13, 1]);
  assert.is(
    bodyStructureToImap(idx.root, true),
    '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 1 NIL NIL NIL NIL)',
  );
  assert.is(bodyStructureToImap(idx.root, false), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 1)');
  assert.is(
    envelopeToImap(idx.envelope),
    '("Tue, 1 Jul 2003 10:52:37 +0200" "Hello" (("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) ' +
      '(("Alice" NIL "alice" "example.com")) ((NIL NIL "bob" "example.org")) NIL NIL NIL "<1234@local.machine.example>")',
  );
  assert.equal(sectionRange(idx, []), { start: 0, end: 209 });
  assert.equal(sectionRange(idx, [], 'HEADER'), { start: 0, end: 196 });
  assert.equal(sectionRange(idx, [], 'TEXT'), { start: 196, end: 209 });
  assert.equal(sectionRange(idx, [1]), { start: 196, end: 209 }); // part 1 of a non-multipart is its body
  assert.equal(sectionRange(idx, [1], 'MIME'), { start: 0, end: 196 });
  assert.is(sectionRange(idx, [1], 'HEADER'), null); // not a message/rfc822 part
  assert.is(sectionRange(idx, [2]), null);
  assert.is(sectionRange(idx, [1, 1]), null);
  assert.is(sectionRange(idx, [], 'MIME'), null);
  assert.is(idx.search.date, Date.UTC(2003, 6, 1, 8, 52, 37));
  assert.is(idx.search.messageId, '<1234@local.machine.example>');
  assert.is(idx.search.from, 'alice <alice@example.com>');
  assert.is(idx.search.text, 'Hello World');
  assert.equal(idx.search.attachments, []);
});

test('no Content-Type, bare LF: text/plain us-ascii default, exact LF offsets', () => {
  const raw = lf('From: x@y.z', 'Subject: plain', '', 'Hello world', ''); // 12 + 15 + 1 = 28, body 12
  const idx = indexMessage(raw);
  assert.equal([idx.root.start, idx.root.bodyStart, idx.root.end], [0, 28, 40]);
  assert.is(
    bodyStructureToImap(idx.root, true),
    '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL)',
  );
  assert.equal(idx.root.params, {});
  assert.is(section(raw, idx, [], 'HEADER'), 'From: x@y.z\nSubject: plain\n\n');
  assert.is(section(raw, idx, [1]), 'Hello world\n');
  // Sender and Reply-To default to From; an absent Date and Message-ID are NIL
  assert.is(
    envelopeToImap(idx.envelope),
    '(NIL "plain" ((NIL NIL "x" "y.z")) ((NIL NIL "x" "y.z")) ((NIL NIL "x" "y.z")) NIL NIL NIL NIL NIL)',
  );
});

test('multipart/alternative with a quoted-printable HTML part', () => {
  const raw = crlf(
    'From: a@example.com',
    'Subject: alt',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="XX"',
    '',
    '--XX',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'plain body',
    '--XX',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>html =3D body</p>',
    '--XX--',
    '',
  );
  const idx = indexMessage(raw);
  assert.is(
    bodyStructureToImap(idx.root, true),
    '(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)' +
      '("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "quoted-printable" 20 0 NIL NIL NIL NIL)' +
      ' "ALTERNATIVE" ("BOUNDARY" "XX") NIL NIL NIL)',
  );
  assert.is(
    bodyStructureToImap(idx.root, false),
    '(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 0)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "quoted-printable" 20 0) "ALTERNATIVE")',
  );
  assert.is(section(raw, idx, [1]), 'plain body');
  assert.is(section(raw, idx, [1], 'MIME'), 'Content-Type: text/plain; charset=utf-8\r\n\r\n');
  assert.is(section(raw, idx, [2]), '<p>html =3D body</p>');
  assert.is(
    section(raw, idx, [], 'TEXT'),
    raw.toString().slice(raw.indexOf('--XX')), // the multipart's body: preamble (none) .. epilogue
  );
  assert.is(findSection(idx, [1])!.subtype, 'plain');
  assert.is(findSection(idx, [3]), null);
  assert.is(findSection(idx, [0]), null);
  // alternative: the plain text is indexed, not both
  assert.is(idx.search.text, 'plain body');
});

test('multipart/mixed with a base64 attachment: disposition, exact ranges, attachment list', () => {
  const raw = crlf(
    'From: a@example.com',
    'Content-Type: multipart/mixed; boundary=b1',
    '',
    'This is the preamble.',
    '--b1',
    '',
    'Body text.',
    '--b1',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment; filename="report.pdf"; size=12',
    'Content-ID: <part2@example.com>',
    'Content-Description: The report',
    '',
    'SGVsbG8sIFdvcmxk', // "Hello, World" = 12 bytes
    '--b1--',
    'epilogue',
  );
  const idx = indexMessage(raw);
  assert.is(
    bodyStructureToImap(idx.root, true),
    '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)' +
      '("APPLICATION" "PDF" ("NAME" "report.pdf") "<part2@example.com>" "The report" "base64" 16 NIL' +
      ' ("ATTACHMENT" ("FILENAME" "report.pdf" "SIZE" "12")) NIL NIL)' +
      ' "MIXED" ("BOUNDARY" "b1") NIL NIL NIL)',
  );
  // header: 19+2 + 42+2 + 2 = 67; preamble line 23 -> "--b1" at 90, part 1 starts at 96
  assert.is(idx.root.bodyStart, 67);
  const [p1, p2] = idx.root.children!;
  assert.equal([p1!.start, p1!.bodyStart, p1!.end], [96, 98, 108]);
  assert.equal(sectionRange(idx, [1], 'MIME'), { start: 96, end: 98 }); // an empty MIME header: just CRLF
  assert.equal(sectionRange(idx, [1]), { start: 98, end: 108 });
  assert.is(section(raw, idx, [2]), 'SGVsbG8sIFdvcmxk');
  assert.is(p2!.end, raw.indexOf('\r\n--b1--'));
  assert.equal(idx.search.attachments, [{ filename: 'report.pdf', contentType: 'application/pdf', size: 12 }]);
  assert.is(idx.search.text, 'Body text.');
});

test('nested multipart/mixed > alternative > related: numbering and BODY', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain',
    '',
    'Plain',
    '--alt',
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: text/html',
    '',
    '<img src="cid:logo">',
    '--rel',
    'Content-Type: image/png',
    'Content-ID: <logo>',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--rel--',
    '--alt--',
    '--outer',
    'Content-Type: text/csv; name=data.csv',
    'Content-Disposition: attachment',
    '',
    'a,b',
    '1,2',
    '--outer--',
  );
  const idx = indexMessage(raw);
  assert.is(
    bodyStructureToImap(idx.root, false),
    '(((' +
      '"TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0)((' +
      '"TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 20 0)(' +
      '"IMAGE" "PNG" NIL "<logo>" NIL "base64" 12) "RELATED") "ALTERNATIVE")(' +
      '"TEXT" "CSV" ("NAME" "data.csv" "CHARSET" "us-ascii") NIL NIL "7BIT" 8 1) "MIXED")',
  );
  assert.is(findSection(idx, [1])!.subtype, 'alternative');
  assert.is(section(raw, idx, [1, 1]), 'Plain');
  assert.is(findSection(idx, [1, 2])!.subtype, 'related');
  assert.is(section(raw, idx, [1, 2, 1]), '<img src="cid:logo">');
  assert.is(section(raw, idx, [1, 2, 2]), 'iVBORw0KGgo=');
  assert.is(
    section(raw, idx, [1, 2, 2], 'MIME'),
    'Content-Type: image/png\r\nContent-ID: <logo>\r\nContent-Transfer-Encoding: base64\r\n\r\n',
  );
  assert.is(section(raw, idx, [2]), 'a,b\r\n1,2');
  assert.is(findSection(idx, [1, 2, 3]), null);
  assert.is(findSection(idx, [1, 1, 1]), null); // below a text part
  assert.equal(
    idx.search.attachments.map((a) => [a.filename, a.contentType, a.size]),
    [
      [null, 'image/png', 8],
      ['data.csv', 'text/csv', 8],
    ],
  );
  // alternative picks the text/plain branch; the CSV attachment is text and is indexed too
  assert.is(idx.search.text, 'Plain\n\na,b\n1,2');
});

test('message/rfc822 attachment: inner ENVELOPE in BODYSTRUCTURE, sections 2, 2.HEADER, 2.TEXT, 2.1, 2.2.1.TEXT', () => {
  const raw = crlf(
    'From: outer@example.com',
    'Subject: Fwd: lunch',
    'Content-Type: multipart/mixed; boundary="m"',
    '',
    '--m',
    'Content-Type: text/plain',
    '',
    'See below.',
    '--m',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'From: "Bob B." <bob@example.net>',
    'To: carol@example.org, dave@example.org',
    'Subject: lunch?',
    'Date: Mon, 5 Feb 2024 12:00:00 +0000',
    'Message-ID: <inner@example.net>',
    'In-Reply-To: <earlier@example.org>',
    'Content-Type: multipart/mixed; boundary="n"',
    '',
    '--n',
    '',
    'Noon?',
    '--n',
    'Content-Type: message/rfc822',
    '',
    'Subject: original',
    '',
    'Original text',
    '--n--',
    '--m--',
    '',
  );
  const idx = indexMessage(raw);
  const innerEnvelope =
    '("Mon, 5 Feb 2024 12:00:00 +0000" "lunch?" (("Bob B." NIL "bob" "example.net")) (("Bob B." NIL "bob" "example.net"))' +
    ' (("Bob B." NIL "bob" "example.net")) ((NIL NIL "carol" "example.org")(NIL NIL "dave" "example.org")) NIL NIL' +
    ' "<earlier@example.org>" "<inner@example.net>")';
  const innermost =
    '("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 34 (NIL "original" NIL NIL NIL NIL NIL NIL NIL NIL)' +
    ' ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 0) 2)';
  assert.is(
    bodyStructureToImap(idx.root, false),
    '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0)' +
      `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 338 ${innerEnvelope}` +
      ` (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 0)${innermost} "MIXED") 17) "MIXED")`,
  );
  assert.is(findSection(idx, [2])!.message!.envelope.subject, 'lunch?');
  assert.ok(section(raw, idx, [2])!.startsWith('From: "Bob B." <bob@example.net>\r\n'));
  assert.ok(section(raw, idx, [2])!.endsWith('Original text\r\n--n--'));
  assert.is(section(raw, idx, [2], 'MIME'), 'Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n');
  assert.ok(section(raw, idx, [2], 'HEADER')!.endsWith('Content-Type: multipart/mixed; boundary="n"\r\n\r\n'));
  assert.ok(section(raw, idx, [2], 'TEXT')!.startsWith('--n\r\n\r\nNoon?'));
  assert.is(section(raw, idx, [2, 1]), 'Noon?');
  assert.is(section(raw, idx, [2, 1], 'MIME'), '\r\n');
  assert.is(section(raw, idx, [2, 2]), 'Subject: original\r\n\r\nOriginal text');
  assert.is(section(raw, idx, [2, 2], 'HEADER'), 'Subject: original\r\n\r\n');
  assert.is(section(raw, idx, [2, 2], 'TEXT'), 'Original text');
  assert.is(section(raw, idx, [2, 2, 1]), 'Original text'); // the embedded message's only body
  assert.is(section(raw, idx, [2, 2, 1], 'TEXT'), null); // a text part has no TEXT
  assert.is(section(raw, idx, [2, 1], 'HEADER'), null);
  // the embedded message's range is exactly the part's body
  const part2 = findSection(idx, [2])!;
  assert.equal([part2.message!.node.start, part2.message!.node.end], [part2.bodyStart, part2.end]);
  assert.equal(idx.search.attachments, [{ filename: null, contentType: 'message/rfc822', size: 338 }]);
  // the attached messages' subjects and addresses are searchable text too
  assert.is(
    idx.search.text,
    'See below.\n\nlunch?\nBob B. <bob@example.net>\ncarol@example.org, dave@example.org\n\nNoon?\n\noriginal\n\nOriginal text',
  );
});

test('2.1.TEXT: a message/rfc822 below a nested multipart', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=a',
    '',
    '--a',
    '',
    'one',
    '--a',
    'Content-Type: multipart/mixed; boundary=b',
    '',
    '--b',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    '',
    'inner body',
    '--b--',
    '--a--',
  );
  const idx = indexMessage(raw);
  assert.is(section(raw, idx, [2, 1], 'TEXT'), 'inner body');
  assert.is(section(raw, idx, [2, 1], 'HEADER'), 'Subject: inner\r\n\r\n');
  assert.is(section(raw, idx, [2, 1], 'MIME'), 'Content-Type: message/rfc822\r\n\r\n');
  assert.is(section(raw, idx, [2, 1]), 'Subject: inner\r\n\r\ninner body');
  const r = sectionRange(idx, [2, 1], 'TEXT')!;
  assert.equal(r, { start: raw.indexOf('inner body'), end: raw.indexOf('inner body') + 10 });
});

test('RFC 2231 continuations with charset in disposition and content-type parameters', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=z',
    '',
    '--z',
    'Content-Type: text/plain; charset=us-ascii;',
    " name*0*=utf-8''%E2%82%AC%20rates;",
    ' name*1=".txt"',
    'Content-Disposition: attachment;',
    " filename*0*=iso-8859-1'fr'%E9t%E9;",
    ' filename*1="-report.txt"',
    'Content-Language: fr, en',
    '',
    'x',
    '--z--',
  );
  const idx = indexMessage(raw);
  const part = findSection(idx, [1])!;
  assert.equal(part.params, { charset: 'us-ascii', name: '€ rates.txt' });
  assert.equal(part.disposition, { type: 'attachment', params: { filename: 'été-report.txt' } });
  assert.equal(part.language, ['fr', 'en']);
  // 8-bit values cannot be quoted strings: they go out as literals (lengths in UTF-8 octets)
  assert.is(
    bodyStructureToImap(part, true),
    '("TEXT" "PLAIN" ("CHARSET" "us-ascii" "NAME" {13}\r\n€ rates.txt) NIL NIL "7BIT" 1 0 NIL' +
      ' ("ATTACHMENT" ("FILENAME" {16}\r\nété-report.txt)) ("fr" "en") NIL)',
  );
  assert.equal(idx.search.attachments, [{ filename: 'été-report.txt', contentType: 'text/plain', size: 1 }]);
});

test('RFC 2047 subject and From: raw in ENVELOPE, decoded in search fields', () => {
  const raw = crlf(
    'From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>',
    'To: "=?ISO-8859-1?Q?Andr=E9?=" <andre@example.fr>',
    'Subject: =?UTF-8?B?SGVsbG8g8J+Ri4=?=',
    ' =?UTF-8?Q?_world?=',
    '',
    'x',
  );
  const idx = indexMessage(raw);
  assert.is(idx.envelope.subject, '=?UTF-8?B?SGVsbG8g8J+Ri4=?= =?UTF-8?Q?_world?=');
  assert.is(
    envelopeToImap(idx.envelope),
    '(NIL "=?UTF-8?B?SGVsbG8g8J+Ri4=?= =?UTF-8?Q?_world?=" (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))' +
      ' (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de")) (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de"))' +
      ' (("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "example.fr")) NIL NIL NIL NIL)',
  );
  assert.is(idx.search.subject, 'Hello 👋 world');
  assert.is(idx.search.from, 'jörg müller <joerg@example.de>');
  assert.is(idx.search.to, 'andré <andre@example.fr>');
});

test('group addresses in To and Cc; Outlook-style semicolons; comments as names', () => {
  const raw = crlf(
    'From: user@domain (Real Name)',
    'To: friends: a@x.org, "B" <b@y.org>;, undisclosed-recipients:;',
    'Cc: one@example.com; two@example.com',
    '',
    '',
  );
  const idx = indexMessage(raw);
  assert.is(
    envelopeToImap(idx.envelope),
    '(NIL NIL (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain")) (("Real Name" NIL "user" "domain"))' +
      ' ((NIL NIL "friends" NIL)(NIL NIL "a" "x.org")("B" NIL "b" "y.org")(NIL NIL NIL NIL)' +
      '(NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))' +
      ' ((NIL NIL "one" "example.com")(NIL NIL "two" "example.com")) NIL NIL NIL)',
  );
  assert.is(idx.search.to, 'friends: a@x.org, b <b@y.org>;, undisclosed-recipients: ;');

  // ENVELOPE placeholders for missing parts stay out of the search text
  const partial = indexMessage(crlf('From: "Mailer Daemon" <>', 'To: postmaster', '', ''));
  assert.is(
    envelopeToImap(partial.envelope),
    '(NIL NIL (("Mailer Daemon" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) (("Mailer Daemon" NIL "MISSING_MAILBOX" "MISSING_DOMAIN"))' +
      ' (("Mailer Daemon" NIL "MISSING_MAILBOX" "MISSING_DOMAIN")) ((NIL NIL "postmaster" "MISSING_DOMAIN")) NIL NIL NIL NIL)',
  );
  assert.equal([partial.search.from, partial.search.to], ['mailer daemon', 'postmaster']);
});

test('address parser edge cases', () => {
  const one = (v: string) => parseAddressList(v).map((a) => [a.name, a.mailbox, a.host]);
  assert.equal(one('<@route1,@route2:user@host>'), [[null, 'user', 'host']]); // obs-route dropped (adl is NIL)
  assert.equal(one('"john doe"@example.com'), [[null, '"john doe"', 'example.com']]);
  assert.equal(one('Joe Q. Public <john.q.public@example.com>'), [['Joe Q. Public', 'john.q.public', 'example.com']]);
  assert.equal(one('"Smith, John" <j@s.com>, k@t.com'), [
    ['Smith, John', 'j', 's.com'],
    [null, 'k', 't.com'],
  ]);
  assert.equal(one('localonly'), [[null, 'localonly', 'MISSING_DOMAIN']]); // never a null host outside groups
  assert.equal(one('Name <>'), [['Name', 'MISSING_MAILBOX', 'MISSING_DOMAIN']]);
  assert.equal(one('a@b (first (nested) comment)'), [['first (nested) comment', 'a', 'b']]);
  assert.equal(one(''), []);
  assert.equal(one(' , ,'), []);
  assert.equal(one('"unterminated <x@y>'), [[null, '"unterminated <x@y>', 'MISSING_DOMAIN']]);
  assert.equal(one('"a \\"b\\"" <x@y> (c \\) d)'), [['a "b"', 'x', 'y']]);
  // an encoded-word is one word even when it (illegally) holds a ":", so it starts no group
  assert.equal(one('=?utf-8?Q?a:b?= <x@y>'), [['=?utf-8?Q?a:b?=', 'x', 'y']]);
});

test('missing boundary parameter, boundary never present, boundary never closed', () => {
  const noParam = crlf('Content-Type: multipart/mixed', '', '--x', '', 'text', '--x--');
  const a = indexMessage(noParam);
  assert.is(bodyStructureToImap(a.root, false), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 18 3)');
  assert.is(section(noParam, a, [1]), '--x\r\n\r\ntext\r\n--x--');

  const absent = crlf('Content-Type: multipart/mixed; boundary=nope; charset=utf-8', '', 'just text', '');
  const b = indexMessage(absent);
  assert.is(
    bodyStructureToImap(b.root, true),
    '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL)',
  );
  assert.is(b.search.text, 'just text');

  // the last part runs to the end of the message when the close delimiter is missing
  const unclosed = crlf(
    'Content-Type: multipart/mixed; boundary=u',
    '',
    '--u',
    '',
    'first',
    '--u',
    '',
    'second',
    'more',
    '',
  );
  const c = indexMessage(unclosed);
  assert.is(c.root.children!.length, 2);
  assert.is(section(unclosed, c, [1]), 'first');
  assert.is(section(unclosed, c, [2]), 'second\r\nmore\r\n');

  // an inner multipart that never closes ends where the outer delimiter is
  const nested = crlf(
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    '--outer',
    'Content-Type: multipart/alternative; boundary=inner',
    '',
    '--inner',
    '',
    'inner one',
    '--outer',
    '',
    'outer two',
    '--outer--',
  );
  const d = indexMessage(nested);
  assert.is(
    bodyStructureToImap(d.root, false),
    '((("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 9 0) "ALTERNATIVE")("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 9 0) "MIXED")',
  );
  assert.is(section(nested, d, [1, 1]), 'inner one');
  assert.is(section(nested, d, [2]), 'outer two');
});

test('boundary lines: transport padding, look-alike prefixes, quoted boundary with spaces, folded parameter', () => {
  const raw = lf(
    'Content-Type: multipart/mixed; boundary="foo',
    ' bar"',
    '',
    '--foo bar   ',
    '',
    'one',
    '--foo barista', // not a delimiter: the boundary is followed by more text
    '--foo bar',
    '',
    'two',
    '--foo bar--  ',
    'epilogue',
  );
  const idx = indexMessage(raw);
  assert.is(idx.root.params.boundary, 'foo bar');
  assert.is(idx.root.children!.length, 2);
  assert.is(section(raw, idx, [1]), 'one\n--foo barista');
  assert.is(section(raw, idx, [2]), 'two');
});

test('bare LF multipart: offsets are exact bytes', () => {
  const raw = lf(
    'Content-Type: multipart/mixed; boundary=q',
    '',
    '--q',
    'Content-Type: text/plain',
    '',
    'lf body',
    '--q--',
    '',
  );
  // header 41+1, blank 1 -> 43; "--q\n" -> part at 47; MIME header 24+1+1 -> body at 73; "lf body" -> 80
  const idx = indexMessage(raw);
  assert.is(idx.headerSize, 43);
  const p = idx.root.children![0]!;
  assert.equal([p.start, p.bodyStart, p.end, p.size, p.lines], [47, 73, 80, 7, 0]);
  assert.equal(sectionRange(idx, [1], 'MIME'), { start: 47, end: 73 });
  assert.is(idx.root.end, raw.length);
});

test('quoted-printable and base64 text parts are decoded for search; encodings kept as sent', () => {
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=e',
    '',
    '--e',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-Transfer-Encoding: Quoted-Printable',
    '',
    'Caf=E9 cr=E8me, soft=',
    ' break',
    '--e',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: BASE64',
    '',
    'R3LDvMOfZSBhdXMgS8O2bG4=', // "Grüße aus Köln"
    '--e',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    'not*valid*base64!!', // broken base64 must not throw
    '--e--',
  );
  const idx = indexMessage(raw);
  const [qp, b64] = idx.root.children!;
  assert.is(qp!.encoding, 'Quoted-Printable');
  assert.is(b64!.encoding, 'BASE64');
  assert.ok(idx.search.text.startsWith('Café crème, soft break\n\nGrüße aus Köln'));
  assert.is(
    bodyStructureToImap(b64!, true),
    '("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "BASE64" 24 0 NIL NIL NIL NIL)',
  );
});

test('multipart/digest: parts without Content-Type are message/rfc822', () => {
  const raw = crlf(
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: first',
    '',
    'one',
    '--d',
    'Content-Type: text/plain',
    '',
    'explicit text',
    '--d--',
  );
  const idx = indexMessage(raw);
  const [m1, t2] = idx.root.children!;
  assert.equal([m1!.type, m1!.subtype, t2!.type, t2!.subtype], ['message', 'rfc822', 'text', 'plain']);
  assert.is(
    bodyStructureToImap(idx.root, false),
    '(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 (NIL "first" NIL NIL NIL NIL NIL NIL NIL NIL)' +
      ' ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 3 0) 2)' +
      '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 13 0) "DIGEST")',
  );
  assert.is(section(raw, idx, [1, 1]), 'one');
  assert.is(section(raw, idx, [1], 'HEADER'), 'Subject: first\r\n\r\n');
});

test('8-bit headers: UTF-8 and Latin-1 read correctly, sent as literals', () => {
  const utf8 = Buffer.from('From: Jörg <j@example.de>\r\nSubject: Grüße\r\n\r\nbody', 'utf8');
  const a = indexMessage(utf8);
  assert.is(a.envelope.subject, 'Grüße');
  assert.is(
    envelopeToImap(a.envelope),
    '(NIL {7}\r\nGrüße (({5}\r\nJörg NIL "j" "example.de")) (({5}\r\nJörg NIL "j" "example.de")) (({5}\r\nJörg NIL "j" "example.de")) NIL NIL NIL NIL NIL)',
  );
  assert.is(a.search.subject, 'Grüße');

  const latin1 = Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\nbody')]);
  const b = indexMessage(latin1);
  assert.is(b.envelope.subject, 'café');
  assert.is(b.headerSize, 17);

  // UTF-8 with one stray Latin-1 byte: the valid sequences stay UTF-8, only the bad byte is Windows-1252
  const mixed = Buffer.concat([Buffer.from('Subject: Jörg '), Buffer.from([0xe9]), Buffer.from('t\u00e9\r\n\r\n')]);
  assert.is(indexMessage(mixed).envelope.subject, 'Jörg été');
});

test('empty body, header-only message without a blank line, message starting with a blank line, empty input', () => {
  const empty = crlf('Subject: nothing', '', '');
  const a = indexMessage(empty);
  assert.equal([a.root.bodyStart, a.root.end, a.root.size, a.root.lines], [20, 20, 0, 0]);
  assert.is(bodyStructureToImap(a.root, false), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 0 0)');
  assert.equal(sectionRange(a, [1]), { start: 20, end: 20 });

  const headerOnly = Buffer.from('Subject: no blank line\r\nFrom: a@b');
  const b = indexMessage(headerOnly);
  assert.equal([b.headerSize, b.root.bodyStart, b.root.end, b.size], [33, 33, 33, 33]);
  assert.is(b.envelope.subject, 'no blank line');
  assert.is(b.envelope.from![0]!.host, 'b');

  const noHeader = Buffer.from('\r\nonly a body\r\n');
  const c = indexMessage(noHeader);
  assert.equal([c.root.start, c.root.bodyStart, c.root.end], [0, 2, 15]);
  assert.equal(sectionRange(c, [], 'HEADER'), { start: 0, end: 2 });

  const nothing = indexMessage(Buffer.alloc(0));
  assert.equal([nothing.size, nothing.headerSize, nothing.root.size], [0, 0, 0]);
  assert.is(envelopeToImap(nothing.envelope), '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
});

test('duplicate headers: the first wins; an invalid Content-Type falls back to text/plain', () => {
  const raw = crlf(
    'Subject: first',
    'Subject: second',
    'Content-Type: text/html; charset=utf-8',
    'Content-Type: image/gif',
    '',
    '<b>x</b>',
  );
  const a = indexMessage(raw);
  assert.is(a.envelope.subject, 'first');
  assert.equal([a.root.type, a.root.subtype], ['text', 'html']);
  assert.is(a.search.text, 'x');

  const bad = indexMessage(
    crlf('Content-Type: garbage; charset=koi8-r', '', Buffer.from([0xf0, 0xd2, 0xc9]).toString('latin1')),
  );
  assert.equal([bad.root.type, bad.root.subtype, bad.root.params.charset], ['text', 'plain', 'koi8-r']);
});

test('HTML only: converted to text for search, scripts and styles dropped, entities decoded', () => {
  const raw = crlf(
    'Content-Type: text/html; charset=utf-8',
    '',
    '<html><head><style>p{color:red}</style><title>T</title></head>',
    '<body><p>Hello&nbsp;<b>there</b> &amp; welcome&#33;</p><script>alert(1)</script>',
    '<div>Second &eacute;&#x263A; line<br>third</div><!-- hidden --></body></html>',
  );
  const idx = indexMessage(raw);
  assert.is(idx.search.text, 'Hello there & welcome!\n\nSecond é☺ line\nthird');
});

test('format=flowed text is unwrapped for search', () => {
  const raw = crlf(
    'Content-Type: text/plain; charset=utf-8; format=flowed',
    '',
    'This is a long ',
    'line that was wrapped.',
    '> quoted',
    '',
  );
  assert.is(indexMessage(raw).search.text, 'This is a long line that was wrapped.\n> quoted');
});

test('threading fields: Message-ID, In-Reply-To, References', () => {
  const raw = crlf(
    'Message-ID: <a@b>',
    'In-Reply-To: <c@d> (comment) <e@f>',
    'References: <x@y>',
    '  <z@w> <c@d>',
    '',
    '',
  );
  const s = indexMessage(raw).search;
  assert.equal([s.messageId, s.inReplyTo, s.references], ['<a@b>', '<c@d>', ['<x@y>', '<z@w>', '<c@d>']]);
  const bare = indexMessage(crlf('Message-ID: id@host', '', '')).search;
  assert.is(bare.messageId, '<id@host>');
});

test('Date: header parsing', () => {
  assert.is(parseDate('Tue, 1 Jul 2003 10:52:37 +0200'), Date.UTC(2003, 6, 1, 8, 52, 37));
  assert.is(parseDate('1 Jul 03 10:52 EST'), Date.UTC(2003, 6, 1, 15, 52, 0));
  assert.is(parseDate('Fri, 21 Nov 1997 09:55:06 -0600 (MDT)'), Date.UTC(1997, 10, 21, 15, 55, 6));
  assert.is(parseDate('Thu, 13 Feb 1969 23:32:54 -0330'), Date.UTC(1969, 1, 14, 3, 2, 54));
  assert.is(parseDate('Mon, 5 Feb 2024 12:00:00 GMT'), Date.UTC(2024, 1, 5, 12, 0, 0));
  assert.is(parseDate('2024-02-05T12:00:00Z'), Date.UTC(2024, 1, 5, 12, 0, 0)); // not RFC 5322, but Date.parse knows it
  // A 12-hour clock, as some mail programs write it.
  assert.is(parseDate('Thu, 28 Jun 01 10:05:15 PM -0500'), Date.UTC(2001, 5, 29, 3, 5, 15));
  assert.is(parseDate('Thu, 28 Jun 2001 12:05 AM +0000'), Date.UTC(2001, 5, 28, 0, 5, 0));
  assert.is(parseDate('Thu, 28 Jun 2001 12:05 pm GMT'), Date.UTC(2001, 5, 28, 12, 5, 0));
  // No zone has 60 minutes (RFC 5322 §3.3): an unknown zone, counted as UTC.
  assert.is(parseDate('Thu, 28 Jun 2001 10:05:00 +0360'), Date.UTC(2001, 5, 28, 10, 5, 0));
  assert.is(parseDate('not a date'), null);
  assert.is(parseDate(null), null);
});

test('imapString / imapList: quoted, escaped, literal, NIL', () => {
  assert.is(imapString(null), 'NIL');
  assert.is(imapString(''), '""');
  assert.is(imapString('plain text'), '"plain text"');
  assert.is(imapString('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  assert.is(imapString('two\r\nlines'), '{10}\r\ntwo\r\nlines');
  assert.is(imapString('naïve'), '{6}\r\nnaïve');
  assert.is(imapString('NUL\0dropped'), '"NULdropped"');
  assert.is(imapList(['"A"', 'NIL']), '("A" NIL)');
  assert.is(imapList([]), 'NIL');
  assert.is(imapList(null), 'NIL');
});

test('the index is plain JSON: a round trip changes nothing and serialisers work on the copy', () => {
  const raw = crlf(
    'From: a@b.c',
    'Content-Type: multipart/mixed; boundary=j',
    '',
    '--j',
    'Content-Type: message/rfc822',
    '',
    'Subject: in',
    '',
    'x',
    '--j--',
  );
  const idx = indexMessage(raw);
  const copy = JSON.parse(JSON.stringify(idx)) as MessageIndex;
  assert.equal(copy, idx);
  assert.is(bodyStructureToImap(copy.root, true), bodyStructureToImap(idx.root, true));
  assert.equal(sectionRange(copy, [1, 1]), sectionRange(idx, [1, 1]));
});

test('message/global is an embedded message too; a Uint8Array is accepted', () => {
  const raw = crlf('Content-Type: message/global', '', 'Subject: =?utf-8?q?x?=', 'From: ü@例え.jp', '', 'hi');
  const idx = indexMessage(new Uint8Array(raw) as Buffer);
  assert.is(idx.root.message!.envelope.from![0]!.host, '例え.jp');
  assert.is(
    bodyStructureToImap(idx.root, false),
    '("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" 48 (NIL "=?utf-8?q?x?=" ((NIL NIL {2}\r\nü {9}\r\n例え.jp))' +
      ' ((NIL NIL {2}\r\nü {9}\r\n例え.jp)) ((NIL NIL {2}\r\nü {9}\r\n例え.jp)) NIL NIL NIL NIL NIL)' +
      ' ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 2 0) 3)',
  );
});

test('hostile nesting and part counts are bounded, never thrown', () => {
  let deep = '';
  for (let i = 0; i < 500; i++) deep += `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n`;
  deep += '\r\ninnermost';
  const a = indexMessage(Buffer.from(deep));
  let depth = 0;
  for (let n = a.root; n.children; n = n.children[0]!) depth++;
  assert.ok(depth > 10 && depth <= 64);
  assert.ok(bodyStructureToImap(a.root, true).length > 0);

  let wide = 'Content-Type: multipart/mixed; boundary=w\r\n\r\n';
  for (let i = 0; i < 20_000; i++) wide += '--w\r\n\r\nx\r\n';
  const b = indexMessage(Buffer.from(wide));
  assert.ok(b.root.children!.length < 10_001);

  let rfc822 = '';
  for (let i = 0; i < 300; i++) rfc822 += 'Content-Type: message/rfc822\r\n\r\n';
  const c = indexMessage(Buffer.from(`${rfc822}end`));
  assert.ok(bodyStructureToImap(c.root, false).includes('"APPLICATION" "OCTET-STREAM"'));
});

test('Dovecot (imaptest fetch-body-mime): sections of a multipart with message/rfc822 and folded boundary', () => {
  // src/tests/fetch-body-mime.mbox from dovecot/imaptest, whose expected answers are Dovecot's
  const raw = lf(
    'From: user@domain.org',
    'Date: Sat, 24 Mar 2007 23:00:00 +0200',
    'Mime-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="foo',
    ' bar"',
    '',
    'Root MIME prologue',
    '',
    '--foo bar',
    'Content-Type: text/x-myown; charset=us-ascii',
    '',
    'hello',
    '',
    '--foo bar',
    'Content-Type: message/rfc822',
    '',
    'From: sub@domain.org',
    'Date: Sun, 12 Aug 2012 12:34:56 +0300',
    'Subject: submsg',
    'Content-Type: multipart/alternative; boundary="sub1"',
    '',
    'Sub MIME prologue',
    '--sub1',
    'Content-Type: text/html',
    '',
    '<p>Hello world</p>',
    '',
    '--sub1',
    'Content-Type: text/plain',
    '',
    'Hello another world',
    '',
    '--sub1--',
    'Sub MIME epilogue',
    '',
    '--foo bar--',
    'Root MIME epilogue',
    '',
  );
  const idx = indexMessage(raw);
  assert.is(section(raw, idx, [1]), 'hello\n');
  assert.is(section(raw, idx, [1], 'MIME'), 'Content-Type: text/x-myown; charset=us-ascii\n\n');
  assert.is(section(raw, idx, [2], 'MIME'), 'Content-Type: message/rfc822\n\n');
  assert.is(
    section(raw, idx, [2], 'HEADER'),
    'From: sub@domain.org\nDate: Sun, 12 Aug 2012 12:34:56 +0300\nSubject: submsg\nContent-Type: multipart/alternative; boundary="sub1"\n\n',
  );
  assert.is(
    section(raw, idx, [2], 'TEXT'),
    'Sub MIME prologue\n--sub1\nContent-Type: text/html\n\n<p>Hello world</p>\n\n--sub1\nContent-Type: text/plain\n\nHello another world\n\n--sub1--\nSub MIME epilogue\n',
  );
  assert.is(section(raw, idx, [2, 1], 'MIME'), 'Content-Type: text/html\n\n');
  assert.is(section(raw, idx, [2, 1]), '<p>Hello world</p>\n');
  assert.is(section(raw, idx, [2, 2]), 'Hello another world\n');
  // imaptest fetch-bodystructure: ("TEXT" "x-MYOWN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 7 1) -- 7 is Dovecot's
  // CRLF-normalised size of "hello\n"; this index counts the stored bytes.
  assert.is(
    bodyStructureToImap(findSection(idx, [1])!, false),
    '("TEXT" "X-MYOWN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 6 1)',
  );
});

test('search text: each run of spaces, tabs and no-break spaces is one space, lines trimmed, blank lines one', () => {
  assert.is(tidy('  a b  c\t\td \u00a0e\u00a0f\t \n\n\n\t g \n \n'), 'a b c d e f\n\ng');
  assert.is(tidy('one two\nthree'), 'one two\nthree');
  assert.is(htmlToText('<p>a&nbsp;&nbsp;b\t c</p><p>d</p>'), 'a b c\n\nd');
});

test('HTML to text reads a tag name in place: names past 40 characters are tags as before, in linear time', () => {
  const long = 'x'.repeat(50);
  assert.is(htmlToText(`<p>a</p><${long} y="1">b</${long}>`), 'a\nb');
  // Not <script>: the name is more than that, read whole or cut at 40 characters.
  assert.is(htmlToText(`<script${long}>shown</script>too`), 'showntoo');
  assert.is(htmlToText(`<scRIPT>hidden</script>shown<br/>`), 'shown');
  for (const html of [`<${'a'.repeat(60_000)}`, `<${'a'.repeat(60_000)}>`, '<a'.repeat(30_000), '</a'.repeat(20_000)]) {
    const t0 = performance.now();
    htmlToText(html);
    assert.ok(performance.now() - t0 < 100, `${html.slice(0, 4)}…: ${performance.now() - t0} ms`);
  }
});

test('a message header block is read once per Buffer: the parsed fields and the index share it', () => {
  const raw = Buffer.from('From: a@b.example\r\nSubject: once\r\nX-Long: one\r\n two\r\n\r\nbody\r\n');
  const block = messageHeader(raw);
  assert.equal(block, readHeader(raw, 0, raw.length));
  assert.is(messageHeader(raw), block);
  assert.is(parseHeaders(raw).fields, block.fields);
  assert.is(parseHeaders(raw).bodyStart, indexMessage(raw).headerSize);
  // Another Buffer of the same bytes is read again (a Buffer may be reused for other bytes, never the same one).
  assert.is.not(messageHeader(Buffer.from(raw)), block);
});

test("lines of a multipart and of a message/rfc822: its body's line breaks, counted from its parts' own counts", () => {
  const lfIn = (buf: Buffer, start: number, end: number) => buf.subarray(start, end).filter((c) => c === 10).length;
  const nested = (depth: number, body: string): string =>
    depth === 0
      ? `Content-Type: text/plain\r\n\r\n${body}`
      : depth % 3 === 0
        ? `Content-Type: message/rfc822\r\n\r\nSubject: in ${depth}\r\n${nested(depth - 1, body)}`
        : `Content-Type: multipart/mixed; boundary="b${depth}"\r\n\r\npreamble\r\n--b${depth}\r\n` +
          `Content-Type: text/plain\r\n\r\nfirst\r\n\r\n--b${depth}\r\n${nested(depth - 1, body)}\r\n--b${depth}--\r\nepilogue\r\n\r\n`;
  const check = (buf: Buffer, node: MimeNode) => {
    assert.is(node.lines, lfIn(buf, node.bodyStart, node.end), `${node.type}/${node.subtype} at ${node.start}`);
    for (const child of node.children ?? []) check(buf, child);
    if (node.message) check(buf, node.message.node);
  };
  const small = Buffer.from(`From: a@b.example\r\n${nested(7, 'one\r\ntwo\n\n')}`);
  check(small, indexMessage(small).root);
  // 60 levels over 2 MB of blank lines: the body's lines are counted once, not once a level (the tree took 230–250
  // ms to parse that way, 10–17 ms now).
  const deep = Buffer.from(`From: a@b.example\r\n${nested(60, '\r\n'.repeat(1_000_000))}`);
  const t = performance.now();
  const { node } = parseMessage(deep);
  const ms = performance.now() - t;
  check(deep, node);
  assert.ok(ms < 80, `${ms} ms`);
});

test.run();
