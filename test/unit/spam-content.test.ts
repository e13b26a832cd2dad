import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { decodeCharset, decodedPart, decodeTransfer } from '../../src/mime/decode.ts';
import { lookalikeHost, registeredDomain } from '../../src/spam/content/domains.ts';
import { FEATURES } from '../../src/spam/content/features.ts';
import { visibleAtLeast, visibleText } from '../../src/spam/content/html.ts';
import { contentFeatures } from '../../src/spam/content/index.ts';
import { OFFERS } from '../../src/spam/content/offers.ts';
import { redirectTarget } from '../../src/spam/content/urls.ts';
import { messageIndex } from '../../src/spam/normalize.ts';
import { letterCounts, tokenize } from '../../src/spam/tokenize.ts';
import { wordToken } from '../../src/spam/normalize.ts';
import { fixtureMessages, MIME_FIXTURES, SPAM_FIXTURES, zipOf } from '../helpers/fixtures.ts';

const head = (subject: string, from = 'Sales <sales@shop.example>', type = 'text/plain; charset=us-ascii') =>
  `From: ${from}\r\nTo: you@example.test\r\nSubject: ${subject}\r\nDate: Tue, 3 Apr 2007 10:00:00 +0000\r\n` +
  `Message-ID: <a1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n`;
const mail = (subject: string, body: string, from?: string, type?: string) =>
  Buffer.from(`${head(subject, from, type) + body.replace(/\n/g, '\r\n')}\r\n`);
const html = (subject: string, body: string, from?: string) =>
  mail(subject, body, from, 'text/html; charset=iso-8859-1');
const features = (raw: Buffer) => contentFeatures(raw);

test('obfuscated words: digits for letters (0ffice, v1agra) and lookalike brand names (Mlcrosoft)', () => {
  const spam = mail(
    'Mlcrosoft 0ffice 2007 for $79',
    'Get Ad0be and Mlcr0s0ft 0ffice XP Pr0fessional at 90% off!\nWind0ws Vista, 0rder t0day.',
  );
  assert.ok(features(spam).includes('OBFUSCATED_WORDS'));
  assert.ok(features(mail('Re: v1agra', 'buy v1agra and c1alis here')).includes('OBFUSCATED_WORDS'));
  // Product codes, versions, code and prices are not obfuscation.
  const ham = mail(
    'Re: build on win32',
    'The mp3 player on ipv4 hosts: $self->{args} and df$x in R, md5sums of the 3ware 9500 driver cost $79.99 on 2007-04-03.\nsee x86_64 and H2O.',
  );
  assert.not.ok(features(ham).includes('OBFUSCATED_WORDS'));
  // One lookalike brand is enough, in a word with other characters, or spelt with letters only (issue 18
  // looks for it in the words with a symbol, and for the one letters-only spelling apart).
  const one = (body: string) =>
    features(mail('Hello', `Meeting notes for Friday.\n${body}`)).includes('OBFUSCATED_WORDS');
  assert.ok(one('get it at (buy-V1agra-now!)'));
  assert.ok(one('from MLCROSOFT support'));
  assert.ok(one('see p@ypal.example'));
  assert.not.ok(one('Microsoft Windows and Office, from paypal.example'));
  assert.not.ok(one('xmlcrosoft and v1agrax'));
  // Words are separated by any whitespace a regex's \s matches (em space, ideographic space, line separator).
  const utf8 = (body: string) => mail('Hello', body, undefined, 'text/plain; charset=utf-8');
  for (const space of ['\u2003', '\u3000', '\u2028', '\ufeff'])
    assert.ok(features(utf8(`pr0fessional${space}s0ftware`)).includes('OBFUSCATED_WORDS'), escape(space));
  assert.is(wordToken('0ffice'), 'office');
  assert.is(wordToken('v1agra'), 'viagra');
  assert.is(wordToken('win32'), 'win32');
  assert.is(wordToken('2007'), 'num:#');
  // The tokenizer reads them as the word and notes the trick: what Bayes learned of "office" applies.
  const tokens = tokenize(spam);
  assert.ok(tokens.includes('office') && tokens.includes('obfuscated'));
});

test('link text naming another domain than its href', () => {
  const phish = html(
    'Your account',
    '<p>Sign in at <a href="http://203.0.113.7/login.php">https://www.paypal.com/signin</a> now.</p>',
  );
  assert.ok(features(phish).includes('URI_TEXT_MISMATCH'));
  const other = html('Your account', '<p>Go to <a href="http://secure-login.example.net/x">www.paypal.com</a>.</p>');
  assert.ok(features(other).includes('URI_TEXT_MISMATCH'));
  // Same registered domain (a tracking host of the same company) is fine, and so is plain link text.
  const fine = html(
    'News',
    '<p><a href="https://click.news.example.co.uk/r?u=1">www.example.co.uk</a> and <a href="http://elsewhere.example.org/">read more</a></p>',
  );
  assert.not.ok(features(fine).includes('URI_TEXT_MISMATCH'));
  assert.is(registeredDomain('click.news.example.co.uk'), 'example.co.uk');
});

test('URL shape: IP-literal hosts, userinfo, shorteners', () => {
  const f = features(
    mail('hi', 'See http://198.51.100.23/~shop/ and http://www.bank.example@evil.example/ and https://bit.ly/3xYz'),
  );
  for (const name of ['URI_IP_HOST', 'URI_USERINFO', 'URI_SHORTENER']) assert.ok(f.includes(name as never), name);
  assert.equal(features(mail('hi', 'The patch is at https://git.example.org/r/123 (see the thread).')), []);
});

test('HTML: hidden text, image-only bodies, shouting fonts', () => {
  const image = html(
    'Hot stock',
    `<html><body><a href="http://x.example/"><img src="http://x.example/a.gif"></a><p style="display:none">${'dictionary words to fool filters '.repeat(6)}</p></body></html>`,
  );
  const f = features(image);
  assert.ok(f.includes('HTML_IMAGE_ONLY') && f.includes('HTML_HIDDEN_TEXT'));
  const loud = html(
    'SAVE',
    `<font size=5 color=red>SAVE</font><font size="+4" color=blue>NOW</font><font color=green>BIG</font><font color=red>!!!</font>${' text'.repeat(100)}`,
  );
  assert.ok(features(loud).includes('HTML_SHOUTING'));
  const newsletter = html(
    'Minutes',
    `<p>${'The committee met on Tuesday and agreed the budget. '.repeat(20)}</p><img src="cid:logo">`,
  );
  assert.equal(features(newsletter), []);
});

test('image spam: the one inline picture first, above a page of filler text', () => {
  const prose =
    'how well nat is getting on. she bore it without flinching, saying to herself that the boy would care. ';
  const related = (htmlBody: string, pictures: number[], subject = 'Ur turn to say yes') =>
    Buffer.from(
      `${head(subject, undefined, 'multipart/related; boundary="r"')}--r\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n${htmlBody}\r\n` +
        pictures
          .map(
            (bytes, i) =>
              `--r\r\nContent-Type: image/gif; name="p${i}.gif"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <p${i}>\r\n\r\n${'R0lGODlh'.repeat(bytes / 8).replace(/.{76}/g, '$&\r\n')}\r\n`,
          )
          .join('') +
        '--r--\r\n',
    );
  const has = (raw: Buffer) => features(raw).includes('HTML_IMAGE_LEADS_TEXT');
  const spam = `<html><body><img src="cid:p0"><br>${prose.repeat(4)}</body></html>`;
  assert.ok(has(related(spam, [12000])));
  assert.ok(has(related(`<p>Hi!</p><IMG width=400 SRC=cid:p0>${prose.repeat(4)}`, [12000])));
  // Not image spam: a short caption (the mostly-image rule's), text above the picture, a picture linked from the
  // web, a newsletter's several pictures, a bounce's small icon (Gmail's is 1.5 KB).
  assert.not.ok(has(related('<img src="cid:p0"><br>Sent from my phone', [12000])));
  assert.not.ok(has(related(`<p>${prose}</p><img src="cid:p0">${prose.repeat(3)}`, [12000])));
  assert.not.ok(has(related(`<img src="http://x.example/a.gif">${prose.repeat(4)}`, [12000])));
  assert.not.ok(has(related(`<img src="cid:p0">${prose.repeat(4)}<img src="cid:p1">`, [12000, 9000])));
  assert.not.ok(has(related(`<img width=72 height=72 src="cid:p0">${prose.repeat(4)}`, [1400])));
  // A phone's photo with a line of text is not an image-only ad: over 256 KB as sent, no ad was that big.
  const imageOnly = (pictures: number[]) =>
    features(related('<img src="cid:p0"><br>Sent from my phone', pictures)).includes('HTML_IMAGE_ONLY');
  assert.ok(imageOnly([12000]));
  assert.not.ok(imageOnly([400000]));
});

