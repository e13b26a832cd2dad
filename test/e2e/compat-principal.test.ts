// Stalwart/Mailbux compatibility (`/api/principal`, `/api/dkim`, `/api/dns/records`): management
// errors answer Stalwart's tagged body, with the Mailbux guide's 404 (notFound) and 409
// (fieldAlreadyExists) and HTTP 200 for the other tags; principals are found by name, PATCH takes
// set/addItem/removeItem actions, and what the routes change is what the native resources see.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoginService } from '../../src/security/login.ts';
import { basic, type CompatFixture, startCompat } from '../helpers/compat.ts';

let f: CompatFixture;
let login: LoginService;
test.before(async () => {
  f = await startCompat();
  login = new LoginService(f.store, { maxFailuresPerIp: 1000, maxFailuresPerAccount: 1000 });
});
test.after(() => f.close());

/** HTTP 200 and `{"data": …}`; returns data. */
async function ok(method: string, path: string, body?: unknown, auth?: string | null): Promise<any> {
  const reply = await f.compat(method, path, { body, auth });
  assert.is(reply.status, 200, `${method} ${path}: ${reply.text}`);
  assert.ok(reply.body && 'data' in reply.body, `${method} ${path}: ${reply.text}`);
  return reply.body.data;
}

/** The Mailbux guide's error table: 404 "Resource not found", 409 "Resource already exists"; Stalwart's 200 for the rest. */
const GUIDE_STATUS: Record<string, number> = { notFound: 404, fieldAlreadyExists: 409 };

/** A tagged error with the guide's status; returns the body. */
async function tagged(method: string, path: string, body: unknown, error: string): Promise<any> {
  const reply = await f.compat(method, path, { body });
  assert.is(reply.status, GUIDE_STATUS[error] ?? 200, reply.text);
  assert.match(reply.headers.get('content-type') ?? '', /^application\/json/);
  assert.is(reply.body.error, error, `${method} ${path}: ${reply.text}`);
  assert.not.ok('data' in reply.body);
  return reply.body;
}

const canLogin = async (user: string, password: string) => (await login.login(user, password, '127.0.0.9')).ok;

test('auth: Bearer root key, Basic admin:<key>, api_<base64(name:secret)>; 401 problem with both challenges; mailbox keys kept out', async () => {
  const none = await f.compat('GET', '/principal', { auth: null });
  assert.is(none.status, 401);
  assert.match(none.headers.get('content-type') ?? '', /application\/problem\+json/);
  assert.is(none.body.status, 401);
  assert.match(none.headers.get('www-authenticate') ?? '', /Bearer realm=.*Basic realm=/);
  assert.is(
    (await f.compat('GET', '/principal', { auth: basic('admin', 'wm_root_wrongwrongwrongwrongwrongwrong') })).status,
    401,
  );
  await ok('GET', '/principal?types=domain', undefined, basic('admin', f.rootKey));
  await ok(
    'GET',
    '/principal?types=domain',
    undefined,
    `Bearer api_${Buffer.from(`test:${f.rootKey}`).toString('base64')}`,
  );
  assert.is(
    (
      await f.compat('GET', '/principal', {
        auth: `Bearer api_${Buffer.from(`other:${f.rootKey}`).toString('base64')}`,
      })
    ).status,
    401,
  );
  const readOnly = await f.makeKey(['domain.read']);
  assert.is((await f.compat('GET', '/principal?types=individual', { auth: `Bearer ${readOnly}` })).status, 403);
  assert.is((await f.compat('GET', '/nowhere')).status, 404);
  // /api/v1 stays the native API.
  const native = await f.call('GET', '/domains');
  assert.is(native.body.ok, true);
});

