// Two whole Wren Mail servers on 127.0.0.2 (a.test) and 127.0.0.3 (b.test), the same MX port on each,
// and a DNS server on loopback: mail submitted on A crosses to B over SMTP, signed and checked; B
// forwards to A with an SRS sender; mail clients read it over IMAP.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { type Instance, withImap } from '../helpers/instance.ts';
import { PAIR_PASSWORD, startMailPair, type MailPair } from '../helpers/pair.ts';
import { Tx } from '../../src/store/index.ts';

const PASSWORD = PAIR_PASSWORD;
let pair: MailPair;
let a: Instance;
let b: Instance;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function inbox(instance: Instance, address: string, folder = 'INBOX'): Promise<string[]> {
  const store = instance.server.store;
  const account = await store.accounts.byAddress(address);
  const messages = await store.messages.list(store.folders.byName(account!.id, folder)!.id);
  return Promise.all(messages.map(async (m) => (await store.read(m)).toString()));
}

test.before(async () => {
  pair = await startMailPair({ clientListeners: true });
  ({ a, b } = pair);
  await a.addAccount('carol@a.test', PASSWORD);
});

test.after(() => pair.stop());

test('submitted on A (587, STARTTLS, AUTH): delivered to B with dkim, spf and dmarc pass; local copy and Sent copy on A', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.2',
    port: a.port('smtp-submission'),
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'alice@a.test', pass: PASSWORD },
  });
  const info = await transport.sendMail({
    from: 'Alice <alice@a.test>',
    to: ['bob@b.test', 'carol@a.test'],
    subject: 'Across the loopback',
    text: 'Hello Bob and Carol.\n',
  });
  transport.close();
  assert.equal(info.accepted.sort(), ['bob@b.test', 'carol@a.test']);

  const atBob = await waitFor('the message at B', async () =>
    (await inbox(b, 'bob@b.test')).find((m) => m.includes('Across the loopback')),
  );
  const results = atBob.slice(0, atBob.indexOf('\r\n\r\n'));
  assert.match(results, /Authentication-Results: mx\.b\.test;/);
  assert.match(results, /dkim=pass header\.i=@a\.test header\.s=rsa1/);
  assert.match(results, /spf=pass/);
  assert.match(results, /dmarc=pass/);
  const atCarol = await waitFor('the local copy', async () =>
    (await inbox(a, 'carol@a.test')).find((m) => m.includes('Across the loopback')),
  );
  assert.match(atCarol, /DKIM-Signature: /);
  assert.ok(
    (await inbox(a, 'alice@a.test', 'Sent')).some((m) => m.includes('Across the loopback')),
    'a copy in Sent',
  );

  const events = await a.server.store.events.list({ limit: 1000 });
  assert.ok(events.some((e) => e.type === 'message.queued'));
  await waitFor('message.delivered', async () =>
    (await a.server.store.events.list({ limit: 1000 })).some((e) => e.type === 'message.delivered') ? true : undefined,
  );

  // Bob reads it with a real IMAP client on B
  await withImap(b, 'bob@b.test', PASSWORD, async (client) => {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const message = await client.fetchOne('*', { envelope: true });
      assert.is(message && message.envelope!.subject, 'Across the loopback');
    } finally {
      lock.release();
    }
  });
});

test('a forwarder on B sends to A with an SRS sender: SPF passes for B at A, the original DKIM still verifies', async () => {
  const tx = new Tx();
  const [team] = await b.server.store.teams.list();
  b.server.store.addresses.put(tx, 'fwd@b.test', {
    kind: 'forward',
    targets: ['carol@a.test'],
    keepCopy: null,
    teamId: team!.id,
  });
  await b.server.store.kv.commit(tx);
  const transport = nodemailer.createTransport({
    host: '127.0.0.2',
    port: a.port('smtp-submission'),
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'alice@a.test', pass: PASSWORD },
  });
  await transport.sendMail({
    from: 'alice@a.test',
    to: 'fwd@b.test',
    subject: 'Forward me home',
    text: 'Round trip.\n',
  });
  transport.close();
  const forwarded = await waitFor('the forwarded copy at A', async () =>
    (await inbox(a, 'carol@a.test')).find((m) => m.includes('Forward me home')),
  );
  const head = forwarded.slice(0, forwarded.indexOf('\r\n\r\n'));
  assert.match(head, /smtp\.mailfrom="?SRS0=[^ ;"]+@b\.test/);
  assert.match(head, /spf=pass/);
  assert.match(head, /dkim=pass header\.i=@a\.test/);
});

test.run();
