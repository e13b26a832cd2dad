// The MX listener over real sockets: extensions, every refusal, smuggling, limits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect as tlsConnect } from 'node:tls';
import type { MessageIndex } from '../../src/mime/types.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { messageIndex } from '../../src/spam/normalize.ts';
import { headerRules } from '../../src/spam/rules.ts';
import type { SpamScorer } from '../../src/spam/types.ts';
import { HOSTNAME, messagesIn, plainMessage, sendRaw, SmtpClient, startMx, type MxFixture } from '../helpers/smtp.ts';

let fx: MxFixture;
const SPF = { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } };
// What the classify stage parsed of each message, as a scorer that adds nothing sees it.
const parsed: { raw: Buffer; index: MessageIndex }[] = [];
const probe: SpamScorer = {
  name: 'probe',
  score: (input) => {
    parsed.push({ raw: input.raw, index: messageIndex(input.raw) });
    return [];
  },
};

test.before(async () => {
  fx = await startMx({
    zone: SPF,
    mx: {
      maxMessageBytes: 64 * 1024,
      maxRecipients: 5,
      limits: { maxConnectionsPerIp: 8, messagesPerIpPerMinute: 1000, idleTimeoutMs: 1500 },
      spam: { scorers: [headerRules, probe] },
    },
  });
  const team = await fx.store.teams.create('t');
  await fx.store.domains.create(team.id, 'wren.test');
  await fx.store.accounts.create({
    teamId: team.id,
    address: 'alice@wren.test',
    passwordHash: await hashPassword('pw'),
  });
  const bob = await fx.store.accounts.create({ teamId: team.id, address: 'bob@wren.test' });
  await fx.store.accounts.update({ ...bob, state: 'suspended' });
  await fx.store.accounts.create({ teamId: team.id, address: 'full@wren.test', quotaBytes: 2000 });
});
test.after(() => fx.close());

test('EHLO advertises STARTTLS, SIZE, PIPELINING, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES and no AUTH', async () => {
  const { client, greeting } = await SmtpClient.connect(fx.port);
  assert.is(greeting.code, 220);
  assert.ok(greeting.text.includes(HOSTNAME));
  const ehlo = await client.command('EHLO client.test');
  for (const ext of ['STARTTLS', 'SIZE 65536', 'PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES']) {
    assert.ok(
      ehlo.lines.some((l) => l.slice(4) === ext),
      `${ext} in ${ehlo.text}`,
    );
  }
  assert.not.ok(ehlo.text.includes('AUTH'));
  assert.ok((await client.command('AUTH PLAIN AGFsaWNlAHB3')).code >= 500, 'AUTH is not offered on MX');
  client.close();
});

test('STARTTLS upgrades with the configured certificate, mail is accepted over TLS', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  await client.command('EHLO client.test');
  assert.is((await client.command('STARTTLS')).code, 220);
  client.socket.removeAllListeners('data');
  const secure = tlsConnect({ socket: client.socket, rejectUnauthorized: false, servername: HOSTNAME });
  await new Promise((r) => secure.once('secureConnect', r));
  assert.ok(secure.getPeerCertificate().subject.CN === HOSTNAME);
  const lines: string[] = [];
  secure.setEncoding('latin1');
  const next = () =>
    new Promise<string>((resolve) => {
      const onData = (d: string) => {
        lines.push(d);
        if (/^\d{3} /m.test(d)) {
          secure.off('data', onData);
          resolve(lines.splice(0).join(''));
        }
      };
      secure.on('data', onData);
    });
  const say = (line: string) => {
    secure.write(`${line}\r\n`);
    return next();
  };
  assert.match(await say('EHLO client.test'), /^250/);
  assert.match(await say('MAIL FROM:<x@sender.test>'), /^250/);
  assert.match(await say('RCPT TO:<alice@wren.test>'), /^250/);
  assert.match(await say('DATA'), /^354/);
  assert.match(
    await say(`${plainMessage({ from: 'x@sender.test', to: 'alice@wren.test', subject: 'over tls' })}.`),
    /^250 2\.6\.0/,
  );
  secure.destroy();
  const stored = await messagesIn(fx.store, 'alice@wren.test');
  const last = stored.at(-1)!.text;
  assert.ok(last.includes('Subject: over tls'));
  assert.match(last, /with ESMTPS id/);
});

