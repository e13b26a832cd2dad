// The whole server as users meet it: mail arrives over SMTP on the MX listener and a mail client
// reads it over IMAP (STARTTLS and implicit TLS), from one `startServer` like `wrenmail serve`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImapFlow } from 'imapflow';
import { sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { TEST_ENGINE } from '../helpers/store.ts';

let instance: Instance;

test.before(async () => {
  instance = await startInstance({
    overrides: { smtp: { submission_listen: [], submissions_listen: [], mx_listen: ['127.0.0.1:0'] } } as never,
  });
  await instance.addAccount('reader@example.test', 'correct horse battery');
  assert.is(instance.server.store.kv.engine.kind, TEST_ENGINE, 'test/run.ts runs this file on both engines');
});
test.after(async () => instance.stop());

function imapClient(secure: boolean): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: instance.port(secure ? 'imaps' : 'imap'),
    secure,
    tls: { rejectUnauthorized: false },
    auth: { user: 'reader@example.test', pass: 'correct horse battery' },
    logger: false,
  });
}

test('SMTP to the MX, then IMAP over STARTTLS and over implicit TLS: the same bytes', async () => {
  const info = await sendToMx(instance, {
    from: 'Sender <sender@elsewhere.test>',
    to: 'reader@example.test',
    subject: 'Grüße über SMTP',
    text: 'Hallo — über die ganze Strecke.\n',
    attachments: [{ filename: 'data.bin', content: Buffer.from([0, 1, 2, 3, 250, 251]) }],
  });
  assert.match(info.response, /^250 /);

  for (const secure of [false, true]) {
    const client = imapClient(secure);
    await client.connect();
    const lock = await client.getMailboxLock('INBOX');
    try {
      const message = await client.fetchOne('*', { envelope: true, source: true, bodyStructure: true });
      assert.ok(message);
      assert.is(message.envelope!.subject, 'Grüße über SMTP');
      assert.is(message.envelope!.from![0]!.address, 'sender@elsewhere.test');
      const source = message.source!.toString();
      assert.match(source, /^Received: from /, 'the MX prepended its trace header');
      assert.match(source, /Authentication-Results: mail\.example\.test;/);
      assert.is(message.bodyStructure!.childNodes!.length, 2);
      const { content } = await client.download('*', '2');
      assert.ok(content);
      const chunks: Buffer[] = [];
      for await (const chunk of content) chunks.push(chunk as Buffer);
      assert.equal([...Buffer.concat(chunks)], [0, 1, 2, 3, 250, 251], 'the attachment decodes to the bytes sent');
    } finally {
      lock.release();
      await client.logout();
    }
  }
});

test('a wrong password is refused over IMAP, and plain LOGIN without TLS is refused', async () => {
  const wrong = new ImapFlow({
    host: '127.0.0.1',
    port: instance.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'reader@example.test', pass: 'nope' },
    logger: false,
  });
  let failed = false;
  try {
    await wrong.connect();
  } catch (err) {
    failed = (err as { authenticationFailed?: boolean }).authenticationFailed === true;
  }
  assert.ok(failed, 'authentication failed');
  const plain = new ImapFlow({
    host: '127.0.0.1',
    port: instance.port('imap'),
    secure: false,
    doSTARTTLS: false,
    auth: { user: 'reader@example.test', pass: 'correct horse battery' },
    logger: false,
  });
  await assert.not.ok(
    await plain.connect().then(
      () => true,
      () => false,
    ),
    'LOGIN over plain text is refused',
  );
});

test.run();
