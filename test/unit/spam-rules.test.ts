import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AuthVerdict } from '../../src/dns/auth-verdict.ts';
import { classify } from '../../src/inbound/classify.ts';
import { parseHeaders } from '../../src/mime/parsed-headers.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { junkKeywords } from '../../src/spam/keywords.ts';
import { headerRules } from '../../src/spam/rules.ts';
import type { SpamInput, SpamScorer } from '../../src/spam/types.ts';

const clean: AuthVerdict = {
  spf: { result: 'pass', domain: 'sender.test' },
  dkim: [{ result: 'pass', domain: 'sender.test', selector: 's', aligned: true, comment: null }],
  dmarc: { result: 'pass', domain: 'sender.test', policy: 'reject' },
  arc: 'none',
  bimi: 'none',
  action: 'none',
};
const full = 'From: a@sender.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nx\r\n';

function input(auth: Partial<AuthVerdict>, head = full, fromHosted = false): SpamInput {
  const raw = Buffer.from(head);
  return {
    raw,
    headers: parseHeaders(raw),
    auth: { ...clean, ...auth },
    mailFrom: 'a@sender.test',
    fromHosted,
    accountIds: [],
  };
}
const rules = (i: SpamInput) => (headerRules.score(i) as { rule: string }[]).map((h) => h.rule);
/** The header rules a whole message with this Subject fires. */
const subjectRules = (subject: string) => rules(input({}, `Subject: ${subject}\r\n${full}`));
/** Each subject is read in well under a second: the rule walks it by hand instead of a backtracking regex. */
function assertLinear(subjects: string[]): void {
  for (const subject of subjects) {
    const started = performance.now();
    subjectRules(subject);
    assert.ok(performance.now() - started < 500, `${subject.length} characters: ${performance.now() - started} ms`);
  }
}

test('a clean, authenticated message hits nothing', () => {
  assert.equal(rules(input({})), []);
});

test('Date far from every Received time, or in a zone no place has; quoted-printable lines past 76', () => {
  const received = (when: string) => `Received: from mx.sender.test by mx.example.test; ${when}\r\n`;
  const message = (date: string, trace: string[], body = 'x\r\n', extra = '') =>
    input({}, `${trace.join('')}From: a@sender.test\r\nDate: ${date}\r\nMessage-ID: <1@x>\r\n${extra}\r\n${body}`);
  const sent = 'Mon, 1 Jan 2024 10:00:00 +0000';
  assert.equal(rules(message(sent, [received('Mon, 1 Jan 2024 10:00:05 +0000')])), []);
  assert.equal(rules(message('Mon, 1 Jan 2024 17:00:00 +0000', [received(sent)])), ['DATE_FAR_FROM_RECEIVED'], 'ahead');
  assert.equal(
    rules(message('Wed, 27 Dec 2023 09:00:00 +0000', [received(sent)])),
    ['DATE_FAR_FROM_RECEIVED'],
    'behind',
  );
  assert.equal(rules(message('Mon, 1 Jan 2024 13:00:00 +0000', [received(sent)])), [], 'a clock 3 h off');
  assert.equal(rules(message('Mon, 1 Jan 2024 15:30:00 +0530 (IST)', [received(sent)])), [], 'the same instant');
  // Fetched a week later: fetchmail's Received on top, the first hop's near the Date.
  assert.equal(rules(message(sent, [received('Mon, 8 Jan 2024 09:00:00 +0000'), received(sent)])), []);
  assert.equal(rules(message(sent, [])), [], 'no Received: nothing to compare with');

  for (const zone of ['+1500', '-1300', '+0017', '+1430', '-1230', '+9900'])
    assert.ok(rules(message(`Mon, 1 Jan 2024 10:00:00 ${zone}`, [])).includes('DATE_ZONE_INVALID'), zone);
  for (const zone of ['+1400', '-1200', '+0545', '-0930', '+1245', '+1345', '-0000'])
    assert.not.ok(rules(message(`Mon, 1 Jan 2024 10:00:00 ${zone}`, [])).includes('DATE_ZONE_INVALID'), zone);

  const qp = (line: string) =>
    rules(
      message(
        sent,
        [],
        `${line}\r\nnext\r\n`,
        'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n',
      ),
    );
  assert.equal(qp('a'.repeat(76)), []);
  assert.equal(qp(`${'a'.repeat(75)}=`), [], 'a soft break at 76');
  assert.equal(qp('a'.repeat(77)), ['QP_LONG_LINE']);
  assert.equal(qp(`short\r\n${'b'.repeat(200)}`), ['QP_LONG_LINE'], 'on any line');
  assert.equal(
    rules(message(sent, [], `${'a'.repeat(200)}\r\n`, 'Content-Type: text/plain\r\n')),
    [],
    'long lines are only a fault in quoted-printable',
  );
});