test('headline fonts, potency and diet offers, forms of personal details, stock tips', () => {
  const has = (raw: Buffer, name: string) => features(raw).includes(name as never);
  const prose = ' Our new catalogue is out, with the spring range and the prices of the season.'.repeat(5);
  // One poster-sized font is enough to shout; a mail program's largest (size 5, 24px) is not.
  for (const big of [
    '<font size=6>',
    '<font size="+3">',
    '<span style="font-size: 36px">',
    '<p style="font-size:28pt">',
    '<font size=60>',
  ])
    assert.ok(has(html('Spring', `${big}SALE</font>${prose}`), 'HTML_SHOUTING'), big);
  for (const big of ['<font size=5>', '<font size="+2">', '<span style="font-size: 24px">'])
    assert.not.ok(has(html('Spring', `${big}SALE</font>${prose}`), 'HTML_SHOUTING'), big);
  // Named twice, the goods are the topic: a pitch. Once is a mention (a news item, a joke, a filter's thread).
  assert.ok(
    has(mail('Feel young again', `Generic Viagra at half price.${prose} Harder erections tonight.`), 'HEALTH_OFFER'),
  );
  assert.ok(has(mail('Summer body', `Lose 20 pounds in a month without dieting!${prose}`), 'HEALTH_OFFER'));
  assert.not.ok(has(mail('Re: filters', `My filter still lets viagra spam through.${prose}`), 'HEALTH_OFFER'));
  assert.not.ok(has(mail('Re: gym', 'I lost my keys at the gym; the weights room was shut.'), 'HEALTH_OFFER'));
  // Three labels with blanks after them make a form; filled-in details (a signature, a bug report) do not.
  const form =
    'To claim, reply with:\n\nFull Name: ____________\n*ADDRESS: ..........\nPhone Number:\n2. Your Age:\nThank you.';
  assert.ok(has(mail('Claim your prize', form), 'FILL_FORM'));
  const filled = 'Name: Jo Bloggs\nPhone: +44 20 7946 0000\nAddress: 1 High Street\nCountry: UK\nVersion: 2.1';
  assert.not.ok(has(mail('Bug 1234', filled), 'FILL_FORM'));
  assert.not.ok(has(mail('Form', 'Name:\nPhone:\nnot a form after all'), 'FILL_FORM'), 'two blanks are not a form');
  // The same in HTML: text fields named for personal details, not a search box or a subscription's e-mail field.
  const fields = (...names: string[]) =>
    `<form action="http://leads.example/"><p>Complete the form for a confidential interview.</p>${names
      .map((n) => `<input type=text name="${n}">`)
      .join('')}<input type=submit></form>`;
  assert.ok(has(html('Agents wanted', fields('full_name', 'Email', 'DayPhone')), 'FILL_FORM'));
  assert.not.ok(has(html('News', fields('q')), 'FILL_FORM'));
  assert.not.ok(
    has(
      html('News', `${fields('email')}<input type=hidden name=listname><input type=checkbox name=state>`),
      'FILL_FORM',
    ),
  );
  // Dieting's and potency's words that spammers use to step around the plain ones.
  assert.ok(has(mail('Summer is coming', 'Melt your excess body kilos. Shed the extra weight!'), 'HEALTH_OFFER'));
  assert.ok(has(mail('Lose 22.5lbs in 3 weeks!', 'Flush fat away: burn body fat while you sleep.'), 'HEALTH_OFFER'));
  // The pill in the subject, prose in the body to pad it; through a list, a subject is the list's topic.
  const padded = 'Were these blessed privileges in the text to be purchased upon our terms.';
  assert.ok(has(mail('VIAGRA for $0.87 per pill', padded), 'HEALTH_OFFER'));
  assert.not.ok(has(mail('Shoe size and penis size are not linked', padded), 'HEALTH_OFFER'), 'a headline');
  const listed = Buffer.from(`List-Id: <talk.lists.example>\r\n${mail('Re: viagra spam again', padded).toString()}`);
  assert.not.ok(has(listed, 'HEALTH_OFFER'), 'through a list');
  // A pump-and-dump tip: two of ticker, target, rating, market. A stock named once, or a price, is news.
  const tip =
    'HXPN IS MAKING GREAT PROGRESS!\nCompany: Harris Exploration\nSymbol: HXPN\nPrice: 0.64\n5-day Target: $3\n';
  assert.ok(has(mail('Of to minnetonka', `${tip}Rating: Strong Buy`), 'STOCK_TIP'));
  assert.ok(has(mail('Hot pick', 'Traded on the Pink Sheets, our stock alert of the week.'), 'STOCK_TIP'));
  assert.not.ok(has(mail('Re: IBM', 'Ticker: IBM closed at 98 today; the ticker: IBM feed is late.'), 'STOCK_TIP'));
});

test('what bulk mail sells: two different words of the trade, or its word in the subject', () => {
  const has = (raw: Buffer, name: string) => features(raw).includes(name as never);
  const padded = 'Were these blessed privileges in the text to be purchased upon our terms.';
  const offers: [string, string, string][] = [
    ['PHARMACY_OFFER', 'Hello', 'Xanax and Valium from our online pharmacy, no prescription needed.'],
    ['PHARMACY_OFFER', 'Hello', 'Ambien without prescription, overnight.'],
    ['PHARMACY_OFFER', 'Tramadol $0.97', padded],
    [
      'SOFTWARE_OFFER',
      'Hello',
      'Adobe Photoshop CS2 for $79, Windows XP Professional: OEM software, instant download.',
    ],
    ['LOAN_OFFER', 'Hello', 'Refinance today, even with bad credit: lower your monthly payments.'],
    ['LOAN_OFFER', 'You are pre-approved', padded],
    ['CASINO_OFFER', 'Hello', 'Our online casino gives free chips and a 200% deposit bonus.'],
    ['ADULT_OFFER', 'Hello', 'Hot singles and lonely housewives on live webcams, adult DVDs.'],
    ['DIPLOMA_OFFER', 'Hello', 'Get a university diploma based on your life experience: no exams, no classes.'],
    ['WORK_AT_HOME_OFFER', 'Hello', 'Work from home and make $5,000 a week. Be your own boss!'],
    ['LOAN_OFFER', 'Hello', 'Less than perfect credit? Auto loans with guaranteed approval.'],
    ['LOAN_OFFER', 'Hello', 'Apply for your unsecured gold mastercard: instant approval in seconds.'],
    ['REPLICA_OFFER', 'Hello', 'Designer replicas of all the designer labels: Rolex, Cartier, Gucci.'],
    ['REPLICA_OFFER', 'Looking for gift? Buy Rolex!', padded],
    ['INSURANCE_OFFER', 'Hello', 'Compare term life insurance quotes from 20 insurers: get a free quote today.'],
    [
      'INSURANCE_OFFER',
      'Hello',
      "Final notice: your vehicle's warranty is about to expire. Extended warranty plans from $49.",
    ],
    ['INSURANCE_OFFER', 'ADV: Life Insurance Quotes', padded],
  ];
  for (const [feature, subject, body] of offers) assert.ok(has(mail(subject, body), feature), `${feature}: ${subject}`);
  // One word of the trade, even said over and over, is a mention: the news, a list's thread, a company's debt.
  const mentions: [string, string, string][] = [
    ['PHARMACY_OFFER', 'Re: drugs', 'Generic drugs are cheaper; generic drugs save lives.'],
    [
      'LOAN_OFFER',
      'Markets',
      'Companies with poor credit ratings face refinancing costs; to refinance debt costs more.',
    ],
    ['CASINO_OFFER', 'Digest', 'A casino opened downtown; the casinos of the coast are quiet.'],
    ['SOFTWARE_OFFER', 'Save money with OEM software', padded],
    ['WORK_AT_HOME_OFFER', 'Policy', 'Working at home needs a manager’s approval; working at home is logged.'],
    ['REPLICA_OFFER', 'Auction', 'The Rolex sold for a record; the Rolex was made in 1968. Omega watches next.'],
    ['REPLICA_OFFER', 'Re: lag', 'Replication lag: we replicate each replicated table to a replica.'],
    [
      'INSURANCE_OFFER',
      'Benefits',
      'Health insurance starts in May; the insurance covers dental too. Insurance forms attached.',
    ],
    ['INSURANCE_OFFER', 'Re: laptop', 'The warranty ran out; the laptop warranty was a year.'],
  ];
  for (const [feature, subject, body] of mentions)
    assert.not.ok(has(mail(subject, body), feature), `${feature}: ${subject}`);
  // Through a list, a subject is the list's topic.
  const listed = Buffer.from(`List-Id: <talk.lists.example>\r\n${mail('Re: mortgage spam again', padded).toString()}`);
  assert.not.ok(has(listed, 'LOAN_OFFER'));
});

