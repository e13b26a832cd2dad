// The Sieve interpreter against the examples of RFC 5228 §9 and the extension RFCs (5173 body,
// 5229-less imap4flags of RFC 5232, 5429 reject), plus its syntax errors, match types and limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { glob } from '../../src/sieve/match.ts';
import { SieveMessage } from '../../src/sieve/message.ts';
import { SieveError } from '../../src/sieve/parse.ts';
import { LIMITS, run, type SieveResult } from '../../src/sieve/run.ts';
import { spamtestValue, type SpamStatus } from '../../src/sieve/spamtest.ts';
import { compile, MAX_SCRIPT_BYTES } from '../../src/sieve/validate.ts';

const message = (
  header: string,
  body = 'Hello.\r\n',
  envelope = { from: 'sender@example.org', to: ['me@example.com'] },
) => new SieveMessage(Buffer.from(`${header.trim().replace(/\r?\n/g, '\r\n')}\r\n\r\n${body}`), envelope);
const exec = (script: string, msg: SieveMessage): SieveResult => run(compile(script), msg);
/** The folders a result stores into: "keep" for (implicit or explicit) keep. */
const folders = (r: SieveResult): string[] => [...(r.keep ? ['keep'] : []), ...r.fileinto.map((f) => f.folder)];

function syntaxError(script: string): SieveError {
  try {
    compile(script);
  } catch (err) {
    if (err instanceof SieveError) return err;
    throw err;
  }
  throw new Error(`no error for ${JSON.stringify(script)}`);
}

const RFC5228_S9 = `#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
`;

test('RFC 5228 §9: the extended example files each kind of message where its comments say', () => {
  const list = message('Sender: owner-ietf-mta-filters@imc.org\nFrom: a@imc.org\nTo: me@example.com');
  assert.equal(folders(exec(RFC5228_S9, list)), ['filter']);
  const company = message('From: boss@EXAMPLE.COM\nTo: someone@elsewhere.org');
  assert.equal(folders(exec(RFC5228_S9, company)), ['keep']);
  const notToMe = message('From: x@other.org\nTo: you@other.org');
  assert.equal(folders(exec(RFC5228_S9, notToMe)), ['spam']);
  const spam = message(
    'From: x@other.org\nTo: list@other.org\nCc: "Me" <me@example.com>\nSubject: MAKE lots of Money really FAST',
  );
  assert.equal(folders(exec(RFC5228_S9, spam)), ['spam']);
  const diploma = message('From: x@other.org\nCc: me@example.com\nSubject: university diplomas');
  assert.equal(folders(exec(RFC5228_S9, diploma)), ['spam']);
  const personal = message('From: friend@other.org\nTo: friends@other.org\nBcc: me@example.com\nSubject: lunch?');
  assert.equal(folders(exec(RFC5228_S9, personal)), ['personal']);
});

test('RFC 5228 §3.1 and §4.2: if/elsif/else with redirect cancels implicit keep', () => {
  const script = `if header :contains ["From"] ["coyote"] {
     redirect "acm@example.com";
  } elsif header :contains "Subject" "$$$" {
     redirect "postmaster@example.com";
  } else {
     redirect "field@example.com";
  }`;
  assert.equal(exec(script, message('From: Wile E. Coyote <coyote@desert.example.org>')).redirect, ['acm@example.com']);
  assert.equal(exec(script, message('From: a@b.example\nSubject: win $$$ now')).redirect, ['postmaster@example.com']);
  const other = exec(script, message('From: a@b.example\nSubject: hi'));
  assert.equal(other.redirect, ['field@example.com']);
  assert.is(other.keep, null, 'redirect cancels the implicit keep');
});

