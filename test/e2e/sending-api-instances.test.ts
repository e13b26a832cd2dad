// The Sending API across two whole servers: a message with an attachment sent over HTTP on A
// (127.0.0.2) arrives at B (127.0.0.3) over SMTP with DKIM, SPF and DMARC passing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simpleParser } from 'mailparser';
import { PRESETS } from '../../src/security/permissions.ts';
import { storeKey } from '../helpers/api.ts';
import type { Instance } from '../helpers/instance.ts';
import { startMailPair, type MailPair } from '../helpers/pair.ts';

let pair: MailPair;
let a: Instance;
let b: Instance;

test.before(async () => {
  pair = await startMailPair();
  ({ a, b } = pair);
});
test.after(() => pair.stop());

test('POST /emails/send on A with an attachment: at B with dkim=pass, spf=pass, dmarc=pass, attachment intact', async () => {
  const store = a.server.store;
  const alice = (await store.accounts.byAddress('alice@a.test'))!;
  const secret = await storeKey(store, {
    teamId: alice.teamId,
    type: 'mailbox',
    name: 'app',
    permissions: PRESETS['mailbox:full']!,
    accountId: alice.id,
  });
  const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
  const response = await fetch(`http://127.0.0.2:${a.port('http')}/api/v1/emails/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      from: { email: 'alice@a.test', name: 'Alice' },
      to: { email: 'bob@b.test' },
      subject: 'Sent over HTTP',
      text_body: 'With a binary attachment.',
      attachments: [{ filename: 'data.bin', content: attachment.toString('base64'), type: 'application/octet-stream' }],
    }),
  });
  assert.is(response.status, 200, await response.clone().text());

  const bob = (await b.server.store.accounts.byAddress('bob@b.test'))!;
  const inbox = b.server.store.folders.byName(bob.id, 'INBOX')!;
  const deadline = Date.now() + 15_000;
  let raw: Buffer | undefined;
  while (!raw && Date.now() < deadline) {
    const [message] = await b.server.store.messages.list(inbox.id);
    if (message) raw = await b.server.store.read(message);
    else await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(raw, 'the message reached B');
  const text = raw!.toString();
  const header = text.slice(0, text.indexOf('\r\n\r\n'));
  assert.match(header, /dkim=pass header\.i=@a\.test/);
  assert.match(header, /spf=pass/);
  assert.match(header, /dmarc=pass/);
  const parsed = await simpleParser(raw!);
  assert.is(parsed.subject, 'Sent over HTTP');
  assert.ok(parsed.attachments[0]!.content.equals(attachment), 'attachment bytes intact');
});

test.run();
