// The directory cache (src/store/directory.ts): lookups of accounts, domains, routes, teams, aliases
// and sieve scripts served from memory, and every commit seen by the next read, on either engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { keys } from '../../src/store/keys.ts';
import { type Account, Store, Tx } from '../../src/store/index.ts';
import { sieveScripts } from '../../src/store/sieve.ts';
import { CountingEngine } from '../helpers/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir();
let engine: CountingEngine;
let store: Store;
let teamId: string;
let account: Account;

test.before(async () => {
  engine = await CountingEngine.open(dir.path);
  store = await Store.open(dir.path, { engine });
  teamId = (await store.teams.create('acme')).id;
  await store.domains.create(teamId, 'dir.test');
  account = await store.accounts.create({ teamId, address: 'ann@dir.test' });
  const tx = new Tx();
  store.addresses.putAccountAlias(tx, 'sales@dir.test', account.id, teamId);
  await store.kv.commit(tx);
  await sieveScripts(store.kv).put({ accountId: account.id, script: 'keep;', active: true, updatedAt: 1 });
});
test.after(async () => {
  await store.close();
  dir.remove();
});

/** Every directory read the API and the inbound routing make, once. */
const lookups = async () => [
  await store.accounts.get(account.id),
  await store.accounts.byAddress('ANN@dir.test'),
  await store.accounts.listForTeam(teamId),
  await store.domains.get('DIR.test.'),
  await store.domains.get('nowhere.test'),
  await store.domains.listForTeam(teamId),
  await store.addresses.get('sales@dir.test'),
  await store.addresses.get('nobody@dir.test'),
  await store.addresses.accountAliases(account.id),
  await store.teams.get(teamId),
  await store.teams.list(),
  await sieveScripts(store.kv).active(account.id),
];

test('a second lookup of each directory record reads nothing from the engine, and answers the same', async () => {
  const first = await lookups();
  engine.reads = 0;
  const second = await lookups();
  assert.is(engine.reads, 0);
  assert.equal(second, first);
  assert.is((second[0] as Account).address, 'ann@dir.test');
  assert.equal(second[8], ['sales@dir.test']);
  assert.is(second[4], undefined);
  assert.is(second[7], undefined);
});

test('a domain never looked up and not hosted (the From domain of most inbound mail) is answered without an engine read; one created is seen at once', async () => {
  await store.domains.get('dir.test'); // the hosted domains' keys are held
  engine.reads = 0;
  for (let i = 0; i < 50; i++) assert.is(await store.domains.get(`new-${i}.spam.test`), undefined);
  assert.is(engine.reads, 0, 'each name new, none read');
  await store.domains.create(teamId, 'new-7.spam.test');
  assert.is(
    (await store.domains.get('new-7.spam.test'))?.name,
    'new-7.spam.test',
    'created: the held keys were dropped',
  );
  await store.domains.remove((await store.domains.get('new-7.spam.test'))!);
  assert.is(await store.domains.get('new-7.spam.test'), undefined, 'removed');
});

test('callers get their own copy: changing a record read does not change the next read', async () => {
  const read = (await store.accounts.get(account.id))!;
  read.name = 'changed in memory only';
  read.settings.filters.push({ id: 'x' } as never);
  const again = (await store.accounts.get(account.id))!;
  assert.is.not(again.name, 'changed in memory only');
  assert.equal(again.settings.filters, []);
  const aliases = await store.addresses.accountAliases(account.id);
  aliases.push('injected@dir.test');
  assert.equal(await store.addresses.accountAliases(account.id), ['sales@dir.test']);
});