test('domain: create → numeric id, list by type, duplicate → fieldAlreadyExists, missing name/type → fieldMissing, other types unsupported', async () => {
  const id = await ok('POST', '/principal', { type: 'domain', name: 'Compat.Test' });
  assert.type(id, 'number');
  const dup = await tagged('POST', '/principal', { type: 'domain', name: 'compat.test' }, 'fieldAlreadyExists');
  assert.equal(dup, { error: 'fieldAlreadyExists', field: 'name', value: 'compat.test' });
  assert.equal(await tagged('POST', '/principal', { type: 'domain' }, 'fieldMissing'), {
    error: 'fieldMissing',
    field: 'name',
  });
  assert.equal(await tagged('POST', '/principal', { name: 'x.test' }, 'fieldMissing'), {
    error: 'fieldMissing',
    field: 'type',
  });
  for (const type of ['role', 'tenant', 'oauthClient'])
    await tagged('POST', '/principal', { type, name: 'x' }, 'unsupported');
  assert.is((await f.compat('POST', '/principal', { body: { type: 'spaceship', name: 'x' } })).status, 400);
  const list = await ok('GET', '/principal?types=domain');
  assert.equal(list, { items: [{ id, type: 'domain', name: 'compat.test' }], total: 1 });
  assert.equal(await ok('GET', '/principal?types=domain&fields=name'), { items: [{ name: 'compat.test' }], total: 1 });
  assert.equal(await ok('GET', '/principal?types=domain&count=1'), { items: [], total: 1 });
  assert.equal(await ok('GET', '/principal/compat.test'), { id, type: 'domain', name: 'compat.test' });
  // the native API sees it
  assert.ok((await f.call('GET', '/domains')).body.data.some((d: { domain: string }) => d.domain === 'compat.test'));
});

test('individual: create with emails, secrets, quota, description; lookups by address and local part; unknown → notFound', async () => {
  const id = await ok('POST', '/principal', {
    type: 'individual',
    name: 'jane',
    description: 'Jane Doe',
    quota: 5_000_000,
    emails: ['jane@compat.test', 'j.doe@compat.test'],
    secrets: ['jane-password-1'],
  });
  const jane = await ok('GET', '/principal/jane@compat.test');
  assert.equal(jane, {
    id,
    type: 'individual',
    name: 'jane@compat.test',
    description: 'Jane Doe',
    emails: ['jane@compat.test', 'j.doe@compat.test'],
    quota: 5_000_000,
    usedQuota: 0,
    roles: ['user'],
    memberOf: [],
    lists: [],
    secrets: [],
  });
  assert.equal((await ok('GET', '/principal/jane')).name, 'jane@compat.test');
  assert.ok(await canLogin('jane@compat.test', 'jane-password-1'));
  assert.equal((await f.store.addresses.get('j.doe@compat.test'))?.kind, 'account');

  assert.equal(
    await tagged(
      'POST',
      '/principal',
      { type: 'individual', name: 'jane@compat.test', secrets: ['another-pass'] },
      'fieldAlreadyExists',
    ),
    { error: 'fieldAlreadyExists', field: 'emails', value: 'jane@compat.test' },
  );
  assert.equal(await tagged('POST', '/principal', { type: 'individual', name: 'bob' }, 'fieldMissing'), {
    error: 'fieldMissing',
    field: 'emails',
  });
  assert.equal(await tagged('POST', '/principal', { type: 'individual', name: 'x@elsewhere.test' }, 'notFound'), {
    error: 'notFound',
    item: 'elsewhere.test',
  });
  // a taken alias undoes the whole create
  await tagged(
    'POST',
    '/principal',
    { type: 'individual', name: 'kim@compat.test', emails: ['kim@compat.test', 'j.doe@compat.test'] },
    'fieldAlreadyExists',
  );
  assert.is(await f.store.accounts.byAddress('kim@compat.test'), undefined);
  assert.equal(await tagged('GET', '/principal/nobody@compat.test', undefined, 'notFound'), {
    error: 'notFound',
    item: 'nobody@compat.test',
  });
  await tagged('PATCH', '/principal/nobody', [{ action: 'set', field: 'description', value: 'x' }], 'notFound');
  await tagged('DELETE', '/principal/nobody', undefined, 'notFound');
  const short = await tagged(
    'POST',
    '/principal',
    { type: 'individual', name: 'lee@compat.test', secrets: ['short'] },
    'other',
  );
  assert.is(short.reason, 'secrets');
});

