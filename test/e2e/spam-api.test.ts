// POST /api/v1/spam/train/{spam|ham} and /spam/classify: training changes the model (once per message),
// classification names the rules that fired, and keys without spam.* permissions are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createResolver } from '../../src/dns/resolver.ts';
import { startApi, type ApiFixture } from '../helpers/api.ts';
import { reverseName, startDnsServer } from '../helpers/dns-server.ts';
import { makeMessage } from '../helpers/tmp.ts';

let api: ApiFixture;
test.before(async () => {
  api = await startApi();
});
test.after(() => api.close());

const spammy = makeMessage({
  subject: 'FREE MONEY WAITING FOR YOU NOW',
  body: 'Click http://cheap.example/ for qwertyprize\r\n',
}).toString();

test('train as spam, again (no double count), then as ham (moved)', async () => {
  const first = await api.call('POST', '/spam/train/spam', { body: { message: spammy } });
  assert.is(first.status, 200, first.text);
  assert.equal(first.body.data, {
    class: 'spam',
    trained: true,
    moved: false,
    unchanged: false,
    totals: { spam: 1, ham: 0 },
  });
  const again = await api.call('POST', '/spam/train/spam', { body: { message: spammy } });
  assert.equal(again.body.data.totals, { spam: 1, ham: 0 });
  assert.is(again.body.data.unchanged, true);
  const ham = await api.call('POST', '/spam/train/ham', { body: { message: spammy } });
  assert.equal(ham.body.data, {
    class: 'ham',
    trained: false,
    moved: true,
    unchanged: false,
    totals: { spam: 0, ham: 1 },
  });
});

test('classify: score, verdict and the rules that fired; the Bayes part abstains while untrained', async () => {
  const reply = await api.call('POST', '/spam/classify', { body: { message: spammy } });
  assert.is(reply.status, 200, reply.text);
  const rules = reply.body.data.rules.map((r: { rule: string }) => r.rule);
  assert.ok(rules.includes('SUBJECT_ALL_CAPS'), rules.join(','));
  assert.is(reply.body.data.bayes_probability, null);
  const gtube = await api.call('POST', '/spam/classify', {
    body: {
      message: makeMessage({
        body: 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n',
      }).toString(),
    },
  });
  assert.is(gtube.body.data.verdict, 'reject');
});

test('classify over HTTP names the content and subject rules: image spam, an ad label, insurance, a 419 letter', async () => {
  const rulesOf = async (message: string) => {
    const reply = await api.call('POST', '/spam/classify', { body: { message } });
    assert.is(reply.status, 200, reply.text);
    // Each rule as the API documents it: name, points counted, description, nothing of the scorer's inner parts.
    for (const r of reply.body.data.rules) assert.equal(Object.keys(r).sort(), ['description', 'rule', 'score']);
    return reply.body.data.rules.map((r: { rule: string }) => r.rule) as string[];
  };
  const head = (subject: string, type: string) =>
    `From: Sales <sales@shop.example>\r\nTo: you@example.test\r\nSubject: ${subject}\r\nDate: Tue, 3 Apr 2007 10:00:00 +0000\r\nMessage-ID: <${subject.length}@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n`;
  const picture = (html: string, bytes: number) =>
    `${head('Ur turn to say yes', 'multipart/related; boundary="r"')}--r\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n${html}\r\n` +
    `--r\r\nContent-Type: image/gif; name="p.gif"\r\nContent-Transfer-Encoding: base64\r\nContent-ID: <p0>\r\n\r\n` +
    `${'R0lGODlh'.repeat(bytes / 8).replace(/.{76}/g, '$&\r\n')}\r\n--r--\r\n`;
  const filler =
    'how well nat is getting on. she bore it without flinching, saying to herself that the boy would care. '.repeat(4);
  assert.ok((await rulesOf(picture(`<img src="cid:p0"><br>${filler}`, 12_000))).includes('HTML_IMAGE_LEADS_TEXT'));
  // A phone's photo (over 256 KB as sent) with a line of text is neither image spam nor an image-only ad.
  const photo = await rulesOf(picture('<img src="cid:p0"><br>Sent from my phone', 400_000));
  assert.not.ok(photo.includes('HTML_IMAGE_ONLY') || photo.includes('HTML_IMAGE_LEADS_TEXT'), photo.join(','));
  const insurance = await rulesOf(
    `${head('ADV: Life Insurance Quotes', 'text/plain; charset=us-ascii')}Compare term life insurance quotes: get a free quote today.\r\n`,
  );
  assert.ok(insurance.includes('SUBJECT_AD_LABEL') && insurance.includes('INSURANCE_OFFER'), insurance.join(','));
  const letter = await rulesOf(
    `${head('Urgent business proposal', 'text/plain; charset=us-ascii')}I am the next of kin of the late president. ` +
      'The sum of 25 million dollars waits in a dormant account; this transaction is strictly confidential.\r\n',
  );
  assert.ok(letter.includes('ADVANCE_FEE'), letter.join(','));
});

