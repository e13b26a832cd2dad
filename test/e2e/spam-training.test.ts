// Users teach the classifier by moving mail over IMAP: into Junk is spam, out of Junk is ham; the
// same message moved twice counts once. And forged mail from a hosted domain, or a program named as a
// document, is spam before any training.
import { test } from 'uvu';
import { waitFor } from '../helpers/outbound.ts';
import * as assert from 'uvu/assert';
import { sendToMx, startInstance, type Instance, withImap } from '../helpers/instance.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { zipOf } from '../helpers/fixtures.ts';

let instance: Instance;
let dns: TestDnsServer;

test.before(async () => {
  dns = await startDnsServer({
    '_dmarc.example.test': { TXT: ['v=DMARC1; p=quarantine'] },
    'example.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
  });
  instance = await startInstance({ dnsServers: dns.servers });
  await instance.addAccount('user@example.test', 'training password');
});
test.after(async () => {
  await instance.stop();
  await dns.close();
});

/** A message sent byte for byte (nodemailer's `raw`): its header lines, a blank line, its body's lines. */
const rawMessage = (header: string[], body: string[]) => [...header, '', ...body, ''].join('\r\n');
/** The Date field's value for now, in `zone`. */
const now = (zone = '+0000') => new Date().toUTCString().replace('GMT', zone);

/** The X-Spam-Status field (unfolded) of user@example.test's delivered message whose subject has the marker. */
async function spamStatus(marker: string): Promise<string> {
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  for (const name of ['INBOX', 'Junk']) {
    const folder = store.folders.byName(account.id, name)!;
    for (const m of await store.messages.list(folder.id)) {
      const raw = (await store.read(m)).toString();
      if (raw.includes(marker))
        return /X-Spam-Status: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/.exec(raw)![1]!.replace(/\r\n[ \t]/g, ' ');
    }
  }
  throw new Error(`${marker}: not delivered`);
}

test('IMAP MOVE into Junk trains spam, out of Junk retrains ham; twice is counted once', async () => {
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const inbox = store.folders.byName(account.id, 'INBOX')!;
  await store.deliver(
    makeMessage({ subject: 'cheap pills zyxwvut offer', body: 'zyxwvut discount pharmacy now\r\n' }),
    [{ folder: inbox }],
  );
  const model = await store.spam.model('s');
  const token = [...model.counts.tokens()].find((t) => t.includes('zyxwvut'));
  assert.is(token, undefined, 'nothing learned yet');

  await withImap(instance, 'user@example.test', 'training password', async (client) => {
    await client.mailboxOpen('INBOX');
    await client.messageMove('1:*', 'Junk');
    await waitFor(() => model.totals.spam === 1, 5_000, 'spam training');
    const learned = [...model.counts.tokens()].filter((t) => t.includes('zyxwvut'));
    assert.ok(learned.length > 0, 'tokens of the message were learned');
    assert.equal(model.get(learned[0]!), [1, 0]);

    // a copy of the same message into Junk again: the same content is not counted twice
    await client.mailboxOpen('Junk');
    await client.messageCopy('1:*', 'INBOX');
    await waitFor(() => model.totals.ham === 1, 5_000, 'ham retraining');
    assert.equal(model.get(learned[0]!), [0, 1], 'out of Junk: the counts moved from spam to ham');
    await client.mailboxOpen('INBOX');
    await client.messageCopy('1:*', 'Junk');
    await waitFor(() => model.totals.spam === 1, 5_000, 'spam again');
    await client.messageCopy('1:*', 'Junk');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(model.totals, { spam: 1, ham: 0 }, 'the same message trained twice counts once');
  });
});