test('phishing: a brand in the From name from elsewhere, account words with a link', () => {
  const phish = mail(
    'Account suspended',
    'Your account has been suspended. Verify your account at http://paypal-secure.example.net/ within 24 hours.',
    '"PayPal Security" <service@mail-notice.example.net>',
  );
  const f = features(phish);
  assert.ok(f.includes('FROM_BRAND_MISMATCH') && f.includes('PHISH_CREDENTIALS'));
  const real = mail(
    'Your receipt',
    'Thanks for your payment. https://www.paypal.com/activity',
    '"PayPal" <service@paypal.com>',
  );
  assert.equal(features(real), []);
  // The brands modern kits wear, and the brands' own mail.
  const named = (from: string) => features(mail('Notice', 'Hello.', from)).includes('FROM_BRAND_MISMATCH');
  for (const from of ['"Coinbase Support" <help@wallet-desk.example>', '"SharePoint Online" <noreply@files.example>'])
    assert.ok(named(from), from);
  for (const from of [
    '"Coinbase" <no-reply@info.coinbase.com>',
    'SharePoint <no-reply@sharepointonline.com>',
    '"Gmail Team" <mail-noreply@google.com>',
  ])
    assert.not.ok(named(from), from);
});

test('phishing: account words linking away from the sender domain', () => {
  // Synthetic, in the shape of a 2020s bank phish: a notice from one domain, the login on another.
  const phish = html(
    'Action required: unusual sign-in activity',
    '<p>Dear customer,</p><p>We detected unusual sign-in activity. Your account will be suspended unless you ' +
      '<a href="https://secure-verify.example.net/session?id=8f2a">verify your account</a> within 24 hours.</p>',
    '"Northwind Bank" <alerts@northwindbank.example>',
  );
  assert.ok(features(phish).includes('PHISH_LINK_ELSEWHERE'));
  // The same words from the domain the link goes to: a real password-reset mail.
  const reset = mail(
    'Password expires soon',
    'Your password expires in 3 days. Change it at https://accounts.northwindbank.example/password',
    'Northwind Bank <no-reply@northwindbank.example>',
  );
  const f = features(reset);
  assert.ok(f.includes('PHISH_CREDENTIALS'));
  assert.not.ok(f.includes('PHISH_LINK_ELSEWHERE'));
});

test('phishing: lookalike domains of brands and of the recipient, punycode', () => {
  for (const host of [
    'paypa1.com', // digit for letter
    'www.arnazon.com', // rn for m
    'rnicrosoft.com',
    'paypal.com.account-review.example', // the brand's domain as a subdomain of another
    'signin-paypal.example.net', // hyphenated to other words
    'amazom.com', // one edit off
    'xn--pypal-4ve.com', // punycode
  ])
    assert.ok(lookalikeHost(host), host);
  for (const host of [
    'paypal.com',
    'www.paypal.com',
    'amazon.co.uk',
    'apple.slashdot.org', // a topic label, not a disguise
    'outlook.4team.biz',
    'www.google-analytics.com',
    'lists.example.org',
    '203.0.113.9',
  ])
    assert.not.ok(lookalikeHost(host), host);
  assert.ok(lookalikeHost('examp1e-corp.test', 'example-corp.test'));
  assert.not.ok(lookalikeHost('example-corp.test', 'example-corp.test'));
  assert.not.ok(lookalikeHost('ymail.com', 'gmail.com'), 'two mail providers a letter apart');
  // One edit anywhere, the first and last letters too; two at both ends are not one.
  for (const host of ['xmazon.com', 'amazox.com', 'mazon.com', 'amazo.com', 'aamazon.com', 'amazonn.com'])
    assert.ok(lookalikeHost(host), host);
  for (const host of ['xmazox.com', 'mazo.com', 'xamazonx.com']) assert.not.ok(lookalikeHost(host), host);
  assert.ok(lookalikeHost('xwidget.test', 'gwidget.test') && lookalikeHost('gwidgex.test', 'gwidget.test'));
  assert.not.ok(lookalikeHost('xwidgex.test', 'gwidget.test'));
  const phish = html(
    'Your parcel is on hold',
    '<p>Pay the customs fee at <a href="http://dhl-parcel.paypa1.com/pay">our payment page</a>.</p>',
    'DHL Express <notice@dhl-express-delivery.example>',
  );
  assert.ok(features(phish).includes('LOOKALIKE_DOMAIN'));
  // CEO fraud: the sender's domain one letter off the recipient's.
  const ceo = Buffer.from(
    'From: Dana Smith <dana@examp1e-corp.test>\r\nTo: payroll@example-corp.test\r\nSubject: urgent wire\r\n' +
      'Date: Tue, 3 Apr 2007 10:00:00 +0000\r\nMessage-ID: <x1@examp1e-corp.test>\r\n\r\nAre you at your desk?\r\n',
  );
  assert.ok(features(ceo).includes('LOOKALIKE_DOMAIN'));
});

test('phishing: a password field inside the mail; a search form is not one', () => {
  const phish = html(
    'Mailbox quota exceeded',
    '<form action="https://mail-quota.example.net/upgrade" method="post">Email <input type="text" name="u">' +
      ' Password <input type="password" name="p"><input type="submit" value="Upgrade"></form>',
  );
  assert.ok(features(phish).includes('HTML_FORM'));
  const card = html(
    'Account update',
    '<form action="http://192.0.2.7/pp/">Card number <input name="ccnum"> CVV2 <input name="cvv2"> PIN <input name="pin"></form>',
  );
  assert.ok(features(card).includes('HTML_FORM'), "a card's fields");
  const newsletter = html(
    'This week on the list',
    '<p>Archives:</p><form action="https://lists.example.org/search"><input type="text" name="q"></form>',
  );
  assert.not.ok(features(newsletter).includes('HTML_FORM'));
});

// A message with a text part and one attached file (base64, so the features read it decoded).
const attached = (
  filename: string | null,
  type: string,
  content: string | Buffer = 'MZ\x90\x00 binary',
  body = 'Please see the attached file.',
  from?: string,
) =>
  Buffer.from(
    `${head('Invoice 4471', from, 'multipart/mixed; boundary="b1"')}--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n` +
      `${body}\r\n--b1\r\nContent-Type: ${type}${filename === null ? '' : `; name="${filename}"`}\r\n` +
      `Content-Disposition: attachment${filename === null ? '' : `; filename="${filename}"`}\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${Buffer.from(content).toString('base64')}\r\n--b1--\r\n`,
  );

test('malware attachments: programs, scripts, shortcuts and disk images, by file name or type', () => {
  const risky = (raw: Buffer) => features(raw).includes('RISKY_ATTACHMENT');
  for (const ext of 'exe scr com pif bat cmd cpl js jse vbs vbe wsf hta jar lnk msi ps1 iso img vhd vhdx'.split(' '))
    assert.ok(risky(attached(`Invoice_4471.${ext}`, 'application/octet-stream')), ext);
  assert.ok(risky(attached('INVOICE.EXE', 'application/octet-stream')), 'any case');
  // The type alone, the name saying nothing.
  for (const type of [
    'application/x-msdownload',
    'application/x-ms-shortcut',
    'application/java-archive',
    'text/vbscript',
  ])
    assert.ok(risky(attached('update', type)), type);
  assert.ok(risky(attached(null, 'application/x-msdos-program')));
  // Names encoded as RFC 2231 and RFC 2047 are read decoded.
  const rfc2231 = attached('x', 'application/octet-stream')
    .toString()
    .replace(/filename="x"/, "filename*=utf-8''Rechnung%20M%C3%A4rz.exe");
  assert.ok(risky(Buffer.from(rfc2231)));
  assert.ok(risky(attached('=?UTF-8?B?UmVjaG51bmcuZXhl?=', 'application/octet-stream')));
  // Inside an attached message too.
  const inner = attached('setup.scr', 'application/octet-stream').toString();
  const forwarded = Buffer.from(
    `${head('Fwd: invoice', undefined, 'multipart/mixed; boundary="outer"')}--outer\r\nContent-Type: text/plain\r\n\r\nsee below\r\n` +
      `--outer\r\nContent-Type: message/rfc822\r\n\r\n${inner}\r\n--outer--\r\n`,
  );
  assert.ok(risky(forwarded));
  // Documents, archives, images and patches are not.
  for (const [name, type] of [
    ['report.pdf', 'application/pdf'],
    ['photos.zip', 'application/zip'],
    ['logo.png', 'image/png'],
    ['fix.patch', 'text/x-diff'],
    ['notes.js.txt', 'text/plain'],
    ['www.example.com.pdf', 'application/pdf'],
  ])
    assert.equal(features(attached(name!, type!)), [], name);
});