test("a message's parse is released once it is delivered: a scavenge has none of it to copy", async () => {
  parsed.length = 0;
  const message = plainMessage({ from: 'x@sender.test', to: 'alice@wren.test', subject: 'parsed once, released' });
  const r = await sendRaw(fx.port, 'x@sender.test', ['alice@wren.test'], message);
  assert.is(r.end!.code, 250);
  assert.is(parsed.length, 1);
  assert.ok(messageIndex(parsed[0]!.raw) !== parsed[0]!.index, 'parsed again: the first parse was released');
});

test('refusals: unknown user 550 5.1.1, other domain 550 5.7.1, suspended 450 4.2.1, full mailbox 452 4.2.2', async () => {
  const r = await sendRaw(
    fx.port,
    'x@sender.test',
    ['nobody@wren.test', 'someone@elsewhere.test', 'bob@wren.test', 'full@wren.test', 'alice@wren.test'],
    plainMessage({ from: 'x@sender.test', to: 'alice@wren.test', body: 'x'.repeat(3000) }),
  );
  assert.match(r.rcpt[0]!.lines[0]!, /^550 5\.1\.1 /);
  assert.match(r.rcpt[1]!.lines[0]!, /^550 5\.7\.1 Relaying denied/);
  assert.match(r.rcpt[2]!.lines[0]!, /^450 4\.2\.1 /);
  assert.is(r.rcpt[3]!.code, 250, 'an empty mailbox with room accepts at RCPT (no SIZE declared)');
  assert.is(r.rcpt[4]!.code, 250);
  // The message (3 kB) does not fit full@'s 2 kB quota: the whole message is deferred, nothing stored.
  assert.match(r.end!.lines[0]!, /^452 4\.2\.2 /);
  const { client } = await SmtpClient.connect(fx.port);
  await client.command('EHLO client.test');
  assert.match((await client.command('MAIL FROM:<x@sender.test> SIZE=3000')).lines[0]!, /^250/);
  assert.match(
    (await client.command('RCPT TO:<full@wren.test>')).lines[0]!,
    /^452 4\.2\.2 /,
    'declared SIZE over quota: refused at RCPT',
  );
  assert.is((await client.command('RCPT TO:<alice@wren.test>')).code, 250);
  client.close();
});

test('over the size limit: 552 at MAIL FROM SIZE= and 552 5.3.4 at end of DATA', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  await client.command('EHLO client.test');
  assert.match((await client.command('MAIL FROM:<x@sender.test> SIZE=999999')).lines[0]!, /^552 5\.3\.4 /);
  client.close();
  const before = (await messagesIn(fx.store, 'alice@wren.test')).length;
  const r = await sendRaw(
    fx.port,
    'x@sender.test',
    ['alice@wren.test'],
    plainMessage({ from: 'x@sender.test', to: 'alice@wren.test', body: 'y'.repeat(70 * 1024) }),
  );
  assert.match(r.end!.lines[0]!, /^552 5\.3\.4 /);
  assert.is((await messagesIn(fx.store, 'alice@wren.test')).length, before);
});

test('too many recipients: 452 4.5.3 past maxRecipients', async () => {
  const r = await sendRaw(
    fx.port,
    'x@sender.test',
    Array.from({ length: 6 }, () => 'alice@wren.test').map((a, i) =>
      a.replace('alice', i < 5 ? `alice+${i}` : 'alice'),
    ),
    plainMessage({ from: 'x@sender.test', to: 'alice@wren.test' }),
  );
  assert.equal(
    r.rcpt.slice(0, 5).map((x) => x.code),
    [250, 250, 250, 250, 250],
  );
  assert.match(r.rcpt[5]!.lines[0]!, /^452 4\.5\.3 /);
  assert.is(r.end!.code, 250, 'the accepted recipients still get the message');
});