test('the hop where the mail came in: a greeting that is no domain, a home-line reverse DNS name', () => {
  const via = (...hops: string[]) => rules(input({}, `${hops.map((h) => `Received: ${h}\r\n`).join('')}${full}`));
  const at = '; Mon, 1 Jan 2024 00:00:01 +0000';
  const wren = (helo: string, rdns: string, ip = '64.131.126.36') =>
    `from ${helo} (${rdns} [${ip}])\r\n\tby mx.example.test (Wren Mail) with ESMTP id 1${at}`;
  assert.equal(via(wren('mail.sender.test', 'mail.sender.test')), []);
  assert.equal(via(wren('commander', 'mail.sender.test')), ['HELO_NO_DOMAIN']);
  assert.equal(via(wren('[64.131.126.36]', 'mail.sender.test')), [], 'an address literal is allowed (RFC 5321)');
  for (const rdns of [
    'adsl-216-103-211-240.dsl.pacbell.net',
    '146-115-228-77.c3-0.cable.rcn.com',
    'dyn.isp.test',
    'pool-7.isp.test',
  ])
    assert.equal(via(wren('mail.sender.test', rdns)), ['RDNS_DYNAMIC'], rdns);
  assert.equal(via(wren('mail.sender.test', 'unknown')), [], 'no reverse DNS is not a home line');
  assert.equal(via(wren('pc1', 'ppp-7.isp.test')), ['HELO_NO_DOMAIN', 'RDNS_DYNAMIC']);
  assert.equal(
    via(wren('64.131.126.36', 'mail.sender.test')),
    ['HELO_BAD_ADDRESS'],
    'a bare address (RFC 5321 §4.1.3)',
  );
  assert.equal(via(wren('[10.1.2.3]', 'mail.sender.test')), ['HELO_BAD_ADDRESS'], 'the literal of another address');
  // The newest hop from a public address: a private relay or a pick-up on top is passed over.
  assert.equal(
    via(`from localhost (localhost [127.0.0.1])${at}`, wren('pc1', 'mail.sender.test'), wren('dsl', 'x', '10.0.0.2')),
    ['HELO_NO_DOMAIN'],
  );
  assert.equal(via(wren('mail.sender.test', 'mail.sender.test'), wren('pc1', 'ppp-7.isp.test')), [], 'only that hop');

  // Mail being received over SMTP: this session's client is the hop (Wren's Received is written after).
  const today = full.replace(/Date: [^\r]*/, `Date: ${new Date().toUTCString()}`);
  const live = (clientIp: string, helo: string, hostname: string | null, head = today) =>
    rules({ ...input({}, head), clientIp, envelope: { rcptTo: ['u@example.test'], helo, hostname } });
  assert.equal(live('64.131.126.36', 'pc1', 'adsl-64-131-126-36.isp.test'), ['HELO_NO_DOMAIN', 'RDNS_DYNAMIC']);
  assert.equal(live('64.131.126.36', 'mail.sender.test', 'mail.sender.test'), []);
  assert.equal(live('64.131.126.36', 'mail.sender.test', null), [], 'no reverse DNS');
  assert.equal(live('64.131.126.36', '[64.131.126.36]', null), [], 'its own address literal');
  assert.equal(live('64.131.126.36', '[192.0.2.7]', null), ['HELO_BAD_ADDRESS']);
  // From a private address (a relay of the site's own) the Received fields tell where it came in.
  assert.equal(live('10.0.0.2', 'relay', 'relay.lan', `Received: ${wren('pc1', 'mail.sender.test')}\r\n${today}`), [
    'HELO_NO_DOMAIN',
  ]);
});

test('a free-mail From that neither came through nor was signed by the provider', () => {
  const unsigned = { dkim: [], spf: { result: 'none' as const, domain: null } };
  const message = (from: string, extra = '') =>
    rules(
      input(
        unsigned,
        `${extra}From: Ann <${from}>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nx\r\n`,
      ),
    );
  const hop = (host: string) =>
    `Received: from ${host} (${host} [64.4.1.2])\r\n\tby mx.example.test; Mon, 1 Jan 2024 00:00:01 +0000\r\n`;
  for (const from of ['ann@gmail.com', 'ann@yahoo.co.uk', 'ann@hotmail.fr', 'ann@aol.com', 'ann@gmx.de'])
    assert.equal(message(from, hop('pc1.isp.test')), ['FREEMAIL_NOT_VIA_PROVIDER'], from);
  assert.equal(message('ann@gmail.com', hop('mail-ed1-f41.google.com')), [], "through Google's servers");
  // The name the receiving server looked up counts, not the one the client greeted with.
  const greeted = (helo: string, comment: string) =>
    `Received: from ${helo} (${comment})\r\n\tby mx.example.test; Mon, 1 Jan 2024 00:00:01 +0000\r\n`;
  for (const [helo, comment] of [
    ['mx1.mail.yahoo.com', 'pc1.isp.test [61.50.141.181]'],
    ['yahoo.com', '[61.50.141.181]'],
    ['[61.50.141.181]', 'HELO mx1.mail.yahoo.com'],
    ['pc1.isp.test', '[61.50.141.181] helo=mx1.mail.yahoo.com'],
  ])
    assert.equal(
      message('ann@yahoo.com', greeted(helo!, comment!)),
      ['FREEMAIL_NOT_VIA_PROVIDER'],
      `${helo} (${comment})`,
    );
  assert.equal(message('ann@yahoo.com', greeted('web12.mail.yahoo.com', 'web12.mail.yahoo.com [66.218.1.2]')), []);
  const outside = hop('pc1.isp.test');
  assert.equal(
    message('ann@yahoo.com', `${outside}DomainKey-Signature: a=rsa-sha1; d=yahoo.com; b=x\r\n`),
    [],
    'DomainKeys',
  );
  // A long comment is read in linear time (a host-name pattern took 3 s over 60,000 letters or brackets).
  for (const comment of ['a'.repeat(60_000), '['.repeat(60_000)]) {
    const started = performance.now();
    assert.equal(message('ann@yahoo.com', greeted('pc1.isp.test', comment)), ['FREEMAIL_NOT_VIA_PROVIDER']);
    assert.ok(performance.now() - started < 500, `${comment[0]} × 60,000: ${performance.now() - started} ms`);
  }
  assert.equal(message('ann@hotmail.com', hop('eur05-am6-obe.outbound.protection.outlook.com')), [], 'Outlook.com');
  assert.equal(
    message('ann@aol.com', hop('sonic310-21.consmr.mail.ne1.yahoo.com')),
    [],
    "AOL's mail goes through Yahoo",
  );
  assert.equal(
    message('ann@gmail.com', `${outside}DKIM-Signature: v=1; a=rsa-sha256; d=gmail.com; s=20230601; b=x\r\n`),
    [],
  );
  assert.equal(
    message('ann@gmail.com', `${outside}List-Id: <users.lists.example.test>\r\n`),
    [],
    'a list may rewrite the trace',
  );
  assert.equal(message('ann@gmail.com', `${outside}In-Reply-To: <0@example.test>\r\n`), [], 'a reply');
  // No Received field and not being received now: a saved or pasted copy, whose way was never recorded.
  assert.equal(message('ann@me.com'), [], 'a copy with no trace');
  assert.equal(message('ann@sender.test', hop('pc1.isp.test')), [], 'not a free-mail domain');
  assert.equal(message('ann@notgmail.com', hop('pc1.isp.test')), []);
  // Mail being received now: the SMTP client's name, or a passing SPF check, is the provider's.
  const live = (hostname: string, spf: AuthVerdict['spf']) =>
    rules({
      ...input(
        { dkim: [], spf },
        `From: ann@gmail.com\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <1@x>\r\n\r\nx\r\n`,
      ),
      clientIp: '209.85.208.41',
      envelope: { rcptTo: ['u@example.test'], helo: hostname, hostname },
    });
  assert.equal(live('mail-ed1-f41.google.com', { result: 'none', domain: null }), []);
  assert.equal(live('mx.example.test', { result: 'pass', domain: 'gmail.com' }), []);
  assert.equal(live('mx.example.test', { result: 'none', domain: null }), ['FREEMAIL_NOT_VIA_PROVIDER']);
});