test('zip attachments: a program, script, macro document or page inside is read from the directory', () => {
  const inZip = (names: string[], filename: string | null = 'Invoice_4471.zip', type = 'application/zip') =>
    features(attached(filename, type, zipOf(names)));
  for (const name of ['Invoice_4471.exe', 'scan/Payment.JS', 'doc.iso', 'Order.lnk', 'Statement.xlsm', 'login.html'])
    assert.equal(inZip(['readme.txt', name]), ['ARCHIVE_RISKY_FILE'], name);
  assert.equal(inZip(['setup.scr'], null), ['ARCHIVE_RISKY_FILE'], 'known by its type alone');
  assert.equal(inZip(['setup.scr'], 'files.zip', 'application/octet-stream'), ['ARCHIVE_RISKY_FILE'], 'by its name');
  assert.equal(
    features(attached('Invoice.zip', 'application/zip', zipOf(['Invoice.exe'], true))),
    ['ARCHIVE_RISKY_FILE'],
    'a zip sealed with a password still lists its names',
  );
  // What zips usually carry is not.
  assert.equal(inZip(['photos/IMG_0001.jpg', 'report.pdf', 'data.csv', 'src/main.c', 'Thesis.docx']), []);
  // A damaged zip, or another file named .zip, is only a zip that cannot be read.
  assert.equal(features(attached('broken.zip', 'application/zip', zipOf(['a.exe']).subarray(0, 40))), []);
  assert.equal(features(attached('notes.zip', 'application/zip', 'not a zip at all')), []);
});

test('attachments named to hide their type: a document extension then another', () => {
  const double = (name: string) => features(attached(name, 'application/octet-stream'));
  assert.ok(double('invoice.pdf.exe').includes('ATTACH_DOUBLE_EXTENSION'));
  assert.ok(double('invoice.pdf.exe').includes('RISKY_ATTACHMENT'));
  assert.ok(double('scan.pdf   .html').includes('ATTACH_DOUBLE_EXTENSION'));
  assert.ok(double('Payment_Advice.PDF.htm').includes('ATTACH_DOUBLE_EXTENSION'));
  assert.ok(double('statement.docx.docm').includes('ATTACH_DOUBLE_EXTENSION'));
  assert.ok(double('notes              .txt').includes('ATTACH_DOUBLE_EXTENSION'), 'blanks pushing it out of view');
  for (const name of ['photos.jpg.zip', 'backup.tar.gz', 'release-1.2.docx', 'minutes.doc.pdf', 'a.b.c'])
    assert.not.ok(double(name).includes('ATTACH_DOUBLE_EXTENSION'), name);
  // A name of 40,000 blanks is read in linear time (the regex alone took seconds on the whole name).
  const started = performance.now();
  assert.not.ok(double(`a${' '.repeat(40_000)}x`).includes('ATTACH_DOUBLE_EXTENSION'));
  assert.ok(performance.now() - started < 500, `${performance.now() - started} ms`);
});

test('macro-enabled Office attachments, by extension or type', () => {
  for (const name of ['budget.xlsm', 'Order.DOCM', 'deck.pptm', 'addin.xlam'])
    assert.ok(features(attached(name, 'application/octet-stream')).includes('ATTACH_MACRO_OFFICE'), name);
  assert.ok(
    features(attached('budget', 'application/vnd.ms-excel.sheet.macroEnabled.12')).includes('ATTACH_MACRO_OFFICE'),
  );
  for (const name of ['budget.xlsx', 'order.docx', 'deck.pptx'])
    assert.equal(features(attached(name, 'application/octet-stream')), [], name);
});

test('HTML and SVG attachments; stronger when the page has a form, a script or a redirect', () => {
  const page = (content: string, name = 'Remittance_Advice.html', type = 'text/html') =>
    features(attached(name, type, content));
  const plain = page('<html><body><h1>Minutes</h1><p>Agreed: the budget.</p></body></html>');
  assert.equal(plain, ['ATTACH_HTML']);
  assert.equal(page('<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>', 'logo.svg', 'image/svg+xml'), [
    'ATTACH_HTML',
  ]);
  assert.equal(page('<p>saved page</p>', 'page.shtml', 'application/octet-stream'), ['ATTACH_HTML']);
  assert.equal(page('<p>saved page</p>', 'page', 'application/xhtml+xml'), ['ATTACH_HTML']);
  for (const active of [
    '<form action="https://collect.example.net/p.php" method="post"><input name="email"></form>',
    'Password: <input type="password" name="pw">',
    '<script>document.write(atob("PGgxPg=="))</script>',
    '<meta http-equiv="refresh" content="0; url=https://login.example.net/">',
    '<body onload="window.location=\'https://login.example.net/\'">',
    '<body onload="eval(atob(\'d2luZG93\'))">',
  ])
    assert.ok(page(active).includes('ATTACH_HTML_ACTIVE'), active);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg"><script>top.location.href="https://x.example/"</script></svg>';
  assert.ok(page(svg, 'Voicemail.svg', 'image/svg+xml').includes('ATTACH_HTML_ACTIVE'));
  // The inline HTML body of a message is its text, not an attachment, even with a file name (trec07p's weather alerts).
  const form = '<form action="https://weather.example/forecast"><input name="zip"></form>';
  assert.not.ok(features(html('News', form)).includes('ATTACH_HTML'));
  const named = html('Forecast', form)
    .toString()
    .replace(/\r\n\r\n/, '\r\nContent-Disposition: inline; filename="wx.htm"\r\n\r\n');
  assert.not.ok(features(Buffer.from(named)).includes('ATTACH_HTML'));
});

test('links to data: URIs', () => {
  const phish = html(
    'Document shared',
    '<p><a href="data:text/html;base64,PGgxPkxvZ2luPC9oMT4=">Open the document</a></p>',
  );
  assert.ok(features(phish).includes('URI_DATA'));
  const image = html(
    'Logo',
    '<p>Hello <img src="data:image/png;base64,iVBORw0KGgo="> <a href="https://ex.example/">site</a></p>',
  );
  assert.not.ok(features(image).includes('URI_DATA'));
});

test('a From address or link under a top-level domain mostly registered for abuse', () => {
  assert.ok(features(mail('Offer', 'Hello', 'Deals <deals@promo-4411.top>')).includes('ABUSED_TLD'));
  assert.ok(features(html('Offer', '<a href="https://x7k2.shop-now.cyou/p">Open</a>')).includes('ABUSED_TLD'));
  assert.ok(features(mail('Offer', 'See https://login.account-check.gq/verify now')).includes('ABUSED_TLD'));
  for (const url of ['https://abc.xyz/', 'https://www.tcl.tk/', 'https://shop.example/', 'https://top.example/'])
    assert.not.ok(features(html('News', `<a href="${url}">Read</a>`)).includes('ABUSED_TLD'), url);
});

test('links to hosting phishing kits use: scored only with account or urgency words', () => {
  const notice = (url: string) =>
    html(
      'Mailbox storage',
      `<p>Your mailbox is almost full. <a href="${url}">Verify your account</a> to keep receiving mail.</p>`,
      'IT Helpdesk <it@corp-helpdesk.example>',
    );
  for (const url of [
    'https://mail-upgrade.web.app/login',
    'https://owa-verify.firebaseapp.com/',
    'https://firebasestorage.googleapis.com/v0/b/x.appspot.com/o/index.html?alt=media',
    'https://pub-1234.r2.dev/index.html',
    'https://login.abc123.workers.dev/',
    'https://office-docs.pages.dev/',
    'https://1a2b-203-0-113-7.ngrok-free.app/',
    'https://outlook-web.glitch.me/',
    'https://webmail-update.000webhostapp.com/',
    'https://mailupdate.weebly.com/',
    'https://jdoe.wixsite.com/owa',
    'https://sites.google.com/view/mail-upgrade',
    'https://forms.gle/AbCdEf123',
    'https://docs.google.com/forms/d/e/1FAIpQL/viewform',
    'https://storage.googleapis.com/bucket-9/index.html',
    'https://mailbox7.blob.core.windows.net/web/index.html',
    'https://owa-login.azurewebsites.net/',
    'https://mail.jdoe.repl.co/',
    'https://owa-login.vercel.app/',
    'https://owa-login.netlify.app/',
    'https://owa-login.github.io/',
    'https://ipfs.io/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi?filename=owa.html',
    'https://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi.ipfs.dweb.link/',
  ]) {
    const f = features(notice(url));
    assert.ok(f.includes('URI_HOSTING') && f.includes('PHISH_HOSTING'), url);
  }
  // A newsletter linking a project's site there, with no account words: named, not scored.
  const newsletter = html(
    'Release notes',
    '<p>Version 2.1 is out. Read the docs at <a href="https://widgets.netlify.app/docs">widgets.netlify.app</a>.</p>',
    'Widgets <news@widgets.example>',
  );
  const f = features(newsletter);
  assert.ok(f.includes('URI_HOSTING'));
  assert.not.ok(f.includes('PHISH_HOSTING'));
  // The services' own sites and other Google documents are not kit hosting.
  for (const url of [
    'https://www.netlify.com/blog/',
    'https://docs.google.com/document/d/1x/edit',
    'https://github.com/x/y',
  ])
    assert.not.ok(features(notice(url)).includes('URI_HOSTING'), url);
});

