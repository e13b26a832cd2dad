// Ten wrong passwords from anywhere once locked an account out of SMTP, IMAP and
// POP3 for 15 minutes. Now the (account, client address) pair is what gets refused; the right
// password from an address that has not failed still works, a guessing address is still cut off
// (per pair, and per address across accounts), and past a much higher count for the account as a
// whole its logins are slowed, never refused. One whole server: the protocols share one LoginService.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { RawClient } from '../helpers/imap.ts';
import { RawPop3 } from '../helpers/pop3.ts';

const ALICE = 'alice@lock.test';
const PASSWORD = 'alice right password';
let instance: Instance;

test.before(async () => {
  instance = await startInstance({
    overrides: {
      auth: { max_failures_per_ip: 12, account_slowdown_after: 15, account_slowdown_ms: 1500 },
      imap: { allow_plain_auth_loopback: true },
    },
  });
  await instance.addAccount(ALICE, PASSWORD);
  await instance.addAccount('bob@lock.test', 'bob password');
});
test.after(() => instance?.stop());

/** One IMAP LOGIN from `ip` (plain: loopback is allowed here, and it keeps the parallel guesses quick). */
async function imapLogin(ip: string, user: string, password: string): Promise<string> {
  const client = await RawClient.connect(instance.port('imap'), false, ip);
  try {
    const out = await client.command('a1', `LOGIN "${user}" "${password}"`, 15_000);
    return /^a1 .*$/m.exec(out)![0];
  } finally {
    client.close();
  }
}

/** SMTP AUTH on 465 from `ip`: 'ok' or the server's reply. */
async function smtpLogin(ip: string, user: string, password: string): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: instance.port('smtp-submissions'),
    secure: true,
    localAddress: ip,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: password },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
  });
  try {
    await transport.verify();
    return 'ok';
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    transport.close();
  }
}

/** POP3 USER/PASS over TLS from `ip`: the reply to PASS. */
async function popLogin(ip: string, user: string, password: string): Promise<string> {
  const client = await RawPop3.connect(instance.port('pop3s'), true, ip);
  try {
    await client.line();
    client.send(`USER ${user}`);
    await client.line();
    client.send(`PASS ${password}`);
    return await client.line();
  } finally {
    client.close();
  }
}

test('10 wrong passwords for alice from 127.0.0.2: that address is refused, alice from 127.0.0.3 logs in on IMAP, SMTP and POP3', async () => {
  // In parallel, as a guesser would: the growing per-try delay is not what stops them.
  const wrong = await Promise.all(Array.from({ length: 10 }, (_, i) => imapLogin('127.0.0.2', ALICE, `guess ${i}`)));
  for (const reply of wrong) assert.match(reply, /^a1 NO \[AUTHENTICATIONFAILED\]/);

  assert.match(
    await imapLogin('127.0.0.2', ALICE, PASSWORD),
    /^a1 NO \[UNAVAILABLE\]/,
    'the guessing address stays refused, right password or not',
  );
  assert.match(await smtpLogin('127.0.0.2', ALICE, PASSWORD), /^454 4\.7\.0 /);
  assert.match(await popLogin('127.0.0.2', ALICE, PASSWORD), /^-ERR \[SYS\/TEMP\]/);

  assert.match(await imapLogin('127.0.0.3', ALICE, PASSWORD), /^a1 OK /, 'the owner is not locked out of IMAP');
  assert.is(await smtpLogin('127.0.0.3', ALICE, PASSWORD), 'ok', 'nor out of SMTP submission');
  assert.match(await popLogin('127.0.0.3', ALICE, PASSWORD), /^\+OK /, 'nor out of POP3');
  assert.match(
    await imapLogin('127.0.0.2', ALICE, PASSWORD),
    /^a1 NO \[UNAVAILABLE\]/,
    'and her success did not clear the guesser',
  );
});

test('one address guessing across accounts is refused for all of them (12 per address here)', async () => {
  const users = ['bob@lock.test', 'nobody@lock.test', ALICE];
  const wrong = await Promise.all(
    Array.from({ length: 12 }, (_, i) => imapLogin('127.0.0.4', users[i % 3]!, `guess ${i}`)),
  );
  assert.ok(wrong.every((r) => /^a1 NO /.test(r)));
  assert.match(await imapLogin('127.0.0.4', 'bob@lock.test', 'bob password'), /^a1 NO \[UNAVAILABLE\]/);
  // Logging in to one's own account does not reset the count of an address that guessed at others.
  assert.match(await imapLogin('127.0.0.5', 'bob@lock.test', 'bob password'), /^a1 OK /);
});

test("past the account-wide threshold (15 here) alice's logins are slowed, not refused", async () => {
  // 10 (127.0.0.2) + 4 (127.0.0.4) failures so far for alice: 2 more from a new address make 16.
  await Promise.all([0, 1].map((i) => imapLogin('127.0.0.7', ALICE, `guess ${i}`)));
  const started = Date.now();
  assert.match(await imapLogin('127.0.0.6', ALICE, PASSWORD), /^a1 OK /);
  assert.ok(Date.now() - started >= 1400, `waited ${Date.now() - started} ms`);
});

test.run();
