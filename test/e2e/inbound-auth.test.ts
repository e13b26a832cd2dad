// SPF, DKIM and DMARC verdicts from a real DNS server on loopback, as they land in the stored
// Authentication-Results (read back from the store), and what DMARC policies do to a message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { HOSTNAME, messagesIn, plainMessage, sendRaw, startMx, type MxFixture } from '../helpers/smtp.ts';

const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k: typeof key) => k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const dkimRecord = (k: typeof key) =>
  `v=DKIM1; k=rsa; p=${k.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;

const zone = {
  'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
  's1._domainkey.sender.test': { TXT: [dkimRecord(key)] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject'] },
  'spffail.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
  'soft.test': { TXT: ['v=spf1 ip4:192.0.2.1 ~all'] },
  'nospf.test': { A: ['192.0.2.7'] },
  'strict.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
  '_dmarc.strict.test': { TXT: ['v=DMARC1; p=reject'] },
  'quar.test': { TXT: ['v=spf1 ip4:192.0.2.1 ?all'] },
  '_dmarc.quar.test': { TXT: ['v=DMARC1; p=quarantine'] },
  '_dmarc.lax.test': { TXT: ['v=DMARC1; p=none'] },
};

let fx: MxFixture;
test.before(async () => {
  fx = await startMx({ zone });
  const team = await fx.store.teams.create('t');
  await fx.store.domains.create(team.id, 'wren.test');
  await fx.store.accounts.create({ teamId: team.id, address: 'alice@wren.test' });
});
test.after(() => fx.close());

async function signed(
  message: string,
  privateKey = pem(key),
  signingDomain = 'sender.test',
  selector = 's1',
): Promise<string> {
  const { signatures, errors } = await dkimSign(message, {
    signingDomain,
    selector,
    privateKey,
    // Without signTime, mailauth (4.13) takes t= from the clock twice, rounded: once for the hash,
    // once for the field. Across a half-second in between, the signature is bad (1 in ~2,000).
    signTime: new Date(),
    signatureData: [{ signingDomain, selector, privateKey }],
  });
  assert.equal(errors, []);
  assert.ok(signatures.startsWith('DKIM-Signature:'));
  return signatures + message;
}

/** Sends and returns the stored copy (INBOX or Junk) whose Subject is unique to this test. */
async function deliverAndRead(
  from: string,
  message: string,
  subject: string,
): Promise<{ text: string; folder: string; end: string }> {
  const r = await sendRaw(fx.port, from, ['alice@wren.test'], message);
  assert.is(r.end!.code, 250, r.end!.text);
  for (const folder of ['INBOX', 'Junk']) {
    const hit = (await messagesIn(fx.store, 'alice@wren.test', folder)).find((m) =>
      m.text.includes(`Subject: ${subject}\r\n`),
    );
    if (hit) return { text: hit.text, folder, end: r.end!.lines[0]! };
  }
  throw new Error(`message ${subject} not stored`);
}

/** The Authentication-Results field we added (unfolded). */
const ourResults = (text: string) => {
  const m = /^Authentication-Results: (.*(?:\r\n[ \t].*)*)/m.exec(text);
  assert.ok(m, 'Authentication-Results present');
  const value = m![1]!.replace(/\r\n[ \t]+/g, ' ');
  assert.ok(value.startsWith(`${HOSTNAME};`), value);
  return value;
};

test('spf=pass dkim=pass dmarc=pass (p=reject) → INBOX, trace headers on top', async () => {
  const msg = await signed(plainMessage({ from: 'Ann <ann@sender.test>', to: 'alice@wren.test', subject: 'all pass' }));
  const { text, folder } = await deliverAndRead('ann@sender.test', msg, 'all pass');
  assert.is(folder, 'INBOX');
  assert.ok(text.startsWith('Received: from client.test (unknown [127.0.0.1])'), text.slice(0, 120));
  const ar = ourResults(text);
  assert.match(ar, /spf=pass/, ar);
  assert.match(ar, /dkim=pass header\.i=@sender\.test header\.s=s1/, ar);
  assert.match(ar, /dmarc=pass/, ar);
  assert.match(text, /^Received-SPF: pass/m);
  assert.match(text, /^X-Spam-Status: No, score=0\.0/m);
});

test('spf=fail, spf=softfail and spf=none', async () => {
  const cases: [string, string][] = [
    ['spffail.test', 'fail'],
    ['soft.test', 'softfail'],
    ['nospf.test', 'none'],
  ];
  for (const [domain, result] of cases) {
    const subject = `spf ${result}`;
    const { text } = await deliverAndRead(
      `someone@${domain}`,
      plainMessage({ from: `someone@${domain}`, to: 'alice@wren.test', subject }),
      subject,
    );
    assert.match(ourResults(text), new RegExp(`spf=${result} `));
  }
});

test('dkim=fail for a signature made with another key, and for a body changed after signing (bad body hash)', async () => {
  const wrongKey = await signed(
    plainMessage({ from: 'ann@sender.test', to: 'alice@wren.test', subject: 'wrong key' }),
    pem(otherKey),
  );
  // SPF passes for sender.test, so DMARC (p=reject) still passes through SPF alignment: the DKIM verdict shows on its own.
  const a = await deliverAndRead('ann@sender.test', wrongKey, 'wrong key');
  assert.match(ourResults(a.text), /dkim=fail \(signature error|dkim=fail/);
  assert.match(a.text, /^X-Spam-Status: .*DKIM_FAIL/m);

  const good = await signed(
    plainMessage({ from: 'ann@sender.test', to: 'alice@wren.test', subject: 'tampered', body: 'original body' }),
  );
  const tampered = good.replace('original body', 'changed body!');
  const b = await deliverAndRead('ann@sender.test', tampered, 'tampered');
  const ar = ourResults(b.text);
  assert.match(ar, /dkim=neutral \(body hash did not verify\)|dkim=fail \(body hash did not verify\)/);
});

test('dmarc: p=reject failing → 550 5.7.1 at end of DATA, nothing stored', async () => {
  const before =
    (await messagesIn(fx.store, 'alice@wren.test')).length +
    (await messagesIn(fx.store, 'alice@wren.test', 'Junk')).length;
  const r = await sendRaw(
    fx.port,
    'boss@strict.test',
    ['alice@wren.test'],
    plainMessage({ from: 'boss@strict.test', to: 'alice@wren.test', subject: 'forged' }),
  );
  assert.match(r.end!.lines[0]!, /^550 5\.7\.1 .*DMARC/);
  const after =
    (await messagesIn(fx.store, 'alice@wren.test')).length +
    (await messagesIn(fx.store, 'alice@wren.test', 'Junk')).length;
  assert.is(after, before);
});

test('dmarc: p=quarantine failing → Junk; p=none failing → INBOX; both show dmarc=fail', async () => {
  const q = await deliverAndRead(
    'x@quar.test',
    plainMessage({ from: 'x@quar.test', to: 'alice@wren.test', subject: 'quarantined' }),
    'quarantined',
  );
  assert.is(q.folder, 'Junk');
  assert.match(ourResults(q.text), /dmarc=fail \(p=QUARANTINE/);
  assert.match(q.text, /^X-Spam-Status: Yes, .*dmarc=quarantine/m);
  assert.match(q.end, /\(junk\)/);

  const n = await deliverAndRead(
    'x@lax.test',
    plainMessage({ from: 'x@lax.test', to: 'alice@wren.test', subject: 'lax policy' }),
    'lax policy',
  );
  assert.is(n.folder, 'INBOX');
  assert.match(ourResults(n.text), /dmarc=fail \(p=NONE/);
  assert.match(n.text, /^X-Spam-Status: No, score=3\.0 .*tests=DMARC_FAIL/m);
});

test('forged Authentication-Results and X-Spam fields claiming our host are removed; others stay', async () => {
  const msg = plainMessage({
    from: 'ann@sender.test',
    to: 'alice@wren.test',
    subject: 'forged results',
    extra: [
      `Authentication-Results: ${HOSTNAME.toUpperCase()};\r\n\tspf=pass smtp.mailfrom=evil@sender.test`,
      'Authentication-Results: other.example; spf=pass',
      'X-Spam-Status: No, score=-100',
    ],
  });
  const { text } = await deliverAndRead('ann@sender.test', msg, 'forged results');
  assert.is(text.match(/^Authentication-Results: /gm)!.length, 2, 'ours + the other host');
  assert.ok(text.includes('Authentication-Results: other.example; spf=pass'));
  assert.not.ok(text.includes('evil@sender.test'));
  assert.is(text.match(/^X-Spam-Status:/gm)!.length, 1);
});

test('spam rules: missing Date and Message-ID, SPF fail → score in X-Spam-Score; forged hosted From → Junk', async () => {
  const subject = 'bare';
  const { text, folder } = await deliverAndRead(
    'x@spffail.test',
    plainMessage({ from: 'x@spffail.test', to: 'alice@wren.test', subject, date: false, messageId: false }),
    subject,
  );
  assert.match(text, /^X-Spam-Score: 5\.5\r\n/m);
  assert.match(text, /tests=SPF_FAIL,MISSING_DATE,MISSING_MESSAGE_ID/);
  assert.is(folder, 'Junk');

  const forged = await deliverAndRead(
    'ceo@wren.test',
    plainMessage({ from: 'ceo@wren.test', to: 'alice@wren.test', subject: 'urgent wire' }),
    'urgent wire',
  );
  assert.is(forged.folder, 'Junk');
  assert.match(forged.text, /FORGED_HOSTED_FROM/);
});

test('score at or over 15 → 550 5.7.1', async () => {
  // SPF fail 3.5 + DKIM fail 3 + DMARC fail 3 + no Date 1 + no Message-ID 1 + forged hosted From 6 = 17.5
  const msg = plainMessage({
    from: 'ceo@wren.test',
    to: 'alice@wren.test',
    subject: 'spam',
    date: false,
    messageId: false,
  });
  fx.dns.zone['_dmarc.wren.test'] = { TXT: ['v=DMARC1; p=none'] };
  fx.dns.zone['s1._domainkey.wren.test'] = { TXT: [dkimRecord(key)] };
  const r = await sendRaw(
    fx.port,
    'x@spffail.test',
    ['alice@wren.test'],
    await signed(msg, pem(otherKey), 'wren.test', 's1'),
  );
  assert.match(r.end!.lines[0]!, /^550 5\.7\.1 Message refused as spam \(score 1[5-9]/);
});

test.run();