test('account-threat phrases, counted with somewhere to click', () => {
  const body =
    'Unusual sign-in activity was detected on your mailbox. Your account will be suspended within 24 hours ' +
    'unless you confirm your identity: https://secure-mail.example.net/confirm';
  assert.ok(features(mail('Security notice', body)).includes('PHISH_PHRASES_MANY'));
  // Without a link, an attached page or a data: link, nothing to act on: not counted.
  assert.equal(
    features(mail('Security notice', body.replace(/ https:.*/, ' call the helpdesk.'))).filter((f) =>
      f.startsWith('PHISH_PHRASES'),
    ),
    [],
  );
  const urgent = (sample: string, from?: string) =>
    features(mail('Notice', `Your mailbox is almost full.\n(${sample}.)\nhttps://portal.example.net/`, from)).includes(
      'PHISH_PHRASES',
    );
  for (const sample of [
    'Verify your account',
    'please revalidate your mailbox',
    'your account has been temporarily suspended',
    'Mailbox will be deactivated',
    'suspicious login attempt',
    'unauthorised access',
    'unrecognized sign in',
    'your storage quota',
    'quota exceeded',
    'Your password expires today',
    'password will expire',
    'You have 5 pending messages',
    'undelivered e-mails',
    'John shared a document with you',
    'update your billing information',
    'your parcel is currently on hold',
    'within 48 hours',
    'failure to comply',
    'sign in to view',
    'log-in to download',
    'Login to access',
    'keep using your current password',
    'You have a new voicemail',
    'a new voice message',
    'an encrypted message',
    'restore full access',
    'the storage is at 98% full',
    'You have used 95.5% of your storage',
    'release your held messages',
    'retrieve all incoming e-mails',
    'to avoid account suspension',
    'prevent your mailbox from being deleted',
    'Deactivation request received',
    'click the button below to upgrade',
    'Click here to retain your address',
    'Dear Email User',
    'Hello valued member',
    'Attention: Web-mail Account Holders',
    'Dear PayPal member',
    'Dear eBay online user',
  ])
    assert.ok(urgent(sample), sample);
  assert.not.ok(urgent('the meeting is at noon'), 'one phrase is not several');
  assert.not.ok(urgent('click here to confirm your subscription'), "a list's double opt-in");
  assert.not.ok(urgent('95% of readers'), 'a share of something else');
  // The sharing services say it in earnest.
  for (const from of ['Google Drive <drive-shares-noreply@google.com>', 'SharePoint <no-reply@sharepointonline.com>'])
    assert.not.ok(urgent('Dana shared a document with you', from), from);
});

test("a link carrying the recipient's address in its path or fragment, as kits pre-fill their login page", () => {
  const carries = (href: string, text = '') =>
    features(html('Mailbox', `<p>${text}<a href="${href}">Open</a></p>`)).includes('URI_CARRIES_RECIPIENT');
  const b64 = Buffer.from('you@example.test').toString('base64');
  for (const href of [
    'https://kit.example.net/login.html#you@example.test',
    'https://kit.example.net/owa/#YOU%40example.test',
    `https://kit.example.net/#${b64}`,
    `https://kit.example.net/i/${b64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_')}/`,
    'https://kit.example.net/you@example.test/index.php?x=1',
  ])
    assert.ok(carries(href), href);
  for (const href of [
    'https://shop.example/track?email=you@example.test',
    'https://lists.example/unsubscribe/you@example.test',
    'https://shop.example/preferences/you%40example.test',
    'https://kit.example.net/#other@example.test',
    'https://kit.example.net/#xyou@example.test',
    'https://news.example/links/r1/you@example.teste/?url=x',
    'mailto:you@example.test',
  ])
    assert.not.ok(carries(href), href);
  const listed = Buffer.from(
    `List-Id: <help.lists.example>\r\n${html('Re: archive', '<a href="https://archive.example/you@example.test/msg1.html">msg</a>').toString()}`,
  );
  assert.not.ok(features(listed).includes('URI_CARRIES_RECIPIENT'), 'an archive link, through a list to its address');
  // Thousands of such links under a long header: the header is read for list fields once (per link: 6.7 s).
  const fields = Array.from({ length: 2000 }, (_, n) => `X-H${n}: ${'v'.repeat(30)}`).join('\r\n');
  const links = '<a href="http://kit.example.net/#you@example.test">y</a>'.repeat(12_000);
  const started = performance.now();
  features(Buffer.from(`${fields}\r\nList-Id: <a.lists.example>\r\n${html('Mailbox', links).toString()}`));
  assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
  // Bare links in plain text count too.
  assert.ok(
    features(mail('Mailbox', 'Sign in: https://kit.example.net/#you@example.test')).includes('URI_CARRIES_RECIPIENT'),
  );
});

test('modern phishing and malware reach the rule score and Bayes as rule: tokens', () => {
  const raw = attached('invoice.pdf.exe', 'application/octet-stream');
  assert.ok(tokenize(raw).includes('rule:ATTACH_DOUBLE_EXTENSION'));
  const points = contentFeatures(raw).reduce((sum, f) => sum + FEATURES[f].score, 0);
  assert.ok(points >= 5, `a double-extension program alone is junk: ${points}`);
});

test('bulk advertising phrases, counted', () => {
  const ad = mail(
    'Lowest mortgage rates',
    'Dear Friend, act now! Our mortgage rates are the lowest. No obligation, 100% free quote, limited time. Click here to apply now. To be removed from our mailing list reply REMOVE.',
  );
  assert.ok(features(ad).includes('SPAM_PHRASES_MANY'));
  assert.equal(features(mail('Re: patch', 'Click here for the log; the discount on the conference ends Friday.')), []);
});

test('the features scan the first 32 KB of the text: phrases past it in a long newsletter are not counted', () => {
  const phrases = 'Dear Friend, act now! No obligation, 100% free quote, limited time. Click here to apply now.';
  const filler = 'The minutes of the meeting and the agenda for the next one are below.\n'.repeat(480); // 33.6 KB
  assert.ok(features(mail('Minutes', `${phrases}\n${filler}`)).includes('SPAM_PHRASES_MANY'));
  assert.equal(features(mail('Minutes', `${filler}${phrases}`)), []);
});

test('links through a redirector are judged by where they send the reader', () => {
  const via = (href: string) => features(html('Your invoice', `<p>See <a href="${href}">your invoice</a>.</p>`));
  // google.com/url?q=, l.facebook.com/l.php?u=, Outlook's safelinks, a site's own open redirect.
  assert.equal(via('https://www.google.com/url?q=https%3A%2F%2Fpaypa1.com%2Flogin&sa=D'), ['LOOKALIKE_DOMAIN']);
  assert.equal(via('https://l.facebook.com/l.php?u=http%3A%2F%2F203.0.113.9%2Fx&h=AT0'), ['URI_IP_HOST']);
  assert.equal(via('https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fbit.ly%2F3xYz&data=05'), [
    'URI_SHORTENER',
  ]);
  assert.equal(via('https://news.example.org/out?redirect=https://paypal.com.secure-login.example/'), [
    'LOOKALIKE_DOMAIN',
  ]);
  // A newsletter's tracking link to the shop, or a search link, is nothing.
  assert.equal(via('https://click.mail.shop.example/track?url=https%3A%2F%2Fshop.example%2Fsale'), []);
  assert.equal(via('https://www.google.com/search?q=mail+server'), []);
  assert.equal(redirectTarget('https://x.example/r?to=https%3A%2F%2Fy.example%2F%E0%A4'), null, 'bad escapes');
});