test('every committed batch is seen by the next read, whatever built it', async () => {
  await lookups();
  // A raw batch, through no repository function: the cache follows the commit, not its callers.
  const tx = new Tx();
  tx.put(keys.account(account.id), { ...account, name: 'Ann Raw' });
  tx.put(keys.address('new@dir.test'), { kind: 'account', accountId: account.id, teamId });
  tx.del(keys.address('sales@dir.test'));
  tx.del(keys.accountAlias(account.id, 'sales@dir.test'));
  tx.put(keys.accountAlias(account.id, 'new@dir.test'), 1);
  tx.put(keys.domain('other.test'), { name: 'other.test', teamId, catchAll: null, dkim: [], verifiedAt: null });
  tx.put(keys.teamDomain(teamId, 'other.test'), 1);
  await store.kv.commit(tx);
  assert.is((await store.accounts.get(account.id))!.name, 'Ann Raw');
  assert.equal(await store.addresses.get('new@dir.test'), { kind: 'account', accountId: account.id, teamId });
  assert.is(await store.addresses.get('sales@dir.test'), undefined);
  assert.equal(await store.addresses.accountAliases(account.id), ['new@dir.test']);
  assert.is((await store.domains.get('other.test'))!.name, 'other.test');
  assert.equal((await store.domains.listForTeam(teamId)).map((d) => d.name).sort(), ['dir.test', 'other.test']);

  // Through the repositories: an update, a new account, a sieve script switched off, a removal.
  await store.accounts.update({ ...(await store.accounts.get(account.id))!, state: 'suspended' });
  assert.is((await store.accounts.get(account.id))!.state, 'suspended');
  const bob = await store.accounts.create({ teamId, address: 'bob@dir.test' });
  assert.is((await store.accounts.byAddress('bob@dir.test'))!.id, bob.id);
  assert.equal((await store.accounts.listForTeam(teamId)).map((a) => a.address).sort(), [
    'ann@dir.test',
    'bob@dir.test',
  ]);
  await sieveScripts(store.kv).put({ accountId: account.id, script: 'keep;', active: false, updatedAt: 2 });
  assert.is(await sieveScripts(store.kv).active(account.id), undefined);
  await store.accounts.remove(bob);
  assert.is(await store.accounts.get(bob.id), undefined);
  assert.is(await store.addresses.get('bob@dir.test'), undefined);
  assert.equal(
    (await store.accounts.listForTeam(teamId)).map((a) => a.address),
    ['ann@dir.test'],
  );
  const team = await store.teams.create('second');
  assert.ok((await store.teams.list()).some((t) => t.id === team.id));
});

test('a read answered before a commit but returned after it does not put the old record back', async () => {
  store.kv.directory.clear();
  let release!: () => void;
  engine.hold = new Promise((resolve) => (release = resolve));
  engine.held = 0;
  const before = store.accounts.get(account.id);
  while (engine.held === 0) await new Promise((r) => setTimeout(r, 1));
  engine.hold = null;
  const tx = new Tx();
  tx.put(keys.account(account.id), { ...(await store.kv.get<Account>(keys.account(account.id)))!, name: 'After' });
  await store.kv.commit(tx);
  release();
  assert.is.not((await before)!.name, 'After'); // read before the commit: the old record, rightly
  assert.is((await store.accounts.get(account.id))!.name, 'After');
});

test('view(): one frozen record shared by readers, replaced by the next write; get() still hands out copies', async () => {
  await store.accounts.get(account.id); // held
  const seen = await store.accounts.view(account.id);
  assert.is(seen!.address, 'ann@dir.test');
  const name = seen!.name;
  assert.is(await store.accounts.view(account.id), seen, 'decoded once, then shared');
  assert.ok(Object.isFrozen(seen) && Object.isFrozen(seen!.settings) && Object.isFrozen(seen!.settings.filters));
  assert.throws(() => {
    (seen as Account).name = 'Mallory';
  }, TypeError);
  const copy = (await store.accounts.get(account.id))!;
  copy.name = 'Changed by a caller';
  assert.is.not((await store.accounts.view(account.id))!.name, 'Changed by a caller');
  await store.accounts.update({ ...copy, name: 'Ann Renamed' });
  const after = await store.accounts.view(account.id);
  assert.is(after!.name, 'Ann Renamed', 'the write replaced the shared record');
  assert.is.not(after, seen);
  assert.is(seen!.name, name, 'a reader holding the old one keeps what it read');
  const misses = store.kv.directory.stats.misses;
  assert.is(await store.accounts.view('nobody'), undefined);
  assert.is(store.kv.directory.stats.misses, misses + 1, 'a record not held is one miss, read once');
});

test('memory stays within its bound, and what was evicted is read again correctly', async () => {
  const small = tempDir();
  const bound = 16 * 1024;
  const other = await Store.open(small.path, { engine: await CountingEngine.open(small.path), directoryBytes: bound });
  try {
    const team = await other.teams.create('big');
    await other.domains.create(team.id, 'big.test');
    const made: Account[] = [];
    for (let i = 0; i < 60; i++) made.push(await other.accounts.create({ teamId: team.id, address: `u${i}@big.test` }));
    for (const a of made) {
      assert.is((await other.accounts.get(a.id))!.address, a.address);
      assert.is((await other.accounts.view(a.id))!.address, a.address);
      assert.is((await other.addresses.get(a.address))!.kind, 'account');
      assert.equal(await other.addresses.accountAliases(a.id), []);
      assert.ok(other.kv.directory.size.bytes <= bound);
    }
    // Per account (record, route, alias list) as charged: what docs/ARCHITECTURE.md §4.5 quotes.
    const perAccount = (other.kv.directory.size.bytes / other.kv.directory.size.entries) * 3;
    assert.ok(perAccount < 1024, `${perAccount} bytes per account`);
    assert.is((await other.accounts.get(made[0]!.id))!.address, 'u0@big.test');
  } finally {
    await other.close();
    small.remove();
  }
});

test.run();
