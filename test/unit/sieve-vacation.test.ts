// RFC 5230 (vacation) examples parsed and run, the RFC 3834 no-reply rules, and the reply itself.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readHeader } from '../../src/mime/headers.ts';
import { SieveMessage } from '../../src/sieve/message.ts';
import { run } from '../../src/sieve/run.ts';
import { buildReply, clampDays, refusalReason, vacationHandle } from '../../src/sieve/vacation.ts';
import { compile, type Vacation } from '../../src/sieve/validate.ts';

const ME = ['me@example.edu'];
const message = (header: string, from = 'sender@example.org') =>
  new SieveMessage(Buffer.from(`${header.trim().replace(/\r?\n/g, '\r\n')}\r\n\r\nHi.\r\n`), { from, to: ME });
const base = 'From: Sender <sender@example.org>\nTo: me@example.edu\nSubject: Lunch\nMessage-ID: <m1@example.org>';
const vacationOf = (script: string, msg = message(base)): Vacation => run(compile(script), msg).vacation!;

test('RFC 5230 §3 and §4 examples parse and run', () => {
  const cyrus = `require "vacation";
if header :contains "subject" "cyrus" {
    vacation "I'm out -- send mail to cyrus-bugs";
} else {
    vacation "I'm out -- call me at +1 304 555 0123";
}`;
  assert.is(vacationOf(cyrus, message(`${base}\nSubject: cyrus crashed`)).reason, "I'm out -- send mail to cyrus-bugs");
  assert.is(vacationOf(cyrus).reason, "I'm out -- call me at +1 304 555 0123");

  const days = `require "vacation";
vacation :days 23 :addresses ["tjs@example.edu",
                              "ts4z@landru.example.edu"]
"I'm away until October 19.
If it's an emergency, call 911, I guess." ;`;
  const v = vacationOf(days);
  assert.is(v.days, 23);
  assert.equal(v.addresses, ['tjs@example.edu', 'ts4z@landru.example.edu']);
  assert.is(v.reason, "I'm away until October 19.\r\nIf it's an emergency, call 911, I guess.");

  const boss = `require "vacation";
if header :contains "from" "boss@example.edu" {
    redirect "pleeeeeeease-help@example.edu";
} else {
    vacation "Sorry, I'm away, I'll read your message when I get around to it.";
}`;
  const fromBoss = run(compile(boss), message(`${base}\nFrom: boss@example.edu`));
  assert.equal(fromBoss.redirect, ['pleeeeeeease-help@example.edu']);
  assert.is(fromBoss.vacation, null);
  const other = run(compile(boss), message(base));
  assert.ok(other.vacation);
  assert.ok(other.keep, 'vacation does not cancel the implicit keep');

  const handle = `require "vacation";
vacation :handle "ran-away" :subject "Gone fishing" :from "me@example.edu" "I'm out and can't even read my mail.";`;
  const h = vacationOf(handle);
  assert.equal([h.handle, h.subject, h.from, h.days], ['ran-away', 'Gone fishing', 'me@example.edu', 7]);
  assert.is(vacationHandle(h), 'h:ran-away');
});

test('RFC 5230 §4.2: the derived handle changes with the reply and not otherwise', () => {
  const a = vacationOf('require "vacation";\nvacation "one";');
  const b = vacationOf('require "vacation";\nvacation "one";');
  const c = vacationOf('require "vacation";\nvacation :subject "x" "one";');
  assert.is(vacationHandle(a), vacationHandle(b));
  assert.is.not(vacationHandle(a), vacationHandle(c));
  assert.is(clampDays(0), 1);
  assert.is(clampDays(10_000), 365);
});

