// docs/seeds/sendmux-mailbox-keys.txt: `POST /mailboxes/{public_id}/keys` run with curl as the
// document prints it (host, token, mailbox id and app name filled in): the documented response shape,
// the Location header, the idempotency rules; the key and the IMAP/SMTP login work with real clients.
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startSendmuxSeedServer, type SendmuxSeedServer } from '../helpers/seed-instance.ts';
import { curlCommands, runCurl, seedText } from '../helpers/seeds.ts';

const DOC = seedText('sendmux-mailbox-keys.txt');
const [COMMAND, AGAIN] = curlCommands(DOC);
let s: SendmuxSeedServer;

const run = (command: string, appName: string) =>
  runCurl(command, [...s.replace, ['{public_id}', s.mailbox.id], ['<string>', appName]]);

test.before(async () => {
  s = await startSendmuxSeedServer();
});
test.after(() => s?.stop());

test('the page prints the same request twice', () => {
  assert.ok(COMMAND);
  assert.is(COMMAND, AGAIN);
});

test('the response has the documented shape and a Location; the key is a bearer token, the credentials log in over IMAP and SMTP', async () => {
  const reply = await run(COMMAND!, 'Thunderbird');
  assert.is(reply.status, 201, reply.text);
  assert.equal(Object.keys(reply.body).sort(), ['data', 'meta', 'ok']);
  assert.is(reply.body.ok, true);
  assert.match(reply.body.meta.request_id, /^req_/);
  const { api_key: key, imap_smtp_credentials: login } = reply.body.data;
  assert.equal(Object.keys(reply.body.data).sort(), ['api_key', 'imap_smtp_credentials']);
  assert.equal(Object.keys(key).sort(), ['key', 'key_prefix', 'key_suffix', 'public_id']);
  assert.equal(Object.keys(login).sort(), ['imap_port', 'password', 'server', 'smtp_port', 'username']);
  assert.match(key.key, /^wm_mbx_[A-Za-z0-9]{32}$/);
  assert.equal([key.key_prefix, key.key_suffix], [key.key.slice(0, 12), key.key.slice(-4)]);
  assert.equal(
    [login.server, login.imap_port, login.smtp_port, login.username],
    ['mail.wren.test', s.instance.port('imaps'), s.instance.port('smtp-submission'), s.mailbox.email],
  );
  assert.is(reply.headers.location, `/api/v1/mailboxes/${s.mailbox.id}/keys/${key.public_id}`);

  const me = await s.api('GET', '/mailbox/me', undefined, key.key);
  assert.is(me.status, 200, JSON.stringify(me.body));

  const imap = new ImapFlow({
    host: '127.0.0.1',
    port: login.imap_port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: login.username, pass: login.password },
    logger: false,
  });
  await imap.connect();
  const status = await imap.status('INBOX', { messages: true });
  await imap.logout();
  assert.ok(status && typeof status.messages === 'number');
  const smtp = nodemailer.createTransport({
    host: '127.0.0.1',
    port: login.smtp_port,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: login.username, pass: login.password },
  });
  try {
    const sent = await smtp.sendMail({
      from: login.username,
      to: login.username,
      subject: 'through the app password',
      text: 'hi\n',
    });
    assert.equal(sent.rejected, []);
  } finally {
    smtp.close();
  }
});

test('Idempotency-Key: a replay returns the original response; a different body with the same key is 409 idempotency_conflict', async () => {
  // The document's example key value.
  const withKey = `${COMMAND!} --header 'Idempotency-Key: mailbox-keys-create-20260424-001'`;
  const first = await run(withKey, 'phone');
  assert.is(first.status, 201, first.text);
  const replay = await run(withKey, 'phone');
  assert.is(replay.status, 201, replay.text);
  assert.is(replay.body.data.api_key.public_id, first.body.data.api_key.public_id);
  assert.is(replay.body.data.api_key.key, first.body.data.api_key.key);
  const keys = await s.api('GET', `/mailboxes/${s.mailbox.id}/keys`);
  assert.is(keys.body.data.filter((k: { app_name: string }) => k.app_name === 'phone').length, 1, 'one key, not two');
  const other = await run(withKey, 'tablet');
  assert.is(other.status, 409, other.text);
  assert.is(other.body.error.code, 'idempotency_conflict');
});

test.run();