test('RFC 5228 §4.3, §4.4, §5.1, §5.4, §5.5, §5.9: keep, discard, address, envelope, exists, size', () => {
  const sizeScript = 'if size :under 1M { keep; } else { discard; }';
  assert.equal(folders(exec(sizeScript, message('From: a@b.example'))), ['keep']);
  assert.equal(folders(exec(sizeScript, message('From: a@b.example', 'x'.repeat(1024 * 1024)))), []);
  assert.equal(
    folders(exec('if size :over 500K { discard; }', message('From: a@b.example', 'y'.repeat(600 * 1024)))),
    [],
  );

  const idiot = 'if header :contains ["from"] ["idiot@example.com"] { discard; }';
  assert.equal(folders(exec(idiot, message('From: The Idiot <IDIOT@example.com>'))), []);
  assert.equal(folders(exec(idiot, message('From: genius@example.com'))), ['keep']);

  const tim = 'if address :is :all "from" "tim@example.com" { discard; }';
  assert.equal(folders(exec(tim, message('From: "Tim" <tim@example.com>'))), []);
  assert.equal(folders(exec(tim, message('From: tim@example.com.evil'))), ['keep']);

  const env = 'require "envelope";\nif envelope :all :is "from" "tim@example.com" { discard; }';
  assert.equal(
    folders(exec(env, message('From: x@y.example', 'b', { from: 'tim@example.com', to: ['me@example.com'] }))),
    [],
  );
  assert.equal(
    folders(exec(env, message('From: tim@example.com', 'b', { from: 'other@example.com', to: ['me@example.com'] }))),
    ['keep'],
  );
  const envTo = 'require "envelope";\nif envelope :domain :is "to" "example.com" { discard; }';
  assert.equal(folders(exec(envTo, message('From: x@y.example'))), []);
  const nullSender = 'require "envelope";\nif envelope :localpart :is "from" "" { discard; }';
  assert.equal(
    folders(exec(nullSender, message('From: x@y.example', 'b', { from: '', to: ['me@example.com'] }))),
    [],
    'the null sender matches ""',
  );

  const exists = 'if not exists ["From","Date"] { discard; }';
  assert.equal(folders(exec(exists, message('From: a@b.example\nDate: Mon, 1 Jan 2024 00:00:00 +0000'))), ['keep']);
  assert.equal(folders(exec(exists, message('From: a@b.example'))), []);
});