test('RFC 3834 / RFC 5230 §4.5-4.6: who never gets a vacation reply', () => {
  assert.is(refusalReason(message(base), ME), null, 'a personal message gets one');
  assert.is(
    refusalReason(message(base.replace('To: me@example.edu', 'Cc: Me <ME@example.edu>')), ME),
    null,
    'Cc counts, case-insensitively',
  );
  const cases: [string, string, RegExp][] = [
    [base, '', /null envelope sender/],
    [base, 'MAILER-DAEMON@example.org', /mail system/],
    [base, 'owner-list@example.org', /list or mail system/],
    [base, 'list-request@example.org', /list or mail system/],
    [`${base}\nAuto-Submitted: auto-replied`, 'sender@example.org', /Auto-Submitted/],
    [`${base}\nAuto-Submitted: auto-generated; type=dsn`, 'sender@example.org', /Auto-Submitted/],
    [`${base}\nList-Id: <news.example.org>`, 'sender@example.org', /list-id/],
    [`${base}\nList-Unsubscribe: <mailto:u@example.org>`, 'sender@example.org', /list-unsubscribe/],
    [`${base}\nPrecedence: bulk`, 'sender@example.org', /bulk/],
    [`${base}\nPrecedence: list`, 'sender@example.org', /list/],
    [`${base}\nPrecedence: junk`, 'sender@example.org', /junk/],
    [base.replace('To: me@example.edu', 'To: someone@example.edu'), 'sender@example.org', /not in To\/Cc/],
    [base, 'me@example.edu', /recipient itself/],
  ];
  for (const [header, from, reason] of cases)
    assert.match(refusalReason(message(header, from), ME) ?? 'null', reason, `${from} ${header}`);
  assert.is(refusalReason(message(`${base}\nAuto-Submitted: no`), ME), null, 'Auto-Submitted: no is a person');
  assert.is(
    refusalReason(message(base.replace('To: me@example.edu', 'To: alias@example.edu')), [...ME, 'alias@example.edu']),
    null,
    ':addresses widen the check',
  );
});

test('RFC 5230 §5: the reply has the threading fields, Auto-Submitted and the right subject', () => {
  const msg = message(`${base}\nReferences: <m0@example.org>`);
  const v = vacationOf('require "vacation";\nvacation "Away until Monday. Déjà vu.";', msg);
  const raw = buildReply({
    message: msg,
    vacation: v,
    from: 'me@example.edu',
    hostname: 'mx.example.edu',
    now: Date.UTC(2024, 0, 1),
  });
  const { fields, bodyStart } = readHeader(raw, 0, raw.length);
  const get = (n: string) => fields.find((f) => f.name === n)?.value;
  assert.is(get('from'), 'me@example.edu');
  assert.is(get('to'), '<sender@example.org>');
  assert.is(get('subject'), 'Auto: Lunch');
  assert.is(get('in-reply-to'), '<m1@example.org>');
  assert.is(get('references'), '<m0@example.org> <m1@example.org>');
  assert.is(get('auto-submitted'), 'auto-replied');
  assert.match(get('message-id')!, /@mx\.example\.edu>$/);
  assert.is(
    Buffer.from(raw.subarray(bodyStart).toString(), 'base64').toString('utf8'),
    'Away until Monday. Déjà vu.\r\n',
  );
  assert.not.match(raw.toString('latin1'), /(^|[^\r])\n/, 'CRLF line ends only');
});

test('RFC 5230 §5.1: :mime takes the reason as a MIME entity', () => {
  const script = `require "vacation";
vacation :mime text:
Content-Type: multipart/alternative; boundary=foo

--foo

I'm at the beach relaxing.  Mmmm, surf...

--foo
Content-Type: text/html; charset=us-ascii

<HTML><BODY><P>I'm at the <A HREF="beach.gif">beach</A> relaxing.
</BODY></HTML>

--foo--
.
;`;
  const msg = message(base);
  const v = vacationOf(script, msg);
  assert.ok(v.mime);
  const raw = buildReply({
    message: msg,
    vacation: { ...v, subject: 'Fériés' },
    from: 'me@example.edu',
    hostname: 'mx.example.edu',
  });
  const text = raw.toString('utf8');
  const { fields } = readHeader(raw, 0, raw.length);
  assert.is(fields.find((f) => f.name === 'content-type')?.value, 'multipart/alternative; boundary=foo');
  assert.match(fields.find((f) => f.name === 'subject')!.value, /^=\?UTF-8\?Q\?/i, 'non-ASCII subject is encoded');
  assert.match(text, /\r\n\r\n--foo\r\n\r\nI'm at the beach relaxing/);
  assert.match(text, /--foo--\r\n$/);
});

test.run();