test("Outlook's fingerprint: the Message-ID form of the program X-Mailer names, and X-MimeOLE beside it", () => {
  const message = (mailer: string | null, id: string, extra = '') =>
    rules(
      input(
        {},
        `From: a@sender.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: ${id}\r\n${
          mailer === null ? '' : `X-Mailer: ${mailer}\r\n`
        }${extra}\r\nx\r\n`,
      ),
    );
  const oe = 'Microsoft Outlook Express 6.00.2800.1106';
  const oeId = '<000801c2664f$4d5a1de0$0200a8c0@pc>';
  const mimeole = 'X-MimeOLE: Produced By Microsoft MimeOLE V6.00.2800.1106\r\n';
  assert.equal(message(oe, oeId, mimeole), [], 'as Outlook Express writes it');
  assert.equal(message(oe, '<200208231511.QAA01654@relay.test>'), ['MUA_FORGED_OUTLOOK']);
  assert.equal(message('Microsoft Outlook, Build 10.0.2616', '<ab12@sender.test>'), ['MUA_FORGED_OUTLOOK']);
  assert.equal(message(oe, '<OE34qP02iZVWmLqLi0x0001fbb1@hotmail.com>', mimeole), [], "Hotmail's web mail");
  assert.equal(message(oe, '<BAY141-DAV13771B0C488B63AF5DD3728F520@phx.gbl>', mimeole), [], 'and its later form');
  assert.equal(message(oe, '<0F2A4B6C8D0E1F2A3B4C5D6E7F8A9B0C@pc>', mimeole), [], 'Windows Mail');
  assert.equal(message('Microsoft Office Outlook 12.0', '<ab12@sender.test>'), [], 'a later Outlook writes others');
  assert.equal(message(null, oeId), ['MSGID_OUTLOOK_NO_MIMEOLE']);
  assert.equal(message(oe, oeId), ['MSGID_OUTLOOK_NO_MIMEOLE']);
  const exchange =
    'Received: from pc by mail.sender.test with Microsoft SMTPSVC(5.0.2195.5329); Mon, 1 Jan 2024 00:00:01 +0000\r\n';
  assert.equal(message(null, oeId, exchange), [], 'an Exchange server on the way rewrites the header');
  const to = (value: string, extra = '') => message(oe, oeId, `${mimeole}To: ${value}\r\n${extra}`);
  assert.equal(to('<user@example.test>'), []);
  assert.equal(to('"User" <user@example.test>'), []);
  assert.equal(to('user@example.test'), ['MUA_OUTLOOK_BARE_TO']);
  assert.equal(to('user@example.test', 'In-Reply-To: <1@example.test>\r\n'), [], 'a reply keeps what it answers');
  assert.equal(to('undisclosed-recipients:;'), []);
});

test('a bounce address that names the recipient (VERP) is a list manager: the rules that spare lists spare it', () => {
  const head = `From: News <news@sender.test>\r\nTo: jose@example.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <000801c2664f$4d5a1de0$0200a8c0@pc>\r\nX-Mailer: Microsoft Outlook Express 6.00.2800.1106\r\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2800.1106\r\n`;
  const withBounce = (mailFrom: string, returnPath = '') => {
    const raw = Buffer.from(`${returnPath}${head}\r\nx\r\n`);
    return rules({ ...input({}, raw.toString()), mailFrom });
  };
  assert.equal(withBounce('bounce@sender.test'), ['MUA_OUTLOOK_BARE_TO']);
  assert.equal(withBounce('news-bounces-jose=example.test@sender.test'), []);
  // Classified again (the API, training), the envelope is the Return-Path a delivery wrote.
  assert.equal(withBounce('', 'Return-Path: <news-bounces-jose=example.test@sender.test>\r\n'), []);
  // Another recipient's address in it, or an '=' alone, is not this recipient's.
  assert.equal(withBounce('news-bounces-ana=example.test@sender.test'), ['MUA_OUTLOOK_BARE_TO']);
  assert.equal(withBounce('srs0=abcd=example.test=news@sender.test'), ['MUA_OUTLOOK_BARE_TO']);
});