test('RFC 5228 §2.7.1: :is, :contains, :matches with wildcards and escapes; comparators', () => {
  assert.ok(glob('*make*money*fast*', 'please make some money very fast!'));
  assert.ok(glob('a?c', 'abc'));
  assert.not.ok(glob('a?c', 'ac'));
  assert.ok(glob('\\*x\\?', '*x?'));
  assert.not.ok(glob('\\*x', 'yx'));
  assert.ok(glob('?', 'é'), '? matches one character, not one byte');
  assert.ok(glob('', ''));
  assert.not.ok(glob('', 'a'));
  // bounded: a pathological pattern against a long value finishes at once
  const started = Date.now();
  assert.not.ok(glob('*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)));
  assert.ok(Date.now() - started < 1000);

  const m = message('Subject: Hello World');
  assert.equal(
    folders(exec('if header :is "subject" "hello world" { discard; }', m)),
    [],
    'i;ascii-casemap is the default',
  );
  assert.equal(folders(exec('if header :comparator "i;octet" :is "subject" "hello world" { discard; }', m)), ['keep']);
  assert.equal(folders(exec('if header :comparator "i;octet" :contains "subject" "World" { discard; }', m)), []);
  assert.equal(
    folders(exec('if header :contains "x-missing" "" { discard; }', m)),
    ['keep'],
    'an absent header matches nothing',
  );
  assert.equal(
    folders(exec('if header :matches "subject" "*" { discard; }', message('Subject: =?utf-8?q?caf=C3=A9?='))),
    [],
  );
  assert.equal(
    folders(exec('if header :is "subject" "café" { discard; }', message('Subject: =?utf-8?q?caf=C3=A9?='))),
    [],
    'encoded-words are decoded',
  );
});

test('RFC 5228 §2.4: strings, multi-line text: with dot-stuffing, numbers with K/M/G, comments', () => {
  const script = `require ["reject"];
/* a bracketed
   comment */
if size :over 1G { discard; } # never
if header :contains "from" "coyote@desert.example.org" {
  reject text:
I am not taking mail from you, and I don't
want your birdseed, either!
..and a line that began with a dot
.
;
}`;
  const r = exec(script, message('From: coyote@desert.example.org'));
  assert.is(
    r.reject?.reason,
    "I am not taking mail from you, and I don't\r\nwant your birdseed, either!\r\n.and a line that began with a dot\r\n",
  );
  assert.is(r.keep, null);
  const quoted = compile('require "fileinto";\nfileinto "a\\"b\\\\c\\d";');
  assert.equal(quoted.commands[0], {
    type: 'fileinto',
    folder: 'a"b\\cd',
    flags: null,
    create: false,
    copy: false,
    line: 2,
    column: 1,
  });
});

test('validation errors name the line and column', () => {
  const cases: [string, number, number, RegExp][] = [
    ['keep;\nfileinto "x";', 2, 1, /command "fileinto" needs require "fileinto"/],
    ['vacationx "x";', 1, 1, /unknown command "vacationx"/],
    ['require "fileinto";\n  fileinto :flags "\\\\Seen" "x";', 2, 12, /needs require "imap4flags"/],
    ['if header :is "a" "b" {\n  keep;\n', 3, 1, /expected "}"/],
    ['if size 100 { keep; }', 1, 4, /:over or :under/],
    ['keep;\nrequire "fileinto";', 2, 1, /require must come before/],
    ['require "vacation-seconds";', 1, 9, /unsupported extension/],
    ['if header :is :contains "a" "b" { keep; }', 1, 15, /both a match type/],
    ['if header :comparator "i;unicode-casemap" :is "a" "b" { keep; }', 1, 23, /unsupported comparator/],
    ['else { keep; }', 1, 1, /without a preceding if/],
    ['redirect "not an address";', 1, 10, /email address/],
    ['keep', 1, 5, /expected ";" or "{"/],
    ['if true { keep; } "x";', 1, 19, /expected a command/],
    ['require "fileinto";\nfileinto "x"', 2, 13, /expected ";" or "\{" after fileinto but found end of script/],
    ['require "reject";\nreject text: junk\n.\n;', 2, 14, /end of line after "text:"/],
    ['discard "x";', 1, 9, /takes 0 positional/],
    ['if header :is "bad name" "x" { keep; }', 1, 15, /not a valid header field name/],
    ['keep; /* open', 1, 7, /unterminated comment/],
    ['if anyof () { keep; }', 1, 11, /expected a test/],
  ];
  for (const [script, line, column, message] of cases) {
    const err = syntaxError(script);
    assert.match(err.message, message, script);
    assert.equal([err.line, err.column], [line, column], `${script} → ${err.message}`);
  }
  assert.match(syntaxError('#'.repeat(MAX_SCRIPT_BYTES + 1)).message, /larger than/);
  let deep = 'keep;';
  for (let i = 0; i < 40; i++) deep = `if true { ${deep} }`;
  assert.match(syntaxError(deep).message, /nested too deep/);
});

test('RFC 5232: setflag/addflag/removeflag, :flags on fileinto and keep, hasflag, flags of implicit keep', () => {
  const boss = `require ["imap4flags", "fileinto"];
if header :contains "from" "boss@frobnitzm.example.edu" {
  setflag "\\\\Flagged";
  fileinto "From Boss";
}`;
  assert.equal(exec(boss, message('From: boss@frobnitzm.example.edu')).fileinto, [
    { folder: 'From Boss', flags: ['\\Flagged'], create: false },
  ]);
  const big = `require "imap4flags";
if size :over 1K { addflag ["\\\\Deleted", "Big"]; }
addflag "\\\\Seen Junk";
removeflag "junk";
if hasflag :contains "big" { addflag "HasBig"; }`;
  assert.equal(
    exec(big, message('From: a@b.example', 'z'.repeat(2000))).keep,
    { flags: ['\\Deleted', 'Big', '\\Seen', 'HasBig'] },
    'implicit keep takes the current flags',
  );
  assert.equal(exec(big, message('From: a@b.example')).keep, { flags: ['\\Seen'] });
  const explicit = `require ["imap4flags", "fileinto"];
setflag "\\\\Seen";
fileinto :flags "Archived" "Archive";
keep :flags ["\\\\Answered"];
fileinto "Other";`;
  const r = exec(explicit, message('From: a@b.example'));
  assert.equal(r.fileinto, [
    { folder: 'Archive', flags: ['Archived'], create: false },
    { folder: 'Other', flags: ['\\Seen'], create: false },
  ]);
  assert.equal(r.keep, { flags: ['\\Answered'] });
  const has = 'require "imap4flags";\nsetflag "A B";\nif hasflag :is "b" { discard; }';
  assert.equal(folders(exec(has, message('From: a@b.example'))), []);
});

test('RFC 5173: body :text, :content, :raw', () => {
  const mime = `From: a@b.example
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"`;
  const body = [
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'The project sched=',
    'ule is late. Caf=C3=A9.',
    '--b1',
    'Content-Type: text/html',
    '',
    '<p>MAKE <b>MONEY</b> FAST</p>',
    '--b1',
    'Content-Type: application/octet-stream',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('secret attachment words').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');
  const msg = message(mime, body);
  const t = (s: string) => folders(exec(`require ["body", "fileinto"];\n${s}`, msg));
  assert.equal(
    t('if body :text :contains "project schedule" { fileinto "project/schedule"; }'),
    ['project/schedule'],
    'quoted-printable decoded',
  );
  assert.equal(t('if body :contains "café" { discard; }'), [], ':text is the default, charset decoded');
  assert.equal(t('if body :text :contains "make money fast" { discard; }'), [], 'HTML is reduced to text');
  assert.equal(t('if body :text :contains "secret attachment" { discard; }'), ['keep'], ':text skips non-text parts');
  assert.equal(
    t('if body :content "application" :contains "secret attachment" { discard; }'),
    [],
    ':content decodes base64',
  );
  assert.equal(t('if body :content "text/html" :contains "project" { discard; }'), ['keep']);
  assert.equal(t('if body :content "text/html" :contains "<b>" { discard; }'), [], ':content keeps HTML markup');
  assert.equal(t('if body :raw :contains "sched=" { discard; }'), [], ':raw is undecoded');
  assert.equal(t('if body :raw :contains "secret attachment" { discard; }'), ['keep']);
});

test('RFC 5429: reject and ereject cancel keep; reject with keep or fileinto is a runtime error → implicit keep', () => {
  const r = exec(
    'require "ereject";\nif address :domain :is "from" "example.com" { ereject "I no longer accept mail from this domain"; }',
    message('From: x@example.com'),
  );
  assert.equal(r.reject, { reason: 'I no longer accept mail from this domain', extended: true });
  assert.is(r.keep, null);
  const conflict = exec('require ["reject", "fileinto"];\nfileinto "x";\nreject "no";', message('From: x@example.com'));
  assert.equal(conflict.fileinto, []);
  assert.equal(conflict.keep, { flags: [] });
  assert.match(conflict.error!, /reject cannot be combined/);
  const withDiscard = exec('require "reject";\nreject "no";\ndiscard;', message('From: x@example.com'));
  assert.is(withDiscard.error, null);
  assert.ok(withDiscard.reject);
});

test('RFC 5228 §2.10: implicit keep, stop, :copy, duplicate fileinto once, action and redirect limits', () => {
  assert.equal(folders(exec('', message('From: a@b.example'))), ['keep'], 'an empty script keeps');
  assert.equal(
    folders(exec('require "fileinto";\nfileinto "A";\nstop;\nfileinto "B";', message('From: a@b.example'))),
    ['A'],
  );
  assert.equal(
    folders(
      exec(
        'require ["fileinto", "copy"];\nfileinto :copy "A";\nredirect :copy "x@y.example";',
        message('From: a@b.example'),
      ),
    ),
    ['keep', 'A'],
  );
  assert.equal(folders(exec('require "fileinto";\nfileinto "A";\nfileinto "A";', message('From: a@b.example'))), ['A']);
  assert.equal(
    folders(exec('discard;\nkeep;', message('From: a@b.example'))),
    ['keep'],
    'explicit keep after discard still keeps',
  );
  const many = Array.from({ length: LIMITS.maxRedirects + 1 }, (_, i) => `redirect "r${i}@example.org";`).join('\n');
  const r = exec(many, message('From: a@b.example'));
  assert.match(r.error!, /redirects/);
  assert.equal(r.redirect, []);
  assert.equal(r.keep, { flags: [] });
  const actions = Array.from({ length: LIMITS.maxActions + 1 }, (_, i) => `fileinto "f${i}";`).join('\n');
  assert.match(exec(`require "fileinto";\n${actions}`, message('From: a@b.example')).error!, /actions/);
  const slow = run(compile('if header :contains "subject" "x" { keep; }'), message('Subject: y'), {
    ...LIMITS,
    timeMs: -1,
  });
  assert.match(slow.error!, /out of time/);
});

test("RFC 5231 §6: :count counts fields or addresses, :value compares in the comparator's order", () => {
  const m = message(
    'Received: from a\nReceived: from b\nSubject: example\nTo: foo@example.com, baz@example.com\nCC: qux@example.com\nX-Priority: 2',
  );
  const is = (test: string) =>
    folders(exec(`require ["relational", "comparator-i;ascii-numeric"];\nif ${test} { discard; }`, m)).length === 0;
  const numeric = ':comparator "i;ascii-numeric"';
  assert.ok(is(`address :count "ge" ${numeric} ["to", "cc"] ["3"]`));
  assert.not.ok(is(`anyof (address :count "ge" ${numeric} ["to"] ["3"], address :count "ge" ${numeric} ["cc"] ["3"])`));
  assert.not.ok(is(`header :count "ge" ${numeric} ["received"] ["3"]`));
  assert.ok(is(`header :count "ge" ${numeric} ["received", "subject"] ["3"]`));
  assert.not.ok(is(`header :count "ge" ${numeric} ["to", "cc"] ["3"]`), 'fields are counted, not addresses');
  assert.ok(is(`header :value "lt" ${numeric} "x-priority" "3"`));
  assert.not.ok(is(`header :value "lt" ${numeric} "x-priority" "2"`));
  assert.ok(is(`header :value "eq" ${numeric} "x-priority" "002"`), 'leading zeros do not count');
  assert.ok(is(`header :value "gt" ${numeric} "subject" "99999999999999999999999"`), 'no digits: infinity');
  assert.ok(is(`header :is ${numeric} "x-priority" "2"`));
  assert.ok(is('header :value "gt" "subject" "EXAMPLD"'), 'i;ascii-casemap orders case-blind');
  assert.not.ok(is('header :value "gt" :comparator "i;octet" "subject" "f"'));
  assert.ok(is('header :value "NE" "subject" "other"'), 'the operator is case-blind');

  assert.match(
    syntaxError('require "relational";\nif header :value "gte" "subject" "x" { stop; }').message,
    /:value needs one of/,
  );
  assert.match(syntaxError('if header :value "gt" "subject" "x" { stop; }').message, /needs require "relational"/);
  assert.match(
    syntaxError('if header :comparator "i;ascii-numeric" :is "subject" "1" { stop; }').message,
    /needs require "comparator-i;ascii-numeric"/,
  );
  assert.match(
    syntaxError(
      'require "comparator-i;ascii-numeric";\nif header :comparator "i;ascii-numeric" :contains "subject" "1" { stop; }',
    ).message,
    /cannot do :contains/,
  );
});

test('RFC 5235: spamtest and spamtest :percent read the classify verdict; 0 when nothing classified it', () => {
  const spam = (score: number, junk = score >= 5): SpamStatus => ({ score, junkScore: 5, junk });
  assert.equal(spamtestValue(null, false), '0');
  assert.equal(spamtestValue(null, true), '0');
  assert.equal(spamtestValue(spam(-2.5), false), '1');
  assert.equal(spamtestValue(spam(0), false), '1');
  assert.equal(spamtestValue(spam(0.1), false), '2');
  assert.equal(spamtestValue(spam(2.5), false), '5');
  assert.equal(spamtestValue(spam(4.99), false), '9');
  assert.equal(spamtestValue(spam(5), false), '10');
  assert.equal(spamtestValue(spam(1, true), false), '10', 'Junk for another reason (DMARC quarantine) is 10');
  assert.equal(spamtestValue(spam(-1), true), '0');
  assert.equal(spamtestValue(spam(2.5), true), '50');
  assert.equal(spamtestValue(spam(4.99), true), '99');
  assert.equal(spamtestValue(spam(12), true), '100');

  // RFC 5235's two examples, with the folder names as printed.
  const example1 = `require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.unclassified";
}
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "3"
{
    fileinto "INBOX.spam-trap";
}`;
  const example2 = `require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.unclassified";
}
elsif spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0"
{
    fileinto "INBOX.not-spam";
}
elsif spamtest :percent :value "lt" :comparator "i;ascii-numeric" "37"
{
    fileinto "INBOX.spam-trap";
}
else
{
    discard;
}`;
  const scored = (status: SpamStatus | null) =>
    new SieveMessage(
      Buffer.from('Subject: x\r\n\r\nHello.\r\n'),
      { from: 'a@b.example', to: ['me@example.com'] },
      status,
    );
  assert.equal(folders(exec(example1, scored(null))), ['INBOX.unclassified']);
  assert.equal(folders(exec(example1, scored(spam(0)))), ['keep']);
  assert.equal(folders(exec(example1, scored(spam(1.5)))), ['INBOX.spam-trap'], '1.5 of 5 points is 4');
  assert.equal(folders(exec(example2, scored(null))), ['INBOX.unclassified']);
  assert.equal(folders(exec(example2, scored(spam(-1)))), ['INBOX.not-spam']);
  assert.equal(folders(exec(example2, scored(spam(1.8)))), ['INBOX.spam-trap'], '36%');
  assert.equal(folders(exec(example2, scored(spam(1.85)))), [], '37%: discarded');

  assert.match(syntaxError('if spamtest "5" { stop; }').message, /needs require "spamtest"/);
  assert.match(
    syntaxError('require "spamtest";\nif spamtest :percent "5" { stop; }').message,
    /needs require "spamtestplus"/,
  );
});

test.run();