test('forged From of a hosted domain failing DMARC lands in Junk before any training, with the rules named', async () => {
  await sendToMx(instance, {
    from: 'ceo@example.test',
    to: 'user@example.test',
    subject: 'Urgent wire transfer',
    text: 'Please pay now.\n',
    envelope: { from: 'ceo@example.test', to: 'user@example.test' },
  });
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const junk = store.folders.byName(account.id, 'Junk')!;
  const messages = await store.messages.list(junk.id);
  const raw = await Promise.all(messages.map(async (m) => (await store.read(m)).toString()));
  const forged = raw.find((r) => r.includes('Urgent wire transfer'));
  assert.ok(forged, 'delivered to Junk');
  assert.match(forged!, /X-Spam-Status: Yes, score=\d+(\.\d+)? required=5\.0 tests=[^\r\n]*FORGED_HOSTED_FROM/);
  assert.match(forged!, /DMARC_FAIL|SPF_FAIL/);
  const events = await store.events.list({ accountId: account.id, limit: 100 });
  assert.ok(
    events.some((e) => e.type === 'message.received.spam'),
    'a message.received.spam event',
  );
});

test('a program named as a PDF lands in Junk before any training, with the attachment rules named', async () => {
  // Sent by nodemailer over SMTP, as a modern malware mail is: a short note and "invoice.pdf.exe".
  await sendToMx(instance, {
    from: 'billing@supplier.test',
    to: 'user@example.test',
    subject: 'Invoice 4471 overdue',
    text: 'Please find the invoice attached.\n',
    attachments: [{ filename: 'invoice.pdf.exe', content: Buffer.from('MZ\x90\x00 not really a program') }],
  });
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const junk = store.folders.byName(account.id, 'Junk')!;
  const raw = await Promise.all(
    (await store.messages.list(junk.id)).map(async (m) => (await store.read(m)).toString()),
  );
  const malware = raw.find((r) => r.includes('Invoice 4471 overdue'));
  assert.ok(malware, 'delivered to Junk');
  assert.match(malware!, /X-Spam-Status: Yes, [^\r\n]*ATTACH_DOUBLE_EXTENSION/);
  assert.match(malware!, /X-Spam-Status: Yes, [^\r\n]*RISKY_ATTACHMENT/);
});

test('a Date a month before its arrival over SMTP is named, though no Received field says when it came', async () => {
  // A bot's message straight to the MX: no trace fields of its own, a Date of its own making.
  const month = new Date(Date.now() - 30 * 86_400_000);
  await sendToMx(instance, {
    from: 'offers@bulk.test',
    to: 'user@example.test',
    subject: 'Stale offer 9931',
    date: month,
    text: 'Hello.\n',
  });
  assert.match(await spamStatus('Stale offer 9931'), /DATE_FAR_FROM_RECEIVED/);
});

test("a bot's raw message over SMTP is named by its trace, Date zone, encoding, redirected link and zipped program", async () => {
  // As a bot writes it: a Received field of the infected desktop's provider (greeting "pc1", a home
  // line's reverse DNS), a zone no place has, an over-long quoted-printable line, a link through Google's
  // redirector to an IP address, and a program in a zip. Sent byte for byte (nodemailer's `raw`).
  const zip = zipOf(['Invoice_4471.exe']).toString('base64').replace(/.{76}/g, '$&\r\n');
  const raw = rawMessage(
    [
      'Received: from pc1 (adsl-64-131-126-36.dsl.isp.test [64.131.126.36])',
      `\tby mx.isp.test with SMTP; ${now()}`,
      'From: billing@supplier.test',
      'To: user@example.test',
      'Subject: Trace rules 5512',
      `Date: ${now('+0360')}`,
      'Message-ID: <5512@supplier.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
    ],
    [
      '--b',
      'Content-Type: text/html; charset=us-ascii',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      `<p>${'Your invoice is attached. '.repeat(6)}</p><a href=3D"https://www.google.com/url?q=3Dhttp%3A%2F%2F203.0.113.9%2Fpay">Pay</a>`,
      '--b',
      'Content-Type: application/zip; name="Invoice_4471.zip"',
      'Content-Disposition: attachment; filename="Invoice_4471.zip"',
      'Content-Transfer-Encoding: base64',
      '',
      zip,
      '--b--',
    ],
  );
  await sendToMx(instance, { envelope: { from: 'billing@supplier.test', to: ['user@example.test'] }, raw });
  const status = await spamStatus('Trace rules 5512');
  for (const rule of [
    'HELO_NO_DOMAIN',
    'RDNS_DYNAMIC',
    'DATE_ZONE_INVALID',
    'QP_LONG_LINE',
    'URI_IP_HOST',
    'ARCHIVE_RISKY_FILE',
  ])
    assert.ok(status.includes(rule), `${rule} in ${status}`);
});