// What every in-repo fixture shows, as found before the features were made cheaper (issue 17: one pass
// over the words, a word looked up before each phrase's regex): faster must not mean different. A new rule
// adds its hits here (QP_LONG_LINE, issue 18: five fixtures, among them SpamAssassin's ham `mime1`; HEALTH_OFFER:
// spam 001 and 009; FILL_FORM: mikel-mail's empty_group_lists.eml, a Western Union scam asking for ADDRESS, TEL...;
// STOCK_TIP: mikel-mail's content_transfer_encoding_plain.eml, an "Investor Alert" for a Pink Sheets ticker).
const FIXTURE_FEATURES: Record<string, string[]> = {
  'mime/mailparser/mail.eml': ['HTML_IMAGE_ONLY'],
  'mime/mailparser/nodemailer.eml': ['HTML_IMAGE_ONLY'],
  'mime/mikel-mail/attachment_emails/attachment_message_rfc822_inline_image.eml': ['HTML_IMAGE_ONLY'],
  'mime/mikel-mail/error_emails/bad_subject.eml': ['HTML_IMAGE_ONLY'],
  'mime/mikel-mail/error_emails/content_transfer_encoding_7-bit.eml': ['PHISH_CREDENTIALS', 'PHISH_LINK_ELSEWHERE'],
  'mime/mikel-mail/error_emails/content_transfer_encoding_plain.eml': ['STOCK_TIP'],
  'mime/mikel-mail/error_emails/content_transfer_encoding_text-html.eml': [
    'LOAN_OFFER',
    'PHISH_CREDENTIALS',
    'PHISH_LINK_ELSEWHERE',
  ],
  'mime/mikel-mail/error_emails/empty_group_lists.eml': ['FILL_FORM', 'QP_LONG_LINE'],
  // Spam by its ISP's own X-Spam-Status, its body stripped to MailScanner's line and link.
  'mime/mikel-mail/plain_emails/raw_email_bad_time.eml': ['SHORT_LINK_ELSEWHERE'],
  'mime/mimekit/messages/multipart-related-mhtml.txt': ['HTML_IMAGE_ONLY', 'QP_LONG_LINE'],
  'mime/php-mime-mail-parser/issue133': ['LOOKALIKE_DOMAIN'],
  'mime/php-mime-mail-parser/issue149': ['LOOKALIKE_DOMAIN'],
  'mime/php-mime-mail-parser/issue182': ['LOOKALIKE_DOMAIN'],
  'mime/php-mime-mail-parser/issue230': ['HTML_HIDDEN_TEXT', 'URI_SHORTENER'],
  'mime/php-mime-mail-parser/m0001': ['LOOKALIKE_DOMAIN'],
  'mime/php-mime-mail-parser/m0002': ['LOOKALIKE_DOMAIN'],
  'mime/stalwart-mail-parser/malformed/020.eml': ['HTML_IMAGE_ONLY'],
  'mime/stalwart-mail-parser/thirdparty/011.eml': ['HTML_IMAGE_ONLY'],
  'mime/stalwart-mail-parser/thirdparty/017.eml': ['HTML_IMAGE_ONLY'],
  'mime/stalwart-mail-parser/thirdparty/018.eml': ['HTML_IMAGE_ONLY'],
  'mime/stalwart-mail-parser/thirdparty/019.eml': ['HTML_IMAGE_ONLY', 'QP_LONG_LINE'],
  'spamassassin/ham/cjk-big5-base64.1': ['HTML_IMAGE_ONLY'],
  'spamassassin/ham/infoworld': ['URI_IP_HOST'],
  'spamassassin/ham/linuxplanet': ['SPAM_PHRASES'],
  'spamassassin/ham/neat_net_tricks': ['SPAM_PHRASES'],
  'spamassassin/ham/mime1': ['QP_LONG_LINE'],
  'spamassassin/ham/netcenter-direct_de': ['HTML_HIDDEN_TEXT', 'HTML_SHOUTING'],
  'spamassassin/spam/001': ['HEALTH_OFFER', 'PHARMACY_OFFER', 'SPAM_PHRASES_MANY', 'URI_IP_HOST'],
  'spamassassin/spam/003': ['URI_IP_HOST'],
  'spamassassin/spam/004': ['SPAM_PHRASES', 'URI_IP_HOST'],
  'spamassassin/spam/005': ['URI_MANY_ONE_DOMAIN'],
  'spamassassin/spam/009': [
    'HEALTH_OFFER',
    'HTML_SHOUTING',
    'QP_LONG_LINE',
    'SPAM_PHRASES_MANY',
    'URI_IP_HOST',
    'URI_USERINFO',
  ],
  'spamassassin/spam/010': ['MONEY_SHOUTING', 'SPAM_PHRASES'],
  'spamassassin/spam/badmime.txt': ['HTML_IMAGE_ONLY'],
  'spamassassin/spam/badmime2.txt': ['SOFTWARE_OFFER'],
  'spamassassin/spam/unicode2': ['ABUSED_TLD'],
};

test('advance-fee fraud: three of its topics, each counted once', () => {
  const fee = (body: string) => features(mail('Urgent business proposal', body)).includes('ADVANCE_FEE');
  assert.ok(
    fee(
      'I am the next of kin of the late President. The sum of US$25.5 million is in a dormant account;\n' +
        'you will receive 30% of the total sum for your assistance. This matter is strictly confidential.',
    ),
  );
  assert.ok(fee('A consignment of USD 12 million awaits its beneficiary; the transfer of funds is risk-free.'));
  // One topic named many ways, or two topics, is not the story.
  assert.not.ok(fee('Our next of kin form: name your beneficiary. Inheritance law, beneficiaries and heirs.'));
  assert.not.ok(fee('The ambassador (a diplomat in Nigeria) sent a diplomatic note from Lagos.'));
  assert.not.ok(fee('Revenue reached $4.2 million; the transfer of funds to the new account is done.'));
});

test('the features found on the fixtures are unchanged', () => {
  const found: Record<string, string[]> = {};
  for (const [prefix, dir] of [
    ['mime/', MIME_FIXTURES],
    ['spamassassin/', SPAM_FIXTURES],
  ] as const)
    for (const sample of fixtureMessages(dir)) {
      const f = features(sample.raw).sort();
      if (f.length) found[prefix + sample.name] = f;
    }
  assert.equal(found, FIXTURE_FEATURES);
});

test('words spelt out and stock phrases, whatever their case and place in the text', () => {
  const spelt = (body: string) => features(mail('Hello', body)).includes('SPACED_LETTERS');
  assert.ok(spelt('Buy V*I*A*G*R*A today'));
  assert.ok(spelt('first line\nv.i.a.g.r.a'));
  assert.ok(spelt('v-i-a-g-r-a'));
  // Inside a longer word, or a word with a space in it (outside the subject), it is not spelt out.
  assert.not.ok(spelt('see the file xv.i.a.g.r.ax and v i a g r a'));
  assert.ok(features(mail('V I A G R A', 'hello')).includes('SPACED_LETTERS'));
  // Words are whitespace-separated, whatever the whitespace and wherever the word (issue 18 scans for them).
  assert.ok(spelt('v.i.a.g.r.a'));
  assert.ok(spelt('buy\tv.i.a.g.r.a\tnow'));
  assert.not.ok(spelt('v.i.a.g.r.a.'));
  const obfuscated = (body: string) => features(mail('Hello', body)).includes('OBFUSCATED_WORDS');
  assert.ok(obfuscated('pr0fessional\t(s0ftware)'));
  assert.not.ok(obfuscated('pr0fessional\tand s0ftwarexxxxxxxxxxxxxx'), 'a word of over 20 letters is not read');
  const shouted = mail('OFFER', 'CLICK HERE. ACT NOW! Limited Time only, RISK-FREE. Order Today.');
  assert.ok(features(shouted).includes('SPAM_PHRASES_MANY'));
});

