// Real clients deliver (nodemailer, Python smtplib, swaks) and the stored message is the sent one,
// byte for byte, below the fields the MX prepends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { reverseName } from '../helpers/dns-server.ts';
import { messagesIn, startMx, withoutTrace, type MxFixture } from '../helpers/smtp.ts';

const run = promisify(execFile);

// Python's smtplib: STARTTLS (the certificate is self-signed, so not verified), SMTPUTF8 + 8BITMIME.
const PYTHON_SEND = `
import smtplib, ssl, sys
port, sender, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
data = open(path, 'rb').read()
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with smtplib.SMTP('127.0.0.1', port, local_hostname='python.test', timeout=30) as smtp:
    smtp.starttls(context=context)
    smtp.ehlo('python.test')
    smtp.sendmail(sender, [rcpt], data, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
print('sent')
`;
let fx: MxFixture;
let tmp: string;

test.before(async () => {
  fx = await startMx({
    zone: {
      'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
      [reverseName('127.0.0.1')]: { PTR: ['loopback.sender.test'] },
    },
  });
  const team = await fx.store.teams.create('t');
  await fx.store.domains.create(team.id, 'wren.test');
  await fx.store.accounts.create({ teamId: team.id, address: 'alice@wren.test' });
  tmp = mkdtempSync(join(tmpdir(), 'wren-clients-'));
});
test.after(async () => {
  await fx.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A message with 8-bit UTF-8 text, a long folded header, a dot-leading line and a base64 attachment. */
function sample(client: string): Buffer {
  const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'From: Ann <ann@sender.test>',
      'To: alice@wren.test',
      `Subject: from ${client} — grüße`,
      `Date: ${new Date().toUTCString()}`,
      `Message-ID: <${client}.${Date.now()}@sender.test>`,
      'X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
      '\tbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
      '',
      'Héllo wörld ✓',
      '.a line starting with a dot',
      '  trailing spaces   ',
      '--b1',
      'Content-Type: application/octet-stream; name="bin"',
      'Content-Transfer-Encoding: base64',
      '',
      attachment.trimEnd(),
      '--b1--',
      '',
    ].join('\r\n'),
    'utf8',
  );
}

async function storedCopy(client: string): Promise<Buffer> {
  const hit = (await messagesIn(fx.store, 'alice@wren.test')).find((m) => m.text.includes(`Subject: from ${client} `));
  assert.ok(hit, `${client} message stored`);
  return hit!.raw;
}

test('nodemailer (STARTTLS, raw message) → stored byte for byte', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: fx.port,
    secure: false,
    requireTLS: true,
    name: 'nodemailer.test',
    tls: { rejectUnauthorized: false },
  });
  const raw = sample('nodemailer');
  const info = await transport.sendMail({ envelope: { from: 'ann@sender.test', to: ['alice@wren.test'] }, raw });
  transport.close();
  assert.match(info.response, /^250 2\.6\.0/);
  const stored = await storedCopy('nodemailer');
  assert.ok(withoutTrace(stored).equals(raw));
  assert.match(
    stored.toString(),
    /^Received: from nodemailer\.test \(loopback\.sender\.test \[127\.0\.0\.1\]\)[\s\S]*? with ESMTPS /,
    'PTR name via the project resolver',
  );
});

test('Python smtplib (STARTTLS, SMTPUTF8) → stored byte for byte', async () => {
  const raw = sample('smtplib');
  const file = join(tmp, 'smtplib.eml');
  writeFileSync(file, raw);
  const { stdout } = await run(
    'python3',
    ['-c', PYTHON_SEND, String(fx.port), 'ann@sender.test', 'alice@wren.test', file],
    { timeout: 30_000 },
  );
  assert.is(stdout.trim(), 'sent');
  assert.ok(withoutTrace(await storedCopy('smtplib')).equals(raw));
});

test('swaks (STARTTLS, pipelining) → stored byte for byte', async () => {
  const raw = sample('swaks');
  const file = join(tmp, 'swaks.eml');
  // swaks always sends CRLF before the final ".": the file holds the message without its last line break.
  writeFileSync(file, raw.subarray(0, -2));
  const { stdout } = await run(
    'swaks',
    [
      '--server',
      `127.0.0.1:${fx.port}`,
      '--from',
      'ann@sender.test',
      '--to',
      'alice@wren.test',
      '--helo',
      'swaks.test',
      '--tls',
      '--pipeline',
      '--data',
      file,
    ],
    { timeout: 30_000 },
  );
  assert.match(stdout, /<~\s+250 2\.6\.0/);
  assert.ok(withoutTrace(await storedCopy('swaks')).equals(raw));
});

test.run();