test('ratware over SMTP is named by the fingerprints it forges: Outlook Express, a free-mail sender, X-Priority', async () => {
  // A Gmail address sent from neither Google's servers nor with its signature, by a program that names
  // itself Outlook Express but writes neither its Message-ID nor its To form. Sent byte for byte.
  const raw = rawMessage(
    [
      'From: "Ann" <ann.offers@gmail.com>',
      'To: user@example.test',
      'Subject: Forged fingerprints 7781',
      `Date: ${now()}`,
      'Message-ID: <7781.abcd@pc1>',
      'X-Mailer: Microsoft Outlook Express 6.00.2800.1106',
      'X-Priority: 3',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=us-ascii',
    ],
    ['We have a proposal for you, please reply at your earliest convenience.'],
  );
  await sendToMx(instance, { envelope: { from: 'ann.offers@gmail.com', to: ['user@example.test'] }, raw });
  const status = await spamStatus('Forged fingerprints 7781');
  for (const rule of ['FREEMAIL_NOT_VIA_PROVIDER', 'MUA_FORGED_OUTLOOK', 'MUA_OUTLOOK_BARE_TO', 'PRIORITY_UNSIGNED'])
    assert.ok(status.includes(rule), `${rule} in ${status}`);
});

test('a fake reply over SMTP, from a forged mail program, with a padded subject, is named by its rules', async () => {
  // "Re:" without In-Reply-To or References; Outlook named but HTML alone; The Bat! named in a second
  // message with a Message-ID it never writes; the subject's last token set apart by blanks. Byte for byte.
  const sent = (subject: string, mailer: string, id: string, type: string, body: string) =>
    rawMessage(
      [
        'From: "Sales" <sales@offers-9921.test>',
        'To: <user@example.test>',
        `Subject: ${subject}`,
        `Date: ${now()}`,
        `Message-ID: ${id}`,
        `X-Mailer: ${mailer}`,
        'MIME-Version: 1.0',
        `Content-Type: ${type}`,
      ],
      [body],
    );
  const outlook = sent(
    'Re: your order 5531          qzvhtr',
    'Microsoft Outlook, Build 10.0.2616',
    '<5531.x@pc7>',
    'text/html; charset=us-ascii',
    '<p>As agreed, the prices for this week.</p>',
  );
  const bat = sent('Prices 5532', 'The Bat! (v1.52f) Business', '<5532@pc8>', 'text/plain', 'Prices attached.');
  for (const raw of [outlook, bat])
    await sendToMx(instance, { envelope: { from: 'sales@offers-9921.test', to: ['user@example.test'] }, raw });
  const first = await spamStatus('your order 5531');
  for (const rule of ['FAKE_REPLY', 'MUA_OUTLOOK_NO_TEXT_PART', 'SUBJECT_PADDED_TOKEN'])
    assert.ok(first.includes(rule), `${rule} in ${first}`);
  const second = await spamStatus('Prices 5532');
  assert.ok(second.includes('MUA_FORGED_MESSAGE_ID'), second);
});