test('hidden text is words a reader is not shown: an empty hidden element, a preview line, a hidden class are not', () => {
  const hides = (body: string) =>
    features(html('Notice', `<p>${'Your order has shipped today. '.repeat(8)}</p>${body}`)).includes(
      'HTML_HIDDEN_TEXT',
    );
  const filler = 'They shook hands in the choky heat of the trailer office. '.repeat(4); // 184 letters
  // Filler out of sight: styled inline, or in elements a stylesheet hides by their tag (trec07p's textareas, a
  // line of a novel in each).
  assert.ok(hides(`<div style="display:none">${filler}</div>`));
  assert.ok(hides(`<span style='font-size:0px'>${filler}</span>`));
  assert.ok(
    hides(
      `<style> textarea { display:none; } </style>${'<textarea>In 1963 when he met Jack Twist</textarea>'.repeat(8)}`,
    ),
  );
  assert.ok(hides(`<style>span.filler{visibility:hidden}</style><span class="x filler">${filler}</span>`));
  assert.ok(hides('<font size=1>fine print</font>'));
  // Nothing hidden: Word and Outlook's empty paragraph mark, Microsoft's notices' empty span, a hidden layer of
  // scripts (a counter), the preview line an inbox shows (padded with &zwnj;), a stylesheet that hides a class
  // or a tag the page does not fill.
  assert.not.ok(
    hides(
      "<p><span style='color:black;display:none;mso-hide:all'><![if !supportEmptyParas]>&nbsp;<![endif]><o:p></o:p></span></p>",
    ),
  );
  assert.not.ok(hides('<span style="display: none"></span>'));
  assert.not.ok(hides('<div style="visibility: hidden"><script>var counter = "user";</script></div>'));
  assert.not.ok(
    hides(
      `<div style="display: none; max-height: 0px; overflow: hidden;">Please read these important updates to our terms${'&nbsp;&zwnj;'.repeat(90)}</div>`,
    ),
  );
  assert.not.ok(
    hides(
      `<style>@media (max-width:600px){ .desktop-only { display:none !important } }</style><td class="desktop-only">${filler}</td>`,
    ),
  );
  assert.not.ok(hides(`<style>span.tabooheader { display: none }</style><span class=eudoraheader>${filler}</span>`));
  // At most 200 hidden elements are read (HIDDEN_ELEMENTS): filler behind 250 empty ones is not looked for.
  const empties = '<b style="display:none"></b>';
  assert.ok(hides(`${empties.repeat(150)}<div style="display:none">${filler}</div>`));
  assert.not.ok(hides(`${empties.repeat(250)}<div style="display:none">${filler}</div>`));
  // Read in linear time: unclosed quotes in style attributes, sheets without an end, hidden tags without a close.
  for (const [name, body] of [
    ['styles', '<span style="display:none '.repeat(20000)],
    ['sheets', '<style>textarea{display:none}'.repeat(3000) + '<textarea>'.repeat(20000)],
    ['hidden tags', '<b style="display:none">'.repeat(20000)],
  ]) {
    const start = performance.now();
    hides(body!);
    const ms = performance.now() - start;
    assert.ok(ms < 1500, `${name}: ${ms.toFixed(0)} ms`);
  }
});

test('HTML left unclosed is read in linear time: tags, comments, scripts (crafted pages took seconds each)', () => {
  // Each start of a tag, comment or script was searched to the end of the page for its end: quadratic. Before the
  // fix these took 3 to 17 s each on this machine; now tens of milliseconds.
  for (const [name, body] of [
    ['font tags', '<font '.repeat(40000)],
    ['input tags', '<input name=a '.repeat(20000)],
    ['comments', `<img src=x>${'<!-- '.repeat(80000)}`],
    ['scripts', `<img src=x>${'<script '.repeat(60000)}`],
  ]) {
    const start = performance.now();
    features(html('Page', body!));
    const ms = performance.now() - start;
    assert.ok(ms < 1500, `${name}: ${ms.toFixed(0)} ms`);
  }
  // What the blocks hide is still dropped, closed or not (no visible text beside the image: image-only).
  const hidden = (rest: string) => features(html('Pic', `<a href="http://x.example/"><img src=x></a>${rest}`));
  assert.ok(hidden(`<script>${'var words = 1; '.repeat(40)}</script>`).includes('HTML_IMAGE_ONLY'));
  assert.ok(hidden(`<!-- ${'hidden words '.repeat(40)}`).includes('HTML_IMAGE_ONLY'));
  assert.not.ok(hidden(`<p>${'visible words '.repeat(40)}</p>`).includes('HTML_IMAGE_ONLY'));
});

test('HTML decoded once for the index, the features and the tokenizer: each still reads up to its own cap', () => {
  // Quoted-printable HTML of 700 KB, a link to an IP address at 600 KB: past the 512 KiB the features and
  // the tokenizer read, within the index's 4 MiB. An escape ("=3D") straddles the 512 KiB cut, which decodes differently cut.
  const line = '<p style=3D"color:#333">Quarterly figures for the board meeting, see the appendix.</p>=\r\n';
  const start = head('Newsletter', undefined, 'text/html; charset=utf-8').replace(
    'MIME-Version: 1.0\r\n',
    'MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n',
  );
  let body = line.repeat(Math.floor((512 * 1024 - 1) / line.length));
  body += `${'x'.repeat(512 * 1024 - 1 - body.length)}=3D`;
  body += line.repeat(Math.floor((600 * 1024 - body.length) / line.length));
  body += `<a href=3D"http://192.0.2.7/offer">offer</a>\r\n${line.repeat(1000)}`;
  const message = () => Buffer.from(start + body);
  // The tokenizer reads the HTML as far as the features do (512 KiB, issue 18: one decoding of a large body),
  // whichever asks first.
  for (const tokensFirst of [false, true]) {
    const raw = message();
    const early = tokensFirst ? tokenize(raw) : undefined;
    assert.not.ok(contentFeatures(raw).includes('URI_IP_HOST'));
    assert.not.ok((early ?? tokenize(raw)).includes('url:ip'));
  }
  // Each cap, in any order, gets what decoding its own slice gives.
  const raw = message();
  const node = messageIndex(raw).root;
  const own = (cap: number) =>
    decodeCharset(decodeTransfer(raw.subarray(node.bodyStart, node.bodyStart + cap), node.encoding), 'utf-8');
  for (const cap of [4 << 20, 1 << 20, 512 * 1024, 1 << 20, 512 * 1024 + 1, 512 * 1024 + 2, 512 * 1024])
    assert.is(decodedPart(raw, node, cap), own(cap), `cap ${cap}`);
  assert.ok(own(512 * 1024).endsWith('x') && own(512 * 1024 + 1).endsWith('x=3') && own(512 * 1024 + 2).endsWith('x='));
});

test('each stock phrase counts in any case and spelling its regex allows (the word guards let every one through)', () => {
  const samples = [
    'CLICK HERE',
    '100% Satisfaction',
    'Act now!',
    'limited\ttime',
    'money-back',
    'No credit check',
    'risk-free',
    'Special Promotion',
    'To be removed from our mailing list',
    'This is NOT spam',
    'BEST RATES',
    'free consultation',
    'once in a lifetime',
    'Make $$$',
    'losing weight',
    'credit card debt',
    'Dear Valued member',
    'order TODAY',
    'call toll-free',
    'Guaranteed',
    'apply online',
    'Increase your',
    'satisfaction guaranteed',
    'double YOUR',
    'Millions of emails',
    'Shop online',
    'no setup fees',
    'while stocks last',
    'Opt-in',
    'optin',
    'meet local',
    'stock to watch',
    'Unsubscribe',
    'save up to 50%',
    'fill out our FREE online form',
    'This e-mail is an advertisement',
    'remove yourself from',
    // The regex is tried at each of its first word's places (issue 18): the phrase may be at a later one.
    'Best wishes, and the best price',
    'no, no, NO\nobligation',
    'removed, to be REMOVED from the list',
  ];
  // Two phrases of the base text and the sample's own make three: SPAM_PHRASES.
  for (const sample of samples) {
    const found = features(mail('Hello', `Unsolicited news: a discount for you.\n(${sample}.)`));
    assert.ok(found.includes('SPAM_PHRASES'), sample);
  }
  assert.not.ok(
    features(mail('Hello', 'Unsolicited news: a discount for you.\nOptional: click-here-ish.')).includes(
      'SPAM_PHRASES',
    ),
  );
  // What an offer rule counts is not a stock phrase as well: the words would earn their points twice.
  for (const counted of [
    'XANAX',
    'no prescription',
    'working at home',
    'Mortgage Rate',
    'extra income',
    'casino',
    'Replica',
  ])
    assert.not.ok(
      features(mail('Hello', `Unsolicited news: a discount for you.\n(${counted}.)`)).includes('SPAM_PHRASES'),
      counted,
    );
});

test('the share of non-ASCII letters of the body is a token; ASCII text has none', () => {
  const utf8 = (body: string) => mail('Hello', body, undefined, 'text/plain; charset=utf-8');
  const share = (raw: Buffer) => tokenize(raw).filter((t) => t.startsWith('8bit%:'));
  assert.equal(share(utf8('Здравствуйте, это письмо о встрече в пятницу.')), ['8bit%:100']);
  assert.equal(share(utf8('Meeting notes: Straße, Größe, Müller, Äpfel, Öl, Übung, café, naïve, señor')), ['8bit%:20']);
  assert.equal(share(utf8('Meeting notes for Friday: the agenda, the minutes and the budget. 100% done!')), []);
  assert.equal(share(utf8('Ça va. Meeting notes for Friday: the agenda, the minutes and the budget.')), []);
});