test('the Message-ID form of The Bat!, Netscape 4 and Eudora, when X-Mailer names them', () => {
  const message = (mailer: string, id: string, extra = '') =>
    rules(
      input(
        {},
        `From: a@sender.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: ${id}\r\nX-Mailer: ${mailer}\r\n${extra}\r\nx\r\n`,
      ),
    );
  const written: [string, string][] = [
    ['The Bat! (v1.52f) Business', '<1461387592.20020822190634@sender.test>'],
    ['Mozilla 4.78 [en] (Win95; I)', '<3D7CCC7F.F8EBCAE@sender.test>'],
    ['QUALCOMM Windows Eudora Version 5.1', '<5.1.0.14.2.20020806095617.02a5e4e8@pop.sender.test>'],
    ['QUALCOMM Windows Eudora Light Version 3.0.6 (32)', '<3.0.6.32.20020719145116.0097c930@pop.sender.test>'],
  ];
  for (const [mailer, id] of written) {
    assert.equal(message(mailer, id), [], `as ${mailer} writes it`);
    assert.equal(message(mailer, '<GZP9NX00.Q05@www.sender.test>'), ['MUA_FORGED_MESSAGE_ID'], mailer);
  }
  assert.equal(message('The Bat! (v3.5)', '<LYRIS-1-2@lists.test>', 'List-Id: <l.lists.test>\r\n'), [], 'a list');
  assert.equal(message('Mozilla/5.0 Thunderbird', '<a.b@sender.test>'), [], 'another program');
  // Anchored, with one way to match: linear on long ids.
  for (const id of [`<${'1'.repeat(60_000)}>`, `<${'1.'.repeat(30_000)}>`, `<1.12345678901234@${'a'.repeat(60_000)}`]) {
    const started = performance.now();
    message('QUALCOMM Windows Eudora Version 5.1', id);
    message('The Bat! (v1.52f)', id);
    assert.ok(performance.now() - started < 500, `${id.length} characters: ${performance.now() - started} ms`);
  }
});

test("impersonation in From's display name: another domain's address, the recipient's own organisation", () => {
  const message = (from: string, to = 'you@acme-widgets.test', extra = '') =>
    rules(
      input(
        {},
        `${extra}From: ${from}\r\nTo: ${to}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nx\r\n`,
      ),
    );
  assert.equal(message('"billing@acme-bank.test" <notice@mailer-88.test>'), ['FROM_NAME_OTHER_ADDRESS']);
  assert.equal(
    message('=?utf-8?Q?service=40bank=2Eexample?= <x@elsewhere.test>'),
    ['FROM_NAME_OTHER_ADDRESS'],
    'encoded',
  );
  assert.equal(message('"ann@sender.test" <ann@sender.test>'), [], 'its own address');
  assert.equal(message('"ann@sender.test [via Relay]" <r1@relay.test>'), [], 'a relay that says so');
  // A long name is read in linear time (unbounded, 20,000 characters took 0.4 s; 64 KB, seconds).
  for (const name of ['a'.repeat(60_000), `${'a.'.repeat(30_000)}@`]) {
    const started = performance.now();
    assert.equal(message(`"${name}" <x@y.test>`), []);
    assert.ok(performance.now() - started < 500, `${name.length} characters: ${performance.now() - started} ms`);
  }
  assert.equal(message('"ann@sender.test" <ann@mail.sender.test>'), [], 'its own domain');
  assert.equal(message('"ann@sender.test" <list@lists.test>', undefined, 'List-Id: <l.lists.test>\r\n'), [], 'a list');

  assert.equal(message('"Acme-Widgets IT Desk" <it@helpdesk-7.test>'), ['FROM_NAME_RECIPIENT_DOMAIN']);
  assert.equal(message('"acme-widgets.test mail server" <admin@srv.test>'), ['FROM_NAME_RECIPIENT_DOMAIN']);
  assert.equal(message('"Acme-Widgets IT Desk" <it@acme-widgets.test>'), [], 'from the organisation itself');
  assert.equal(message('"Acme-Widgets UK" <uk@acme-widgets.co.uk>'), [], 'its other country domain');
  assert.equal(message('"Gmail Team" <mail-noreply@google.com>', 'you@gmail.com'), [], "a free-mail provider's notice");
  assert.equal(message('"Acme-Widgetsfan" <fan@club.test>'), [], 'a word that only contains the name');
  for (const to of ['you@(acme.test', 'you@[acme.test', 'you@ac+me*.test', 'you@acme\\.test'])
    assert.equal(message('"Acme IT" <it@x.test>', to), [], `a recipient domain with pattern characters: ${to}`);
  // Over SMTP the envelope's recipients are the recipients.
  const live = rules({
    ...input(
      {},
      'From: "Acme-Widgets Payroll" <pay@hr-portal.test>\r\nTo: undisclosed-recipients:;\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nx\r\n',
    ),
    envelope: { rcptTo: ['you@acme-widgets.test'] },
  });
  assert.equal(live, ['FROM_NAME_RECIPIENT_DOMAIN']);
});

