// Credentials on the compatibility API. A key is a key however it is presented (Bearer,
// Basic admin:<key>, Basic <address>:<key>): the same principal and permissions; `admin:` takes a
// root key only; changing a mailbox password needs the current password, never a key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import { storeKey } from '../helpers/api.ts';
import { basic, type CompatFixture, startCompat } from '../helpers/compat.ts';
import { RawClient } from '../helpers/imap.ts';
import { startInstance } from '../helpers/instance.ts';
import { RawPop3 } from '../helpers/pop3.ts';
import nodemailer from 'nodemailer';

let f: CompatFixture;
let annId: string;
test.before(async () => {
  f = await startCompat();
  await f.store.domains.create(f.teamId, 'auth.test');
  annId = (
    await f.store.accounts.create({
      teamId: f.teamId,
      address: 'ann@auth.test',
      passwordHash: await hashPassword('ann-password-1'),
    })
  ).id;
  await f.store.accounts.create({
    teamId: f.teamId,
    address: 'bob@auth.test',
    passwordHash: await hashPassword('bob-password-1'),
  });
});
test.after(() => f.close());

const canLogin = async (user: string, password: string) =>
  (await new LoginService(f.store).login(user, password, '127.0.0.9')).ok;
const setPassword = (auth: string, password: string) =>
  f.compat('POST', '/account/auth', { auth, body: [{ type: 'setPassword', password }] });

test('Basic admin:<mailbox key> is not a login: no password change, no account takeover', async () => {
  const key = await f.makeKey(PRESETS['mailbox:full']!, f.teamId, 'mailbox', annId);
  const reply = await setPassword(basic('admin', key), 'taken-over-1');
  assert.is(reply.status, 401, reply.text);
  assert.match(reply.body.detail ?? reply.text, /root key/);
  assert.ok(await canLogin('ann@auth.test', 'ann-password-1'), 'the password is unchanged');
  assert.not.ok(await canLogin('ann@auth.test', 'taken-over-1'));
  // admin: with a root key still works (Stalwart's admin login)
  assert.is((await f.compat('GET', '/principal?types=domain', { auth: basic('admin', f.rootKey) })).status, 200);
});

test('a mailbox key as the Basic password of its address changes nothing either (the current password is needed)', async () => {
  const key = await f.makeKey(PRESETS['mailbox:full']!, f.teamId, 'mailbox', annId);
  const reply = await setPassword(basic('ann@auth.test', key), 'taken-over-2');
  assert.is(reply.status, 200);
  assert.is(reply.body.error, 'other', reply.text);
  assert.match(reply.body.details, /current password/);
  assert.ok(await canLogin('ann@auth.test', 'ann-password-1'));
  // the mailbox's own password still may
  assert.equal((await setPassword(basic('ann@auth.test', 'ann-password-1'), 'ann-password-2')).body, { data: null });
  assert.ok(await canLogin('ann@auth.test', 'ann-password-2'));
});

test('Basic and Bearer resolve a key to the same principal: no permissions gained by presenting it as Basic', async () => {
  // agent_preclaim lacks mailbox.settings.update: it may not mint app passwords, however presented
  const narrow = await f.makeKey(PRESETS.agent_preclaim!, f.teamId, 'mailbox', annId);
  const add = { body: [{ type: 'addAppPassword', name: 'sneaky', password: '' }] };
  const viaBearer = await f.compat('POST', '/account/auth', { auth: `Bearer ${narrow}`, ...add });
  const viaBasic = await f.compat('POST', '/account/auth', { auth: basic('ann@auth.test', narrow), ...add });
  assert.is(viaBearer.status, 403, viaBearer.text);
  assert.is(viaBasic.status, viaBearer.status, viaBasic.text);
  const names = (await f.store.apiKeys.listForTeam(f.teamId)).map((k) => k.name);
  assert.not.ok(names.includes('sneaky'));
  // a key is only its own mailbox's password: not another address's, not admin's
  assert.is((await f.compat('GET', '/account/auth', { auth: basic('bob@auth.test', narrow) })).status, 401);
  assert.is((await f.compat('GET', '/account/auth', { auth: basic('admin', narrow) })).status, 401);
  // a root key as Basic admin: keeps a root key's permissions (no more, no less)
  const readOnly = await f.makeKey(['domain.read']);
  assert.is((await f.compat('GET', '/principal?types=individual', { auth: basic('admin', readOnly) })).status, 403);
  assert.is((await f.compat('GET', '/principal?types=domain', { auth: basic('admin', readOnly) })).status, 200);
});

test('a mailbox key as an IMAP, POP3 or SMTP password carries its own permissions: reading needs mailbox.read, sending email.send', async () => {
  const any = ['127.0.0.1:0'];
  const server = await startInstance({
    overrides: {
      smtp: { mx_listen: [], submission_listen: [], submissions_listen: any },
      imap: { listen: any, tls_listen: [], allow_plain_auth_loopback: true },
      pop3: { listen: any, tls_listen: [] },
    },
  });
  const clients: { close(): void }[] = [];
  try {
    const eve = await server.addAccount('eve@scope.test', 'eve-password-123');
    const makeKey = (permissions: string[]) =>
      storeKey(server.server.store, { teamId: eve.teamId, type: 'mailbox', name: 'k', permissions, accountId: eve.id });
    const readOnly = await makeKey(PRESETS.agent_preclaim!);
    const sendOnly = await makeKey(PRESETS.send_only!);
    const imapLogin = async (password: string) => {
      const client = await RawClient.connect(server.port('imap'));
      clients.push(client);
      return client.command('a1', `LOGIN "eve@scope.test" "${password}"`);
    };
    const pop3Login = async (password: string) => {
      const client = await RawPop3.connect(server.port('pop3'));
      clients.push(client);
      await client.line();
      await client.command('USER eve@scope.test');
      return client.command(`PASS ${password}`);
    };
    const smtpLogin = async (password: string) => {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: server.port('smtp-submissions'),
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: 'eve@scope.test', pass: password },
      });
      try {
        await transport.verify();
        return 'accepted';
      } catch (err) {
        return String((err as { response?: string }).response ?? err);
      } finally {
        transport.close();
      }
    };
    assert.match(await imapLogin(readOnly), /^a1 OK/m);
    assert.match(await pop3Login(readOnly), /^\+OK/);
    assert.match(await smtpLogin(readOnly), /^535 5\.7\.8/);
    assert.match(await imapLogin(sendOnly), /^a1 NO \[AUTHENTICATIONFAILED\]/m);
    assert.match(await pop3Login(sendOnly), /^-ERR/);
    assert.is(await smtpLogin(sendOnly), 'accepted');
    assert.is(await smtpLogin('eve-password-123'), 'accepted');
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
});

test.run();