test('PATCH emails: addItem, removeItem, set; taken → fieldAlreadyExists; unknown alias → notFound; primary stays', async () => {
  await ok('PATCH', '/principal/jane', [{ action: 'addItem', field: 'emails', value: 'jd@compat.test' }]);
  assert.equal((await ok('GET', '/principal/jane')).emails, [
    'jane@compat.test',
    'j.doe@compat.test',
    'jd@compat.test',
  ]);
  await ok('PATCH', '/principal/jane', [{ action: 'removeItem', field: 'emails', value: 'j.doe@compat.test' }]);
  assert.is(await f.store.addresses.get('j.doe@compat.test'), undefined);
  await ok('PATCH', '/principal/jane', [
    { action: 'set', field: 'emails', value: ['jane@compat.test', 'doe@compat.test'] },
  ]);
  assert.equal((await ok('GET', '/principal/jane')).emails, ['jane@compat.test', 'doe@compat.test']);
  await ok('POST', '/principal', { type: 'individual', name: 'max@compat.test', secrets: ['max-password-1'] });
  assert.equal(
    await tagged(
      'PATCH',
      '/principal/max',
      [{ action: 'addItem', field: 'emails', value: 'doe@compat.test' }],
      'fieldAlreadyExists',
    ),
    { error: 'fieldAlreadyExists', field: 'emails', value: 'doe@compat.test' },
  );
  await tagged(
    'PATCH',
    '/principal/max',
    [{ action: 'removeItem', field: 'emails', value: 'never@compat.test' }],
    'notFound',
  );
  await tagged(
    'PATCH',
    '/principal/max',
    [{ action: 'removeItem', field: 'emails', value: 'max@compat.test' }],
    'unsupported',
  );
  await ok('PATCH', '/principal/max', [
    { action: 'set', field: 'description', value: 'Max' },
    { action: 'set', field: 'quota', value: 1_000_000 },
  ]);
  const max = await ok('GET', '/principal/max');
  assert.is(max.description, 'Max');
  assert.is(max.quota, 1_000_000);
  await tagged('PATCH', '/principal/max', [{ action: 'set', field: 'locale', value: 'fr' }], 'unsupported');
  // An object is Mailbux's form (each field set); `action` is no principal field.
  await tagged('PATCH', '/principal/max', { action: 'set' }, 'unsupported');
  assert.is((await f.compat('PATCH', '/principal/max', { body: 'set' })).status, 400);
});

test('PATCH secrets: a new password replaces the old, $app$ secrets are app passwords (mailbox keys), removeItem revokes', async () => {
  await ok('PATCH', '/principal/max', [{ action: 'addItem', field: 'secrets', value: 'max-password-2' }]);
  assert.ok(await canLogin('max@compat.test', 'max-password-2'));
  assert.not.ok(await canLogin('max@compat.test', 'max-password-1'));
  const app = `wm_mbx_${'A1b2C3d4'.repeat(4)}`;
  await ok('PATCH', '/principal/max', [{ action: 'addItem', field: 'secrets', value: `$app$phone$${app}` }]);
  assert.ok(await canLogin('max@compat.test', app));
  assert.equal((await ok('GET', '/principal?types=individual&filter=max&fields=name,secrets')).items, [
    { name: 'max@compat.test', secrets: ['$app$phone$'] },
  ]);
  // the same secret cannot be registered twice; one not in key format is refused
  await tagged(
    'PATCH',
    '/principal/jane',
    [{ action: 'addItem', field: 'secrets', value: `$app$tablet$${app}` }],
    'fieldAlreadyExists',
  );
  await tagged(
    'PATCH',
    '/principal/jane',
    [{ action: 'addItem', field: 'secrets', value: '$app$tablet$hunter22' }],
    'other',
  );
  await ok('PATCH', '/principal/max', [{ action: 'removeItem', field: 'secrets', value: '$app$phone$' }]);
  assert.not.ok(await canLogin('max@compat.test', app));
  await ok('PATCH', '/principal/max', [{ action: 'removeItem', field: 'secrets', value: 'max-password-2' }]);
  assert.not.ok(await canLogin('max@compat.test', 'max-password-2'));
  await ok('PATCH', '/principal/max', [{ action: 'set', field: 'secrets', value: ['max-password-3'] }]);
  assert.ok(await canLogin('max@compat.test', 'max-password-3'));
});

