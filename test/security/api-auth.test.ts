// Issue 13 §1: credentials on the compatibility API. A key is a key however it is presented (Bearer,
// Basic admin:<key>, Basic <address>:<key>): the same principal and permissions; `admin:` takes a
// root key only; changing a mailbox password needs the current password, never a key.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoginService } from '../../src/security/login.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import { basic, type CompatFixture, startCompat } from '../helpers/compat.ts';

let f: CompatFixture;
let annId: string;
test.before(async () => {
  f = await startCompat();
  await f.store.domains.create(f.teamId, 'auth.test');
  annId = (await f.store.accounts.create({ teamId: f.teamId, address: 'ann@auth.test', passwordHash: await hashPassword('ann-password-1') })).id;
  await f.store.accounts.create({ teamId: f.teamId, address: 'bob@auth.test', passwordHash: await hashPassword('bob-password-1') });
});
test.after(() => f.close());

const canLogin = async (user: string, password: string) => (await new LoginService(f.store).login(user, password, '127.0.0.9')).ok;
const setPassword = (auth: string, password: string) => f.compat('POST', '/account/auth', { auth, body: [{ type: 'setPassword', password }] });

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

test.run();