test('classify over HTTP: hidden filler, not a hidden preview line; a line and a link; forged mailers; a padded subject', async () => {
  const rulesOf = async (message: string) => {
    const reply = await api.call('POST', '/spam/classify', { body: { message } });
    assert.is(reply.status, 200, reply.text);
    return reply.body.data.rules.map((r: { rule: string }) => r.rule) as string[];
  };
  const mail = (subject: string, type: string, body: string, extra = '') =>
    `From: Sales <sales@shop.example>\r\nTo: you@example.test\r\nSubject: ${subject}\r\nDate: Tue, 3 Apr 2007 10:00:00 +0000\r\n` +
    `Message-ID: <${subject.length}.${body.length}@shop.example>\r\n${extra}MIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n${body}\r\n`;
  const page = (hidden: string) =>
    mail(
      'News',
      'text/html; charset=us-ascii',
      `<p>${'Our spring catalogue is out with new garden tools. '.repeat(4)}</p>${hidden}`,
    );
  // Filler a stylesheet hides (trec07p's textareas), against the preview line modern mail hides on purpose.
  const filler = 'They shook hands in the choky heat of the trailer office. '.repeat(4);
  assert.ok(
    (await rulesOf(page(`<style>textarea{display:none}</style><textarea>${filler}</textarea>`))).includes(
      'HTML_HIDDEN_TEXT',
    ),
  );
  const preview = `<div style="display:none;max-height:0">Please read these important updates${'&nbsp;&zwnj;'.repeat(90)}</div>`;
  assert.not.ok((await rulesOf(page(preview))).includes('HTML_HIDDEN_TEXT'));
  // A line and a link to another site's front page; the same as a reply is not.
  const short = 'Great deals this week only, see http://deals-now.example/\r\n';
  assert.ok((await rulesOf(mail('hi', 'text/plain', short))).includes('SHORT_LINK_ELSEWHERE'));
  const reply = await rulesOf(mail('Re: hi', 'text/plain', short, 'In-Reply-To: <1@you.example>\r\n'));
  assert.not.ok(reply.includes('SHORT_LINK_ELSEWHERE'), reply.join(','));
  // Programs' fingerprints on mail that did not come the way they send: AOL's client, a programming library.
  const aol = await rulesOf(
    mail('hello', 'text/plain', 'See you soon.', 'X-Mailer: AOL 7.0 for Windows US sub 118\r\n'),
  );
  assert.ok(aol.includes('MUA_FORGED_AOL'), aol.join(','));
  const library = await rulesOf(mail('hello', 'text/plain', 'See you soon.', 'X-Library: Indy 9.00.10\r\n'));
  assert.ok(library.includes('MAILER_LIBRARY'), library.join(','));
  // A subject padded with a number that labels nothing, and replica watches.
  const replica = await rulesOf(
    mail(
      'great watches for less 5226171310',
      'text/plain',
      'Designer replicas of all the designer labels: Rolex, Cartier, Gucci.',
    ),
  );
  assert.ok(replica.includes('SUBJECT_TAIL_NUMBER') && replica.includes('REPLICA_OFFER'), replica.join(','));
});