test("the recipient's address in the subject or in the greeting, as phishing kits fill it in", () => {
  const message = (subject: string, text: string, extra = '', to = 'Jose <jose@acme-widgets.test>') =>
    rules(
      input(
        {},
        `${extra}From: "Mail Admin" <admin@sender.test>\r\nTo: ${to}\r\nSubject: ${subject}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\n${text}\r\n`,
      ),
    );
  assert.equal(message('Password for jose@acme-widgets.test expires today', 'Keep it.'), ['SUBJECT_NAMES_RECIPIENT']);
  assert.equal(message('JOSE@Acme-Widgets.test: 3 messages held', 'Release them.'), ['SUBJECT_NAMES_RECIPIENT']);
  const user = (subject: string, to: string) => message(subject, 'Free.', '', to);
  assert.equal(user('Hello katfish48 ! WOULD A GRANT HELP YOU?', 'katfish48@isp.test'), ['SUBJECT_NAMES_RECIPIENT']);
  assert.equal(user('Dear j.smith, your gift', 'j.smith@isp.test'), ['SUBJECT_NAMES_RECIPIENT']);
  assert.equal(user('Linux-Announce Digest #180', 'linux-announce@lists.test'), [], 'a list naming itself');
  assert.equal(user('Hi Jose, lunch?', 'jose@isp.test'), [], "a person's name");
  assert.equal(user('Hello katfish480', 'katfish48@isp.test'), [], 'another name');
  assert.equal(message('Password expires today', 'Dear jose@acme-widgets.test,\r\nKeep it.'), [
    'GREETS_RECIPIENT_ADDRESS',
  ]);
  assert.equal(message('Notice', '  Hello  JOSE@acme-widgets.test.\r\n'), ['GREETS_RECIPIENT_ADDRESS'], 'a full stop');
  assert.equal(message('Notice', 'jose@acme-widgets.test,\r\nyour mailbox is full.'), ['GREETS_RECIPIENT_ADDRESS']);
  assert.equal(message('Notice', 'Good morning: jose@acme-widgets.test\r\n'), ['GREETS_RECIPIENT_ADDRESS']);
  assert.equal(message('80% OFF', 'Dear user jose@acme-widgets.test, 80% off.'), ['GREETS_RECIPIENT_ADDRESS']);
  const userMailbox = (text: string) => message('Notice', text, '', 'user@acme-widgets.test');
  assert.equal(userMailbox('Dear user@acme-widgets.test,'), ['GREETS_RECIPIENT_ADDRESS'], 'a mailbox named user');
  assert.equal(message('Notice', 'Dear jose@acme-widgets.test.example,\r\n'), [], 'a longer address');
  assert.equal(message('Notice', 'Dear Jose,\r\nhi.'), [], 'by name');
  assert.equal(
    message('Notice', `${'News of the week. '.repeat(30)}\r\nSent to jose@acme-widgets.test`),
    [],
    'a footer',
  );
  assert.equal(message('Notice', `${'x '.repeat(300)}Dear jose@acme-widgets.test,`), [], 'past the opening');
  const list = 'List-Id: <help.lists.test>\r\n';
  assert.equal(message('Re: jose@acme-widgets.test bounces', 'Hi jose@acme-widgets.test,', list), [], 'a list');
  assert.equal(message('Hi', 'Hi you@other.test,', '', 'undisclosed-recipients:;'), [], 'no recipient');
  assert.equal(message('Notice', 'Dear acme-widgets.test User,\r\n'), ['GREETS_RECIPIENT_DOMAIN_USER']);
  assert.equal(message('Notice', 'Hello Acme-Widgets webmail members:\r\n'), ['GREETS_RECIPIENT_DOMAIN_USER']);
  assert.equal(message('Notice', 'Dear Acme-Widgets team,\r\n'), [], 'not a user of it');
  const own = (text: string, from: string, to: string) =>
    rules(
      input(
        {},
        `From: ${from}\r\nTo: ${to}\r\nSubject: Notice\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\n${text}\r\n`,
      ),
    );
  assert.equal(own('Dear Acme-Widgets staff,', 'hr@mail.acme-widgets.test', 'all@acme-widgets.test'), [], 'its own');
  assert.equal(own('Dear Yahoo member,', 'billing@yahoo-verify.test', 'jo@yahoo.com'), [
    'GREETS_RECIPIENT_DOMAIN_USER',
  ]);
  assert.equal(own('Dear Yahoo member,', 'notice@mail.yahoo.com', 'jo@yahoo.com'), [], "the provider's own");
  // Thousands of recipients against a long subject: the first few are read (all of them took 8 s).
  const many = Array.from({ length: 5000 }, (_, n) => `user${n}@example${n}.test`).join(', ');
  const started = performance.now();
  assert.equal(message('hi '.repeat(20_000), 'x', '', many), []);
  assert.ok(performance.now() - started < 1500, `${performance.now() - started} ms`);
  const reply = 'In-Reply-To: <0@acme-widgets.test>\r\n';
  assert.equal(message('Aw: Re: Message from jose@acme-widgets.test', 'Yes.', reply), [], 'a reply');
  const report = 'Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n';
  assert.equal(message('Returned mail: to <jose@acme-widgets.test>', '--b--', report), [], 'a bounce');
  // Over SMTP the envelope's recipients are the recipients.
  const live = rules({
    ...input(
      {},
      'From: a@sender.test\r\nTo: undisclosed-recipients:;\r\nSubject: you@acme.test quota\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nx\r\n',
    ),
    envelope: { rcptTo: ['you@acme.test'] },
  });
  assert.equal(live, ['SUBJECT_NAMES_RECIPIENT']);
});