test('over SMTP, the offers bulk mail sells and an older phishing form are named by their rules', async () => {
  // Claims that had unit tests only: the offer rules, a payment card's form, a brand in the From name,
  // a greeting to the recipient's domain's users, the account-threat phrases of a kit. Sent byte for byte.
  const sent = (from: string, subject: string, type: string, body: string) =>
    rawMessage(
      [
        `From: ${from}`,
        'To: user@example.test',
        `Subject: ${subject}`,
        `Date: ${now()}`,
        `Message-ID: <${subject.length}.${Date.now()}@sender.test>`,
        'MIME-Version: 1.0',
        `Content-Type: ${type}; charset=us-ascii`,
      ],
      [body],
    );
  const offer = sent(
    'Deals <deals@offers-7713.test>',
    'Offers 7713',
    'text/plain',
    'Xanax and Valium from our online pharmacy, no prescription needed.\r\n' +
      'Refinance today, even with bad credit: lower your monthly payments.',
  );
  const form = sent(
    '"Coinbase Support" <help@wallet-desk-7714.test>',
    'Account review 7714',
    'text/html',
    '<p>Dear example.test user, your mailbox storage is 98% full. To avoid account suspension, confirm below.</p>' +
      '<form action="http://192.0.2.7/c/">Card number <input name="ccnum"> CVV2 <input name="cvv2"></form>' +
      '<a href="https://wallet-desk-7714.test/restore">Restore</a>',
  );
  for (const raw of [offer, form])
    await sendToMx(instance, { envelope: { from: 'x@sender.test', to: ['user@example.test'] }, raw });
  const offers = await spamStatus('Offers 7713');
  for (const rule of ['PHARMACY_OFFER', 'LOAN_OFFER']) assert.ok(offers.includes(rule), `${rule} in ${offers}`);
  const phish = await spamStatus('Account review 7714');
  for (const rule of ['HTML_FORM', 'FROM_BRAND_MISMATCH', 'GREETS_RECIPIENT_DOMAIN_USER', 'PHISH_PHRASES'])
    assert.ok(phish.includes(rule), `${rule} in ${phish}`);
});

test("phishing over SMTP posing as the recipient's own help desk, addressing the account, linking to an abused top-level domain", async () => {
  const raw = rawMessage(
    [
      'From: "Example.test IT Service Desk" <it-desk@helpdesk-portal.test>',
      'To: user@example.test',
      'Subject: user@example.test: password expiry 3317',
      `Date: ${now()}`,
      'Message-ID: <3317@helpdesk-portal.test>',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=us-ascii',
    ],
    [
      '<p>Dear user@example.test,</p>',
      '<p>Your password expires today. <a href="https://sso-example.login-renew.cyou/keep#user@example.test">Keep current password</a></p>',
    ],
  );
  await sendToMx(instance, { envelope: { from: 'it-desk@helpdesk-portal.test', to: ['user@example.test'] }, raw });
  const status = await spamStatus('password expiry 3317');
  for (const rule of [
    'FROM_NAME_RECIPIENT_DOMAIN',
    'ABUSED_TLD',
    'SUBJECT_NAMES_RECIPIENT',
    'GREETS_RECIPIENT_ADDRESS',
    'URI_CARRIES_RECIPIENT',
  ])
    assert.ok(status.includes(rule), `${rule} in ${status}`);
});

test('an advance-fee letter over SMTP, greeted with a bare address and an invalid Message-ID, is named by its rules', async () => {
  const raw = rawMessage(
    [
      'Received: from 64.131.126.36 (unknown [64.131.126.36])',
      `\tby mx.isp.test with SMTP; ${now()}`,
      'From: "Barrister J. Okafor" <okafor.chambers@lawyer-mail.test>',
      'To: user@example.test',
      'Subject: Estate 4190',
      `Date: ${now()}`,
      'Message-ID: 4190.20261207@lawyer-mail',
      'Content-Type: text/plain; charset=us-ascii',
    ],
    [
      'I am writing to you as the next of kin of my late client, who left US$12.5 million in a bank here.',
      'You will receive 30% of the total sum for your help. This transaction is strictly confidential.',
    ],
  );
  await sendToMx(instance, { envelope: { from: 'okafor.chambers@lawyer-mail.test', to: ['user@example.test'] }, raw });
  const status = await spamStatus('Estate 4190');
  for (const rule of ['ADVANCE_FEE', 'HELO_BAD_ADDRESS', 'MSGID_INVALID'])
    assert.ok(status.includes(rule), `${rule} in ${status}`);
});

test.run();
