// Submission once accepted a message with two From fields (the second another
// user's) and DKIM-signed it. RFC 5322 §3.6 allows one From, Date, Sender, Reply-To, To, Cc, Bcc,
// Message-ID, In-Reply-To, References and Subject: more is refused at end of DATA with 550 5.6.0.
// Resent-From and Resent-Sender must be the user's own addresses, like From and Sender. Client: nodemailer.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { LoginService } from '../../src/security/login.ts';
import { createSubmissionServer, type SubmissionServer } from '../../src/smtp/submission.ts';
import { Store, Tx } from '../../src/store/index.ts';
import { sendingAccount } from '../helpers/outbound.ts';
import { testCertificate } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/tmp.ts';

const PASSWORD = 'alice submits';
let dir: ReturnType<typeof tempDir>;
let store: Store;
let server: SubmissionServer;
let port: number;

test.before(async () => {
  dir = tempDir('wren-sec-headers-');
  store = await Store.open(dir.path);
  const alice = await sendingAccount(store, 'alice@a.test', PASSWORD);
  await sendingAccount(store, 'bob@a.test', 'bob submits');
  const tx = new Tx();
  store.addresses.put(tx, 'team@a.test', { kind: 'alias', targets: ['alice@a.test'], teamId: alice.teamId });
  await store.kv.commit(tx);
  server = createSubmissionServer({
    store,
    login: new LoginService(store),
    queue: store.queue,
    tls: await testCertificate(),
    hostname: 'mail.a.test',
    implicitTls: true,
  });
  port = (await server.listen(0, '127.0.0.1')).port;
});
test.after(async () => {
  await server.close();
  await store.close();
  dir.remove();
});

const queued = async () => (await store.queue.list({ limit: 1000 })).jobs.length;

/** Submits `fields` + a body as alice with nodemailer; 'ok' or the server's reply. */
async function submit(fields: string[]): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'alice@a.test', pass: PASSWORD },
  });
  try {
    const raw = [...fields, `Date: ${new Date().toUTCString()}`, '', 'Hello.', ''].join('\r\n');
    await transport.sendMail({ envelope: { from: 'alice@a.test', to: ['carol@remote.test'] }, raw });
    return 'ok';
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    transport.close();
  }
}

test("two From fields, the second another user's, are refused with 550 5.6.0 and nothing is queued", async () => {
  const before = await queued();
  const reply = await submit(['From: alice@a.test', 'From: bob@a.test', 'To: carol@remote.test', 'Subject: x']);
  assert.match(reply, /^550 5\.6\.0 .*From/);
  assert.is(await queued(), before);
});

test('a second Sender, Reply-To, To, Cc, Subject, Message-ID or Date is refused too', async () => {
  const base = ['From: alice@a.test', 'To: carol@remote.test', 'Subject: x'];
  const doubles = [
    'Sender: alice@a.test',
    'Reply-To: alice@a.test',
    'To: dave@remote.test',
    'Cc: dave@remote.test',
    'Subject: y',
    'Message-ID: <1@a.test>',
    `Date: ${new Date().toUTCString()}`,
  ];
  for (const extra of doubles) {
    const fields = extra.startsWith('To:') || extra.startsWith('Subject:') ? [...base, extra] : [...base, extra, extra];
    assert.match(await submit(fields), /^550 5\.6\.0 /, extra);
  }
});

test("Resent-From and Resent-Sender must be the user's own addresses (553 5.7.1 otherwise)", async () => {
  const base = ['From: alice@a.test', 'To: carol@remote.test', 'Subject: resent'];
  assert.match(await submit([...base, 'Resent-From: bob@a.test']), /^553 5\.7\.1 Resent-From address <bob@a\.test>/);
  assert.match(await submit([...base, 'Resent-Sender: Bob <bob@a.test>']), /^553 5\.7\.1 Resent-Sender /);
  assert.match(
    await submit([...base, 'Resent-From: team@a.test', 'Resent-From: bob@a.test']),
    /^553 5\.7\.1 /,
    'every occurrence is checked',
  );
  assert.is(
    await submit([...base, 'Resent-From: team@a.test', 'Resent-Sender: alice@a.test']),
    'ok',
    'her own alias and address are fine',
  );
});

test('an ordinary message with one of each field is accepted', async () => {
  const before = await queued();
  assert.is(
    await submit([
      'From: Alice <alice@a.test>',
      'Sender: alice@a.test',
      'Reply-To: team@a.test',
      'To: carol@remote.test',
      'Cc: dave@remote.test',
      'Subject: fine',
      'Message-ID: <fine@a.test>',
    ]),
    'ok',
  );
  assert.is(await queued(), before + 1);
});

test.run();