test('X-Priority on unsigned mail that came through no list', () => {
  const message = (auth: Partial<AuthVerdict>, extra: string) => rules(input(auth, `X-Priority: 3\r\n${extra}${full}`));
  assert.equal(message({ dkim: [] }, ''), ['PRIORITY_UNSIGNED']);
  assert.equal(message({}, ''), [], 'signed (verified on the way in)');
  assert.equal(message({ dkim: [] }, 'DKIM-Signature: v=1; d=sender.test; s=s; b=x\r\n'), [], 'signed');
  assert.equal(message({ dkim: [] }, 'List-Unsubscribe: <mailto:leave@lists.example.test>\r\n'), [], 'a list');
});

test('a Re: subject on mail that answers no message (RFC 5322 §3.6.4)', () => {
  const message = (subject: string, extra = '') => rules(input({}, `Subject: ${subject}\r\n${extra}${full}`));
  for (const subject of ['Re: your order', 'RE: Invoice', 'AW: Termin', 'Re[2]: hello', 'SV: möte', ' re : hi'])
    assert.equal(message(subject), ['FAKE_REPLY'], subject);
  assert.equal(message('Re: your order', 'In-Reply-To: <0@sender.test>\r\n'), [], 'a reply');
  assert.equal(message('Re: your order', 'References: <0@sender.test>\r\n'), [], 'a reply by References');
  assert.equal(message('Re: your order', 'List-Id: <l.lists.test>\r\n'), [], 'through a list');
  assert.equal(message('Re: your order', 'X-Loop: notifications@groups.test\r\n'), [], 'resent by a program');
  assert.equal(message('Regarding your order'), [], 'not a prefix');
  assert.equal(message('Fwd: your order'), [], 'a forward names nothing it answers');
  // A subject line and a body, no Message-ID (the corpus's Enron files): MISSING_MESSAGE_ID says it.
  const bare = rules(input({}, 'Subject: re : meeting\r\n\r\nx\r\n'));
  assert.ok(bare.includes('MISSING_MESSAGE_ID') && !bare.includes('FAKE_REPLY'), bare.join(' '));
  const started = performance.now();
  assert.equal(message(`${' '.repeat(60_000)}x`), []);
  assert.ok(performance.now() - started < 500, `60,000 blanks: ${performance.now() - started} ms`);
});

test("Outlook's X-Mailer on HTML with no text/plain version beside it", () => {
  const oe =
    'X-Mailer: Microsoft Outlook Express 6.00.2900.2180\r\nX-MimeOLE: Produced By Microsoft MimeOLE V6.00.2900.2180\r\n';
  // As Outlook Express writes a message's fields; the body and its Content-Type vary.
  const fields =
    'From: a@sender.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <000801c2664f$4d5a1de0$0200a8c0@pc>\r\n';
  const message = (body: string, head = oe) =>
    rules(input({}, `${head}MIME-Version: 1.0\r\n${body.replace(full.slice(0, -5), fields)}`));
  const part = (type: string, extra = '') => `--b\r\nContent-Type: ${type}\r\n${extra}\r\nx\r\n`;
  const multipart = (type: string, ...parts: string[]) =>
    `Content-Type: multipart/${type}; boundary="b"\r\n${full}${parts.join('')}--b--\r\n`;
  const html = `Content-Type: text/html\r\n${full}`;
  assert.equal(message(html), ['MUA_OUTLOOK_NO_TEXT_PART', 'HTML_ONLY']);
  assert.equal(message(multipart('related', part('text/html'), part('image/gif'))), ['MUA_OUTLOOK_NO_TEXT_PART']);
  assert.equal(
    message(multipart('mixed', part('text/html'), part('text/plain', 'Content-Disposition: attachment\r\n'))),
    ['MUA_OUTLOOK_NO_TEXT_PART'],
    'an attached text file is no text version',
  );
  assert.equal(message(multipart('alternative', part('text/plain'), part('text/html'))), [], 'as Outlook writes it');
  assert.equal(message(`Content-Type: text/plain\r\n${full}`), [], 'plain text');
  const mimeole = 'X-MimeOLE: Produced By Microsoft MimeOLE V6.00.2900.3138\r\n';
  assert.equal(message(html, `X-Mailer: Microsoft Office Outlook 12.0\r\n${mimeole}`), [
    'MUA_OUTLOOK_NO_TEXT_PART',
    'HTML_ONLY',
  ]);
  assert.equal(message(html, mimeole), ['MUA_OUTLOOK_NO_TEXT_PART', 'HTML_ONLY'], 'X-MimeOLE alone');
  assert.not.ok(
    message(html, 'X-Mailer: Mozilla Thunderbird\r\n').includes('MUA_OUTLOOK_NO_TEXT_PART'),
    'another program',
  );
});

test('a Subject that ends in a token pushed away by blanks (a hash-buster)', () => {
  for (const subject of ['Toners for less....               NOAZ', 'Buy now!    msg2f', 'Ink Prices\t\t\t11956  '])
    assert.equal(subjectRules(subject), ['SUBJECT_PADDED_TOKEN'], subject);
  assert.equal(subjectRules('Managing Large Scale Game Content\r\n    Production'), [], 'a folded field');
  assert.equal(subjectRules('Two  spaces typed'), []);
  assert.equal(subjectRules('    leading blanks only'), []);
  assert.equal(subjectRules('ends in blanks    '), []);
  // Walked by hand: long runs of blanks or of words cost linear time.
  assertLinear([`a${' '.repeat(60_000)}b`, 'a   '.repeat(15_000), `${'a'.repeat(60_000)}   b`]);
});