test('lists and groups: members by name, PATCH members/externalMembers/memberOf, delivery targets follow', async () => {
  const id = await ok('POST', '/principal', {
    type: 'list',
    name: 'team',
    emails: 'team@compat.test',
    members: ['jane'],
    externalMembers: ['boss@outside.test'],
  });
  const team = await ok('GET', '/principal/team');
  assert.equal(team, {
    id,
    type: 'list',
    name: 'team',
    emails: ['team@compat.test'],
    members: ['jane@compat.test'],
    externalMembers: ['boss@outside.test'],
  });
  await tagged(
    'POST',
    '/principal',
    { type: 'list', name: 'team', emails: ['team2@compat.test'], members: ['jane'] },
    'fieldAlreadyExists',
  );
  assert.equal(
    await tagged(
      'POST',
      '/principal',
      { type: 'list', name: 'x', emails: ['x@compat.test'], members: ['ghost'] },
      'notFound',
    ),
    { error: 'notFound', item: 'ghost' },
  );
  await tagged('POST', '/principal', { type: 'list', name: 'nomail', members: ['jane'] }, 'fieldMissing');

  await ok('PATCH', '/principal/team', [
    { action: 'addItem', field: 'members', value: 'max@compat.test' },
    { action: 'removeItem', field: 'externalMembers', value: 'boss@outside.test' },
  ]);
  let route = await f.store.addresses.get('team@compat.test');
  assert.equal(route?.kind === 'alias' && [...route.targets].sort(), ['jane@compat.test', 'max@compat.test']);
  await ok('PATCH', '/principal/jane', [{ action: 'removeItem', field: 'memberOf', value: 'team' }]);
  assert.equal((await ok('GET', '/principal/team')).members, ['max@compat.test']);
  assert.equal((await ok('GET', '/principal/max')).memberOf, ['team']);
  // a list keeps at least one member: the native rule answers
  await tagged(
    'PATCH',
    '/principal/team',
    [{ action: 'removeItem', field: 'members', value: 'max@compat.test' }],
    'other',
  );

  await ok('POST', '/principal', {
    type: 'group',
    name: 'sales',
    emails: ['sales@compat.test'],
    members: ['jane', 'max'],
  });
  route = await f.store.addresses.get('sales@compat.test');
  assert.equal(route?.kind === 'alias' && [...route.targets].sort(), ['jane@compat.test', 'max@compat.test']);
  const lists = await ok('GET', '/principal?types=list,group&fields=name');
  assert.equal(lists, { items: [{ name: 'team' }, { name: 'sales' }], total: 2 });
});

test('apiKey principals: a wm_root_ secret, admin role; it authenticates; name taken → fieldAlreadyExists; delete revokes', async () => {
  const secret = `wm_root_${'Zy9Xw8Vu'.repeat(4)}`;
  await ok('POST', '/principal', { type: 'apiKey', name: 'ci', roles: ['admin'], secrets: [secret] });
  await ok('GET', '/principal?types=domain', undefined, `Bearer ${secret}`);
  await ok('GET', '/principal?types=domain', undefined, `Bearer api_${Buffer.from(`ci:${secret}`).toString('base64')}`);
  await tagged(
    'POST',
    '/principal',
    { type: 'apiKey', name: 'ci', secrets: [`wm_root_${'Qq1Rr2Ss'.repeat(4)}`] },
    'fieldAlreadyExists',
  );
  await tagged('POST', '/principal', { type: 'apiKey', name: 'weak', secrets: ['password'] }, 'other');
  await tagged('POST', '/principal', { type: 'apiKey', name: 'nosecret' }, 'fieldMissing');
  assert.is((await ok('GET', '/principal/ci')).type, 'apiKey');
  await ok('DELETE', '/principal/ci');
  assert.is((await f.compat('GET', '/principal', { auth: `Bearer ${secret}` })).status, 401);
});

