// One set of login throttles for every door: the compat API's Basic password form had a LoginService
// of its own, so its guesses did not count against IMAP's (and IMAP's not against it). And the
// verified-password cache (Dovecot's auth cache) must never let an old password, or a suspended
// mailbox, back in.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { basic } from '../helpers/compat.ts';
import { RawClient } from '../helpers/imap.ts';
import { startInstance, type Instance } from '../helpers/instance.ts';

const ALICE = 'alice@shared.test';
const PASSWORD = 'alice right password';
let instance: Instance;
let rootKey: string;
let aliceId: string;

test.before(async () => {
  instance = await startInstance({ overrides: { imap: { allow_plain_auth_loopback: true } } });
  const account = await instance.addAccount(ALICE, PASSWORD);
  aliceId = account.id;
  rootKey = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
});
test.after(() => instance.stop());

const api = (method: string, path: string, auth: string, body?: unknown) =>
  fetch(`http://127.0.0.1:${instance.port('http')}${path}`, {
    method,
    headers: { authorization: auth, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : null,
  });

async function imapLogin(password: string, ip = '127.0.0.1'): Promise<string> {
  const client = await RawClient.connect(instance.port('imap'), false, ip);
  try {
    return /^a1 .*$/m.exec(await client.command('a1', `LOGIN "${ALICE}" "${password}"`, 20_000))![0];
  } finally {
    client.close();
  }
}

test('wrong passwords through compat Basic count against the IMAP throttle of the same pair', async () => {
  for (let i = 0; i < 10; i++) assert.is((await api('GET', '/api/account', basic(ALICE, `wrong ${i}`))).status, 401);
  assert.match(await imapLogin(PASSWORD, '127.0.0.1'), /^a1 NO/, 'the guessing address is throttled on IMAP too');
  assert.match(await imapLogin(PASSWORD, '127.0.0.4'), /^a1 OK/, 'another address still gets in');
});

test('the credential cache lets neither an old password nor a suspended mailbox in', async () => {
  assert.match(await imapLogin(PASSWORD, '127.0.0.5'), /^a1 OK/);
  assert.match(await imapLogin(PASSWORD, '127.0.0.5'), /^a1 OK/, 'the cached login');
  const mailbox = `/api/v1/mailboxes/mbx_${aliceId}`;
  const changed = await api('PUT', `${mailbox}/password`, `Bearer ${rootKey}`, { password: 'a brand new password' });
  assert.ok(changed.status < 300, `password change: ${changed.status} ${await changed.text()}`);
  assert.match(await imapLogin(PASSWORD, '127.0.0.5'), /^a1 NO/, 'the old password is refused at once');
  assert.match(await imapLogin('a brand new password', '127.0.0.5'), /^a1 OK/);
  const suspended = await api('POST', `${mailbox}/suspend`, `Bearer ${rootKey}`);
  assert.ok(suspended.status < 300, `suspend: ${suspended.status} ${await suspended.text()}`);
  assert.match(
    await imapLogin('a brand new password', '127.0.0.5'),
    /^a1 NO/,
    'a suspended mailbox is refused though its password is cached',
  );
});

test.run();