test('a Subject with the label the law asks of unsolicited advertising', () => {
  for (const subject of [
    'ADV: Lowest prices on printer toner!',
    '[ILUG] adv : Toner cartridges for less',
    'SEXUALLY-EXPLICIT: Wet, Wetter and Wettest',
    '=?UTF-8?B?5pyq5om/6Ku+5bqD5ZGK4oC7IOaWsOWVhuWTgQ==?=',
  ])
    assert.equal(subjectRules(subject), ['SUBJECT_AD_LABEL'], subject);
  for (const subject of [
    'Adv. topics in compilers',
    'Re: the ADV: label in subjects',
    'Advice: back up first',
    'Advisory',
  ])
    assert.not.ok(subjectRules(subject).includes('SUBJECT_AD_LABEL'), subject);
  assertLinear([`[${'['.repeat(60_000)}`]);
});

test('a Subject that ends in a long number labelling nothing (a hash-buster)', () => {
  for (const subject of [
    'get a merchant acount 5226171310',
    'great rates 33161186544333222  ',
    'MedHelp 24066464',
    'Collect Your Money! Time:1:30:33 AM',
    'Stop looking for a new part-time job - here it is. [Mon, 09 Apr 2007 06:20:47 -0800]',
    'This one will make you money  9/20/02 11:34:52 PM',
  ])
    assert.equal(subjectRules(subject), ['SUBJECT_TAIL_NUMBER'], subject);
  for (const subject of [
    'Invoice 02722027', // labelled
    'Your order number 12345678',
    'contract no. 96037499', // set off by punctuation
    'Nodemailer is unicode friendly (1476358788189)',
    'union carbide, 96002201',
    'Order #12345678',
    'You have a survey waiting!  91123105', // after a sentence's end
    'Nightly build 20070412', // a date
    'meter 9862401', // seven digits
    '12345678', // nothing before it
    'Build status as of Sun Apr 22 00:00:02 2007', // a date that ends in its year
    'Meeting moved to 10:30 PM',
  ])
    assert.equal(subjectRules(subject), [], subject);
  // Walked by hand from the end: long runs of digits, blanks or letters cost linear time.
  assertLinear([
    '1'.repeat(60_000),
    `a ${'1'.repeat(60_000)}`,
    `${'a'.repeat(60_000)} 12345678`,
    ' 1'.repeat(30_000),
    '1:11:11 '.repeat(7_500),
    `1:11:11${' '.repeat(60_000)}x`,
  ]);
});

test("AOL's program named on mail that did not pass AOL's servers; a programming library's X-Library", () => {
  const message = (extra: string) => rules(input({}, `X-Mailer: AOL 7.0 for Windows US sub 118\r\n${extra}${full}`));
  const hop = (host: string) =>
    `Received: from ${host} (${host} [64.12.1.2])\r\n\tby mx.example.test; Mon, 1 Jan 2024 00:00:01 +0000\r\n`;
  assert.equal(message(hop('pc1.isp.test')), ['MUA_FORGED_AOL']);
  assert.equal(message(''), ['MUA_FORGED_AOL'], 'no trace at all');
  assert.equal(message(hop('rly-xa05.mx.aol.com')), [], "through AOL's servers");
  assert.equal(message(hop('sonic310-21.consmr.mail.ne1.yahoo.com')), [], "AOL's mail goes through Yahoo");
  assert.equal(message('List-Id: <l.lists.test>\r\n'), [], 'a list');
  assert.equal(rules(input({}, `X-Mailer: AOLserver/4.5\r\n${full}`)), [], 'another program');

  assert.equal(rules(input({}, `X-Library: Indy 9.00.10\r\n${full}`)), ['MAILER_LIBRARY']);
});

test('mail received over SMTP now: its Date is compared with the time of arrival too', () => {
  const now = new Date();
  const dated = (date: Date) =>
    rules({
      ...input({}, `From: a@sender.test\r\nDate: ${date.toUTCString()}\r\nMessage-ID: <1@x>\r\n\r\nx\r\n`),
      clientIp: '64.131.126.36',
      envelope: { rcptTo: ['u@example.test'], helo: 'mail.sender.test', hostname: 'mail.sender.test' },
    });
  assert.equal(dated(now), []);
  assert.equal(
    dated(new Date(now.getTime() - 30 * 86_400_000)),
    ['DATE_FAR_FROM_RECEIVED'],
    'a month old, no Received',
  );
  assert.equal(dated(new Date(now.getTime() + 86_400_000)), ['DATE_FAR_FROM_RECEIVED'], 'tomorrow');
  // Not received now (an API dry run of a stored message): no time of arrival to compare with.
  assert.equal(rules(input({}, `From: a@sender.test\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nx\r\n`)), [
    'MISSING_MESSAGE_ID',
  ]);
});

test('each rule fires on its own condition', () => {
  assert.equal(rules(input({ spf: { result: 'fail', domain: 'sender.test' } })), ['SPF_FAIL']);
  assert.equal(rules(input({ spf: { result: 'softfail', domain: 'sender.test' } })), ['SPF_SOFTFAIL']);
  assert.equal(
    rules(input({ dkim: [{ result: 'fail', domain: 'sender.test', selector: 's', aligned: true, comment: null }] })),
    ['DKIM_FAIL'],
  );
  assert.equal(rules(input({ dkim: [] })), [], 'unsigned is not a DKIM failure');
  assert.equal(rules(input({ dmarc: { result: 'fail', domain: 'sender.test', policy: 'none' } })), ['DMARC_FAIL']);
  assert.equal(rules(input({}, 'From: a@sender.test\r\n\r\nx\r\n')), ['MISSING_DATE', 'MISSING_MESSAGE_ID']);
  const id = (value: string) => rules(input({}, full.replace('<1@x>', value)));
  for (const bad of ['12345.6789@host', '<12345.6789>', '<a b@host>', '<>', 'yes'])
    assert.equal(id(bad), ['MSGID_INVALID'], bad);
  assert.equal(id('<1.2@host.example> (a comment)'), []);
});