test('dkim: create with Stalwart defaults, duplicate → fieldAlreadyExists, get → public key; dns records name it', async () => {
  assert.is(await ok('POST', '/dkim', { algorithm: 'Ed25519', domain: 'compat.test' }), null);
  assert.equal(await tagged('POST', '/dkim', { algorithm: 'Ed25519', domain: 'compat.test' }, 'fieldAlreadyExists'), {
    error: 'fieldAlreadyExists',
    field: 'id',
    value: 'ed25519-compat.test',
  });
  assert.equal(await tagged('POST', '/dkim', { algorithm: 'Rsa', domain: 'nowhere.test' }, 'notFound'), {
    error: 'notFound',
    item: 'nowhere.test',
  });
  await tagged('POST', '/dkim', { algorithm: 'Rsa' }, 'fieldMissing');
  assert.is(await ok('POST', '/dkim', { algorithm: 'Rsa', domain: 'compat.test', selector: 'rsa2026' }), null);
  const domain = (await f.store.domains.get('compat.test'))!;
  const ed = domain.dkim.find((k) => k.algorithm === 'ed25519-sha256')!;
  assert.ok(ed.active);
  assert.is(await ok('GET', '/dkim/ed25519-compat.test'), ed.publicKey);
  assert.is(await ok('GET', '/dkim/rsa-compat.test'), domain.dkim.find((k) => k.selector === 'rsa2026')!.publicKey);
  await tagged('GET', '/dkim/rsa-unknown.test', undefined, 'notFound');

  const records: { type: string; name: string; content: string }[] = await ok('GET', '/dns/records/compat.test');
  assert.ok(records.every((r) => r.name.endsWith('.')));
  assert.ok(records.some((r) => r.type === 'MX' && r.name === 'compat.test.' && r.content === '10 mail.wren.test.'));
  assert.ok(
    records.some(
      (r) =>
        r.type === 'TXT' &&
        r.name === `${ed.selector}._domainkey.compat.test.` &&
        r.content === `v=DKIM1; k=ed25519; p=${ed.publicKey}`,
    ),
  );
  assert.ok(
    records.some(
      (r) => r.type === 'SRV' && r.name === '_imaps._tcp.compat.test.' && r.content === '0 1 993 mail.wren.test.',
    ),
  );
  await tagged('GET', '/dns/records/unknown.test', undefined, 'notFound');
});

test('team scoping: another team sees none of these principals and cannot touch them (403 wrong tenant)', async () => {
  const other = await f.newTeam('team-b');
  const auth = `Bearer ${other.key}`;
  assert.equal(await ok('GET', '/principal?types=domain,individual,list', undefined, auth), { items: [], total: 0 });
  assert.equal(
    (await ok('GET', '/principal?types=apiKey', undefined, auth)).items.map((k: { name: string }) => k.name),
    ['test'],
  );
  for (const [method, path] of [
    ['GET', '/principal/jane@compat.test'],
    ['DELETE', '/principal/compat.test'],
    ['GET', '/dkim/ed25519-compat.test'],
    ['GET', '/dns/records/compat.test'],
  ]) {
    // the Mailbux guide's error table: 403 "Permission denied (wrong tenant)"
    const reply = await f.compat(method!, path!, { auth });
    assert.equal([reply.status, reply.body.status], [403, 403], `${method} ${path}: ${reply.text}`);
    assert.not.ok('data' in reply.body);
  }
  assert.is(
    (
      await f.compat('POST', '/principal', {
        auth,
        body: { type: 'individual', name: 'eve@compat.test', secrets: ['eve-password-1'] },
      })
    ).status,
    403,
  );
  assert.is((await f.compat('POST', '/dkim', { auth, body: { algorithm: 'Rsa', domain: 'compat.test' } })).status, 403);
  // a name no tenant has is still notFound; a local part is looked up in the caller's own team only
  assert.equal((await f.compat('GET', '/principal/ghost@nowhere.test', { auth })).status, 404);
  const patch = await f.compat('PATCH', '/principal/jane', {
    auth,
    body: [{ action: 'set', field: 'description', value: 'pwned' }],
  });
  assert.equal([patch.status, patch.body.error], [404, 'notFound']);
  assert.is((await ok('GET', '/principal/jane')).description, 'Jane Doe');
});

test('delete: by name; bulk delete needs confirm=true and answers found; a domain goes with its mailboxes and aliases (Mailbux)', async () => {
  assert.is((await f.compat('DELETE', '/principal?type=list')).status, 400);
  assert.is(await ok('DELETE', '/principal?type=list&filter=sales&confirm=true'), true);
  await tagged('GET', '/principal/sales', undefined, 'notFound');
  assert.is(await ok('DELETE', '/principal?type=list&filter=nothing-like-this&confirm=true'), false);
  assert.is(await ok('DELETE', '/principal/max'), null);
  assert.is(await f.store.accounts.byAddress('max@compat.test'), undefined);
  assert.is(await ok('DELETE', '/principal?type=list&confirm=true'), true);
  assert.ok((await f.store.accounts.listForTeam(f.teamId)).length > 0, 'mailboxes remain before the domain goes');
  assert.is(await ok('DELETE', '/principal/compat.test'), null);
  assert.equal(await ok('GET', '/principal?types=domain,individual,list'), { items: [], total: 0 });
});

test.run();