test('the letters are counted as the two replacements counted them: astral letters as two, lone surrogates as none', () => {
  const replaced = (text: string) => {
    const letters = text.replace(/[^\p{L}]/gu, '');
    return { letters: letters.length, ascii: letters.length - letters.replace(/[a-zA-Z]/g, '').length };
  };
  // ASCII, Latin, Cyrillic, CJK letters; no-break space, digits, punctuation; a letter and an emoji beyond the BMP;
  // lone high and low surrogates; the Kelvin sign and dotted I (letters whose cases are ASCII), a combining mark.
  const pool = ['a', 'Z', ' ', '1', '!', 'é', 'ß', '\u00a0', 'я', '中', '\u{1d400}', '\u{1f600}', '\ud800', '\udc00'];
  pool.push('\u212a', '\u0130', 'ǅ', '\u0345');
  let seed = 18;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let k = 0; k < 20_000; k++) {
    const text = Array.from({ length: Math.floor(next() * 12) }, () => pool[Math.floor(next() * pool.length)]).join('');
    assert.equal(letterCounts(text), replaced(text), JSON.stringify(text));
  }
  for (let c = 0x80; c < 0x10000; c++) {
    const text = `x${String.fromCharCode(c)}y`;
    assert.equal(letterCounts(text), replaced(text), c.toString(16));
  }
});

test("each offer's start words cover the first word of every alternative of its pattern, which captures nothing", () => {
  // The offers' patterns are tried only where one of their start words stands (a list beside each pattern):
  // an alternative whose first word is missing there would never match. Read from the patterns themselves.
  const topLevel = (source: string) => {
    const out: string[] = [];
    let depth = 0;
    let from = 0;
    for (let i = 0; i < source.length; i++) {
      const c = source[i];
      if (c === '\\') i++;
      else if (c === '(' || c === '[') depth++;
      else if (c === ')' || c === ']') depth--;
      else if (c === '|' && depth === 0) {
        out.push(source.slice(from, i));
        from = i + 1;
      }
    }
    return [...out, source.slice(from)];
  };
  const closing = (source: string) => {
    let depth = 0;
    for (let i = 0; i < source.length; i++) {
      if (source[i] === '\\') i++;
      else if (source[i] === '(') depth++;
      else if (source[i] === ')' && --depth === 0) return i;
    }
    return -1;
  };
  const firstWords = (alternative: string): string[] =>
    alternative.startsWith('(?:')
      ? topLevel(alternative.slice(3, closing(alternative))).flatMap(firstWords)
      : [/^(?:[a-z]+(?:\\w\*)?|\\d\+)/.exec(alternative)?.[0] ?? `unreadable: ${alternative}`];
  for (const offer of OFFERS) {
    const starts = new Set(offer.starts.split(' '));
    const body = /^\\b\(\?:([\s\S]*)\)\\b$/.exec(offer.words.source)?.[1];
    assert.ok(body, offer.feature);
    for (const word of topLevel(body!).flatMap(firstWords)) assert.ok(starts.has(word), `${offer.feature}: ${word}`);
    // The offers' patterns are joined as one, each a capturing group: a group of their own would shift which offer matched.
    assert.equal(new RegExp(`${offer.words.source}|`).exec('')!.length, 1, `${offer.feature}: a capturing group`);
  }
});

test("short spam: a line and a link to another site's front page, not a reply, not list mail (issue 18)", () => {
  const from = 'Pranks <pranks@sender.example>';
  const fires = (raw: Buffer) => features(raw).includes('SHORT_LINK_ELSEWHERE');
  assert.ok(
    fires(mail('Play a Hilarious Phone Prank', 'Wind up your mates today! Please visit http://pranks.example', from)),
  );
  assert.ok(
    fires(mail('Re: new url', 'Come see me at my new site-> http://hot.example/ before they delete it.', from)),
  );
  assert.ok(fires(html('Hello', '<p>You won. <a href="http://prize.example/">Claim here</a></p>', from)));
  // A page of a site (a feed item's story, a photo, a paper) is what people send each other.
  assert.not.ok(fires(mail('Ugly truck', 'URL: http://news.example/click/-4,8274140,1717/', from)));
  assert.not.ok(fires(mail('Pics', 'Some local wildlife http://www.iol.example/~p/pics/wild1.jpg', from)));
  // The sender's own site, a reply, list mail, a signature's link, more than a few words.
  assert.not.ok(fires(mail('Our site', 'Please visit http://www.sender.example', from)));
  const reply = `In-Reply-To: <q1@you.example>\r\n${mail('Re: where', 'It is at http://shop.example', from).toString()}`;
  assert.not.ok(fires(Buffer.from(reply)));
  const listed = `List-Id: <fork.xent.example>\r\n${mail('Cool', 'Look: http://shop.example', from).toString()}`;
  assert.not.ok(fires(Buffer.from(listed)));
  assert.not.ok(fires(mail('Hi', 'Thanks, see you.\n-- \nSent with my Chat Messenger: https://chat.example', from)));
  const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
  assert.not.ok(fires(mail('Hello', `${words} http://pranks.example`, from)));
  // Signed mail (S/MIME, RFC 1847): a Thunderbird user's test naming where the certificate came from.
  const signed = Buffer.from(
    'From: Jeff <jeff@gnome.example>\r\nTo: jeff@gnome.example\r\nSubject: Signing test\r\nMIME-Version: 1.0\r\n' +
      'Content-Type: Multipart/Signed; protocol="application/pkcs7-signature"; micalg=sha1; boundary="s"\r\n\r\n' +
      '--s\r\nContent-Type: text/plain\r\n\r\nSigned with my free certificate from https://www.certs.example\r\n' +
      '--s\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQ\r\n--s--\r\n',
  );
  assert.not.ok(fires(signed));
  assert.ok(fires(Buffer.from(signed.toString().replace('Multipart/Signed', 'multipart/mixed'))), 'unsigned, it fires');
  // Read in linear time: long runs of what its patterns repeat.
  for (const body of [
    ' '.repeat(60000),
    '!'.repeat(60000),
    `http://${'a'.repeat(60000)}`,
    'http://'.repeat(9000),
    '-- \n'.repeat(15000),
    '\n'.repeat(60000),
  ]) {
    const t = performance.now();
    features(mail('Hello', `${body} http://pranks.example`, from));
    assert.ok(performance.now() - t < 500, `${JSON.stringify(body.slice(0, 12))}: ${performance.now() - t} ms`);
  }
});

// The areas of src/spam/content/, in the order index.ts runs them.
const AREAS = [
  'links.ts',
  'html-structure.ts',
  'obfuscation.ts',
  'sender.ts',
  'attachments.ts',
  'phishing.ts',
  'offers.ts',
  'short-link.ts',
];

test('content features: index.ts imports the areas, they the helpers, none of them the rules or the tokenizer', () => {
  const dir = new URL('../../src/spam/content/', import.meta.url);
  const files = readdirSync(dir);
  for (const area of AREAS) assert.ok(files.includes(area), area);
  for (const file of files) {
    const source = readFileSync(new URL(file, dir), 'utf8');
    for (const [, path] of source.matchAll(/^import\b[^;]*?\bfrom '([^']+)';/gm)) {
      assert.not.ok(/\/(?:rules|tokenize)\.ts$/.test(path!), `${file} imports ${path}`);
      // Only index.ts runs the areas: an area or a helper reads no area, so the areas keep one order.
      if (file !== 'index.ts')
        assert.not.ok(['./index.ts', ...AREAS.map((a) => `./${a}`)].includes(path!), `${file} imports ${path}`);
    }
  }
});

test('visibleAtLeast: what measuring the whole visible text says, on random HTML and at every length; a long page is not read to its end', () => {
  const shown = (h: string) => visibleText(h).replace(/\s+/g, ' ').trim().length;
  const pieces = ['<', '>', '<b>', '</p>', '<!--', '-->', '<script>', '</script>', '<style x>', '</style >', '&nbsp;'];
  pieces.push('&#160;', '&amp;', '&', ';', ' ', '\n', '\t', 'a', 'word ', '<a href="x">', '<img src=cid:1>', '\u00a0');
  let seed = 18;
  const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  for (let k = 0; k < 3000; k++) {
    // Some past the first cut (4,096 characters), so the cuts before a "<" are tried.
    const length = random(k % 10 === 0 ? 3000 : 80);
    let h = '';
    for (let i = 0; i < length; i++) h += pieces[random(pieces.length)];
    const whole = shown(h);
    for (const n of [0, 1, 40, 300, 400, whole, whole + 1]) assert.is(visibleAtLeast(h, n), whole >= n, `${n} ${h}`);
  }
  // A comment, a tag or a reference the cut would split: read whole.
  const filler = 'x'.repeat(5000);
  assert.is(visibleAtLeast(`${filler}<!-- ${'y'.repeat(5000)} -->`, 5001), false);
  assert.is(visibleAtLeast(`<b ${filler}>`, 1), false);
  // 4 MB of text after the first lines: shown at once.
  const page = `<p>${'Our news this week. '.repeat(50)}</p>${'<td>cell</td>'.repeat(300_000)}`;
  const t = performance.now();
  for (let i = 0; i < 10; i++) assert.ok(visibleAtLeast(page, 400));
  assert.ok(performance.now() - t < 200, `${performance.now() - t} ms`);
});

test.run();