test('FORGED_HOSTED_FROM: a hosted From domain needs DMARC pass or aligned SPF/DKIM', () => {
  const noAuth = {
    spf: { result: 'none' as const, domain: 'x.test' },
    dkim: [],
    dmarc: { result: 'none' as const, domain: null, policy: null },
  };
  assert.equal(rules(input(noAuth, full, true)), ['FORGED_HOSTED_FROM']);
  assert.equal(rules(input({}, full, true)), [], 'authenticated mail from our own domain is fine');
  assert.equal(rules(input(noAuth, full, false)), []);
});

test('classify: thresholds 5 (junk) and 15 (reject), DMARC quarantine → junk, headers', async () => {
  const ham = await classify(input({ spf: { result: 'fail', domain: 'sender.test' } }), { scorers: [headerRules] });
  assert.is(ham.verdict, 'ham');
  assert.is(ham.headers, 'X-Spam-Score: 3.5\r\nX-Spam-Status: No, score=3.5 required=5.0 tests=SPF_FAIL\r\n');
  const junk = await classify(
    input({
      spf: { result: 'fail', domain: 'sender.test' },
      dmarc: { result: 'fail', domain: 'sender.test', policy: 'none' },
    }),
    { scorers: [headerRules] },
  );
  assert.is(junk.verdict, 'junk');
  assert.is(junk.score, 6.5);
  const quarantined = await classify(input({ action: 'quarantine' }), { scorers: [headerRules] });
  assert.is(quarantined.verdict, 'junk');
  assert.match(quarantined.headers, /X-Spam-Status: Yes, score=0\.0 .* dmarc=quarantine/);
  const lower = await classify(input({ spf: { result: 'fail', domain: 'sender.test' } }), {
    scorers: [headerRules],
    junkScore: 3,
    rejectScore: 3.5,
  });
  assert.is(lower.verdict, 'reject');
});

test('another scorer (the future Bayesian classifier) plugs in and its hits add up', async () => {
  const bayes: SpamScorer = {
    name: 'bayes',
    score: async () => [{ rule: 'BAYES_99', score: 12, description: 'Bayes spam probability 99%' }],
  };
  const result = await classify(input({ spf: { result: 'fail', domain: 'sender.test' } }), {
    scorers: [headerRules, bayes],
  });
  assert.is(result.score, 15.5);
  assert.is(result.verdict, 'reject');
  assert.equal(
    result.hits.map((h) => h.rule),
    ['SPF_FAIL', 'BAYES_99'],
  );
});

test('a scorer that throws on a message adds only its name: the others decide and the mail is not lost', async () => {
  const broken: SpamScorer = {
    name: 'broken',
    score: () => {
      throw new SyntaxError('Invalid regular expression');
    },
  };
  const result = await classify(input({ spf: { result: 'fail', domain: 'sender.test' } }), {
    scorers: [headerRules, broken],
  });
  assert.is(result.score, 3.5);
  assert.is(result.verdict, 'ham');
  assert.equal(
    result.hits.map((h) => [h.rule, h.score]),
    [
      ['SPF_FAIL', 3.5],
      ['BROKEN_FAILED', 0],
    ],
  );
  assert.match(result.headers, /tests=SPF_FAIL,BROKEN_FAILED/);
});

test('list headers are named, not scored: Reply-To to the list and Precedence: bulk are ham more often than spam', () => {
  // Real mailing-list mail (Apache SpamAssassin's t/data/nice/mailman_message.txt, see the fixture folder's NOTICE.md).
  const raw = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'spamassassin', 'ham', 'mailman_message.txt'));
  const hits = headerRules.score({
    raw,
    headers: parseHeaders(raw),
    auth: clean,
    mailFrom: '',
    fromHosted: false,
    accountIds: [],
  }) as { rule: string; score: number }[];
  const listed = hits.filter((h) => h.rule === 'BULK_PRECEDENCE' || h.rule === 'REPLYTO_DIFFERS_FROM');
  assert.ok(
    listed.some((h) => h.rule === 'BULK_PRECEDENCE'),
    hits.map((h) => h.rule).join(' '),
  );
  assert.equal(
    listed.map((h) => h.score),
    listed.map(() => 0),
  );
});

test('junk is delivered with $Junk, and $Phishing when a sign of phishing counted (RFC 9051 §2.3.2)', () => {
  const hit = (rule: string, score: number) => ({ rule, score, description: '' });
  assert.equal(junkKeywords([hit('BAYES', 7), hit('HTML_IMAGE_ONLY', 2)]), ['$Junk']);
  assert.equal(junkKeywords([hit('BAYES', 4), hit('PHISH_CREDENTIALS', 2)]), ['$Junk', '$Phishing']);
  assert.equal(junkKeywords([hit('FORGED_HOSTED_FROM', 6)]), ['$Junk', '$Phishing'], 'a header rule');
  assert.equal(junkKeywords([hit('BAYES', 7), hit('LOOKALIKE_DOMAIN', 0)]), ['$Junk'], 'named, not counted');
});

test.run();