test('classify with the SMTP session: SPF, DMARC and the client as the MX reads them, from a DNS server on loopback', async () => {
  // A public address (the rules pass over private and documentation ranges); nothing is sent to it, DNS is local.
  const client = '11.22.33.44';
  const dns = await startDnsServer({
    'spffail.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    'strict.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.strict.test': { TXT: ['v=DMARC1; p=reject'] },
    'good.test': { TXT: [`v=spf1 ip4:${client} -all`] },
    [reverseName(client)]: { PTR: ['dsl-11-22-33-44.dyn.isp.test'] },
  });
  const withDns = await startApi({ resolver: createResolver({ servers: dns.servers, timeoutMs: 500, tries: 1 }) });
  try {
    const mail = (from: string) =>
      makeMessage({
        from,
        subject: 'Quarterly figures',
        body: 'The figures are attached, see you Monday.\r\n',
      }).toString();
    const classify = async (body: object, fixture = withDns) => {
      const reply = await fixture.call('POST', '/spam/classify', { body });
      assert.is(reply.status, 200, reply.text);
      return reply.body.data as {
        verdict: string;
        rules: { rule: string }[];
        authentication: { spf: { result: string; domain: string }; dmarc: { result: string }; action: string } | null;
      };
    };
    const session = { remote_ip: client, helo: 'dsl-11-22-33-44.dyn.isp.test', rcpt_to: ['you@example.test'] };
    const failed = await classify({ message: mail('a@spffail.test'), ...session, mail_from: 'a@spffail.test' });
    assert.equal(failed.authentication?.spf, { result: 'fail', domain: 'spffail.test' });
    const rules = failed.rules.map((r) => r.rule);
    assert.ok(rules.includes('SPF_FAIL') && rules.includes('RDNS_DYNAMIC'), rules.join(','));
    // The message alone, as before: nothing of the session is checked or named.
    const alone = await classify({ message: mail('a@spffail.test') });
    assert.is(alone.authentication, null);
    assert.not.ok(alone.rules.some((r) => r.rule === 'SPF_FAIL' || r.rule === 'RDNS_DYNAMIC'));
    // DMARC p=reject on a From that failed: the MX refuses it, and the dry run says so.
    const forged = await classify({ message: mail('boss@strict.test'), ...session, mail_from: 'boss@strict.test' });
    assert.is(forged.authentication?.dmarc.result, 'fail');
    assert.is(forged.authentication?.action, 'reject');
    assert.is(forged.verdict, 'reject');
    const passed = await classify({ message: mail('a@good.test'), ...session, mail_from: 'a@good.test' });
    assert.equal(passed.authentication?.spf, { result: 'pass', domain: 'good.test' });
    assert.is(passed.verdict, 'ham');

    // The session's other fields need its address; the address must be one; a server without DNS says so.
    const bad = async (body: object, fixture = withDns) =>
      (await fixture.call('POST', '/spam/classify', { body })).body;
    assert.is((await bad({ message: mail('a@good.test'), helo: 'x.test' })).error.param, 'remote_ip');
    assert.is((await bad({ message: mail('a@good.test'), remote_ip: 'nope' })).error.code, 'invalid_parameter');
    // The session's limits: 100 recipients, a HELO name of 255 characters.
    const many = Array.from({ length: 101 }, (_, i) => `r${i}@example.test`);
    assert.is((await bad({ message: mail('a@good.test'), remote_ip: client, rcpt_to: many })).error.param, 'rcpt_to');
    const helo = 'h'.repeat(256);
    assert.is((await bad({ message: mail('a@good.test'), remote_ip: client, helo })).error.param, 'helo');
    assert.is((await bad({ message: mail('a@good.test'), remote_ip: client }, api)).error.code, 'service_unavailable');
  } finally {
    await withDns.close();
    await dns.close();
  }
});

test('errors: unknown class, missing message, a key without spam permissions', async () => {
  assert.is((await api.call('POST', '/spam/train/maybe', { body: { message: spammy } })).status, 404);
  const missing = await api.call('POST', '/spam/classify', { body: {} });
  assert.is(missing.status, 400);
  const readOnly = await api.makeKey(['domain.read']);
  const denied = await api.call('POST', '/spam/train/spam', { key: readOnly, body: { message: spammy } });
  assert.is(denied.status, 403);
  assert.is(denied.body.error.code, 'insufficient_permissions');
});

test.run();
