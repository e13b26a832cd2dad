// Mailbox management end to end, on a whole server: a domain and a mailbox made through the API; the password
// the API returned and a minted mailbox key both log in over IMAP (and the key over submission);
// mail sent to the MX arrives. Suspending through the API refuses IMAP logins and defers inbound
// mail with 450 4.2.1; resuming restores both.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { SmtpClient } from '../helpers/smtp.ts';

let instance: Instance;
let base: string;
let rootKey: string;

test.before(async () => {
  instance = await startInstance();
  base = `http://127.0.0.1:${instance.port('http')}/api/v1`;
  rootKey = readFileSync(join(instance.config.data_dir, 'bootstrap-root.key'), 'utf8').trim();
});
test.after(async () => instance.stop());

async function api(
  method: string,
  path: string,
  body?: unknown,
  key = rootKey,
): Promise<{ status: number; body: any }> {
  const response = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

const imap = (user: string, pass: string) =>
  new ImapFlow({
    host: '127.0.0.1',
    port: instance.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
  });

/** Subjects in INBOX, read over IMAP with these credentials. */
async function inboxSubjects(user: string, pass: string): Promise<string[]> {
  const client = imap(user, pass);
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const subjects: string[] = [];
      for await (const message of client.fetch('1:*', { envelope: true })) subjects.push(message.envelope!.subject!);
      return subjects;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

async function loginRefused(user: string, pass: string): Promise<boolean> {
  try {
    await imap(user, pass).connect();
    return false;
  } catch (err) {
    return (err as { authenticationFailed?: boolean }).authenticationFailed === true;
  }
}

const toMx = (subject: string) =>
  sendToMx(instance, { from: 'someone@elsewhere.test', to: 'ann@wren.example', subject, text: 'Hello Ann.\n' });

async function waitForSubjects(user: string, pass: string, count: number): Promise<string[]> {
  const until = Date.now() + 10_000;
  for (;;) {
    const subjects = await inboxSubjects(user, pass);
    if (subjects.length >= count || Date.now() > until) return subjects;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('API-made mailbox: IMAP with the returned password and with a mailbox key; SMTP in; suspend → 450 4.2.1 and no login; resume', async () => {
  const domain = await api('POST', '/domains', { domain: 'wren.example' });
  assert.is(domain.status, 201, JSON.stringify(domain.body));
  const created = await api('POST', '/mailboxes', { email: 'ann@wren.example', display_name: 'Ann' });
  assert.is(created.status, 201, JSON.stringify(created.body));
  const { mailbox, credential } = created.body.data;
  assert.equal(
    [credential.username, credential.imap_port, credential.server],
    ['ann@wren.example', instance.port('imaps'), 'mail.example.test'],
  );
  const password: string = credential.password;
  const minted = await api('POST', `/mailboxes/${mailbox.id}/keys`, { app_name: 'Mail app' });
  assert.is(minted.status, 201);
  const secret: string = minted.body.data.imap_smtp_credentials.password;

  const first = await toMx('First over SMTP');
  assert.match(first.response, /^250 /);
  assert.equal(await inboxSubjects('ann@wren.example', password), ['First over SMTP']);
  assert.equal(await inboxSubjects('ann@wren.example', secret), ['First over SMTP'], 'the key is an IMAP password');
  assert.ok(await loginRefused('ann@wren.example', 'not the password'));

  // the key is an SMTP password too: submission to herself, delivered through the queue
  const submission = nodemailer.createTransport({
    host: '127.0.0.1',
    port: instance.port('smtp-submission'),
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'ann@wren.example', pass: secret },
  });
  await submission
    .sendMail({ from: 'ann@wren.example', to: 'ann@wren.example', subject: 'Note to self', text: 'x\n' })
    .finally(() => submission.close());
  assert.equal((await waitForSubjects('ann@wren.example', password, 2)).sort(), ['First over SMTP', 'Note to self']);

  const suspended = await api('POST', `/mailboxes/${mailbox.id}/suspend`);
  assert.is(suspended.body.data.status, 'suspended');
  assert.ok(await loginRefused('ann@wren.example', password), 'password refused while suspended');
  assert.ok(await loginRefused('ann@wren.example', secret), 'key refused while suspended');
  const deferred = await toMx('While suspended').then(
    () => null,
    (err: { responseCode?: number; response?: string }) => err,
  );
  assert.ok(deferred, 'inbound mail is refused');
  assert.is(deferred!.responseCode, 450);
  assert.match(deferred!.response!, /^450 4\.2\.1 /);
  assert.is((await api('GET', '/me', undefined, secret)).body.error.code, 'mailbox_suspended');

  assert.is((await api('POST', `/mailboxes/${mailbox.id}/resume`)).body.data.status, 'active');
  assert.match((await toMx('After resume')).response, /^250 /);
  assert.equal((await inboxSubjects('ann@wren.example', secret)).sort(), [
    'After resume',
    'First over SMTP',
    'Note to self',
  ]);
  const logs = await api('GET', `/inboxes/logs?mailbox_id=${mailbox.id}`);
  assert.equal(
    logs.body.data.map((l: { subject: string }) => l.subject).sort(),
    ['After resume', 'First over SMTP', 'Note to self'],
    'inbound logs of the mailbox',
  );
});

/** The MX's answer to RCPT TO `address`, in a transaction of its own on `client`. */
async function rcpt(client: SmtpClient, address: string): Promise<number> {
  await client.command('RSET');
  assert.is((await client.command('MAIL FROM:<someone@elsewhere.test>')).code, 250);
  return (await client.command(`RCPT TO:<${address}>`)).code;
}

// The store keeps the directory in memory (src/store/directory.ts): each read below comes right after
// the write it must see, through another path than the write took.
test('what the API, the compat API or a delete writes, the next API read and the next RCPT see', async () => {
  const { client } = await SmtpClient.connect(instance.port('smtp-mx'));
  try {
    assert.is((await client.command('EHLO elsewhere.test')).code, 250);
    assert.is(await rcpt(client, 'cy@wren.example'), 550, 'no such mailbox yet (and the MX has looked)');
    const created = await api('POST', '/mailboxes', { email: 'cy@wren.example', display_name: 'Cy' });
    assert.is(created.status, 201);
    const id: string = created.body.data.mailbox.id;
    assert.is(await rcpt(client, 'cy@wren.example'), 250);
    assert.equal((await api('GET', `/mailboxes/${id}`)).body.data.aliases, []);

    assert.is((await api('POST', `/mailboxes/${id}/aliases`, { address: 'sales@wren.example' })).status, 201);
    assert.equal((await api('GET', `/mailboxes/${id}`)).body.data.aliases, ['sales@wren.example']);
    assert.is(await rcpt(client, 'sales@wren.example'), 250);

    // The compat API writes through its own code: the native API and the MX see it next.
    const compat = await fetch(`http://127.0.0.1:${instance.port('http')}/api/principal/cy@wren.example`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${rootKey}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { action: 'removeItem', field: 'emails', value: 'sales@wren.example' },
        { action: 'set', field: 'description', value: 'Cy Compat' },
      ]),
    });
    assert.is(compat.status, 200, await compat.text());
    const after = (await api('GET', `/mailboxes/${id}`)).body.data;
    assert.equal([after.display_name, after.aliases], ['Cy Compat', []]);
    assert.is(await rcpt(client, 'sales@wren.example'), 550);

    assert.is((await api('PATCH', `/mailboxes/${id}`, { display_name: 'Cy Native' })).status, 200);
    assert.is((await api('GET', `/mailboxes/${id}`)).body.data.display_name, 'Cy Native');
    assert.is((await api('POST', `/mailboxes/${id}/suspend`)).status, 200);
    assert.is(await rcpt(client, 'cy@wren.example'), 450);
    assert.is((await api('DELETE', `/mailboxes/${id}`)).status, 200);
    assert.is((await api('GET', `/mailboxes/${id}`)).status, 404);
    assert.is(await rcpt(client, 'cy@wren.example'), 550);
  } finally {
    client.close();
  }
});

test.run();