test('SMTP smuggling: a bare-LF "." line never ends the message; such a message is refused 550 5.5.2 and nothing is stored', async () => {
  const before = (await messagesIn(fx.store, 'alice@wren.test')).length;
  const smuggled = (ending: string) =>
    `From: x@sender.test\r\nTo: alice@wren.test\r\nSubject: outer\r\n\r\nfirst${ending}MAIL FROM:<evil@sender.test>\r\nRCPT TO:<alice@wren.test>\r\nDATA\r\nFrom: evil@sender.test\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n`;
  for (const ending of ['\n.\n', '\r\n.\n', '\n.\r\n', '\r.\r', '\r\n.\r']) {
    const { client } = await SmtpClient.connect(fx.port);
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<x@sender.test>');
    await client.command('RCPT TO:<alice@wren.test>');
    assert.is((await client.command('DATA')).code, 354);
    client.write(smuggled(ending));
    const end = await client.reply();
    assert.match(end.lines[0]!, /^550 5\.5\.2 /, JSON.stringify(ending));
    // Whatever follows must be read as commands of a new transaction, never as a second message.
    const after = await client.command('NOOP');
    assert.is(after.code, 250);
    client.close();
  }
  const stored = await messagesIn(fx.store, 'alice@wren.test');
  assert.is(stored.length, before);
  assert.not.ok(stored.some((m) => m.text.includes('smuggled')));
});

test('a message whose lines all end in CRLF and contain a dot-stuffed "." line is stored intact', async () => {
  const body = 'line one\r\n.\r\n..two dots\r\nend';
  const r = await sendRaw(
    fx.port,
    'x@sender.test',
    ['alice@wren.test'],
    plainMessage({ from: 'x@sender.test', to: 'alice@wren.test', subject: 'dots', body }),
  );
  assert.is(r.end!.code, 250);
  const last = (await messagesIn(fx.store, 'alice@wren.test')).at(-1)!.text;
  assert.ok(last.endsWith(`\r\n\r\n${body}\r\n`));
});

test('per-IP connection limit: the extra connection gets 421 4.7.0', async () => {
  await new Promise((r) => setTimeout(r, 200)); // earlier tests' connections finish closing
  const open = await Promise.all(Array.from({ length: 8 }, () => SmtpClient.connect(fx.port)));
  assert.equal(
    open.map((o) => o.greeting.code),
    Array(8).fill(220),
  );
  const extra = await SmtpClient.connect(fx.port);
  assert.match(extra.greeting.lines[0]!, /^421 4\.7\.0 /);
  extra.client.close();
  for (const o of open) o.client.close();
  await new Promise((r) => setTimeout(r, 100));
  const again = await SmtpClient.connect(fx.port);
  assert.is(again.greeting.code, 220, 'slots are released when connections close');
  again.client.close();
});

test('idle timeout closes a silent connection', async () => {
  const { client } = await SmtpClient.connect(fx.port);
  const started = Date.now();
  const reply = await client.reply(5000);
  assert.is(reply.code, 421);
  await new Promise((r) => (client.closed ? r(null) : client.socket.once('close', r)));
  assert.ok(Date.now() - started >= 1400);
});

test('message rate per IP: MAIL FROM past the limit gets 450 4.7.1', async () => {
  const limited = await startMx({ zone: SPF, mx: { limits: { messagesPerIpPerMinute: 3 } } });
  const team = await limited.store.teams.create('t');
  await limited.store.domains.create(team.id, 'wren.test');
  await limited.store.accounts.create({ teamId: team.id, address: 'alice@wren.test' });
  const { client } = await SmtpClient.connect(limited.port);
  await client.command('EHLO client.test');
  const codes = [];
  for (let i = 0; i < 4; i++) {
    const r = await client.command('MAIL FROM:<x@sender.test>');
    codes.push(r.lines[0]!.slice(0, 9));
    await client.command('RSET');
  }
  assert.equal(codes, ['250 2.1.0', '250 2.1.0', '250 2.1.0', '450 4.7.1']);
  client.close();
  await limited.close();
});

test.run();
