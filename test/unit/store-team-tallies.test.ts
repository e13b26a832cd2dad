// Team limits on one node (src/store/team-tallies.ts): the tally written with each mailbox, domain and
// key stays true through removals, revocations, expiry and rotation, and is derived when absent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mintKey } from '../../src/services/api-keys.ts';
import { keys } from '../../src/store/keys.ts';
import { type ApiKey, type Store, StoreError } from '../../src/store/index.ts';
import { openTestStore } from '../helpers/store.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir();
let store: Store;

test.before(async () => {
  store = await openTestStore(dir.path);
});
test.after(async () => {
  await store.close();
  dir.remove();
});

const refused = async (what: Promise<unknown>): Promise<string> => {
  const err = await what.then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof StoreError && err.code === 'limit', `refused at the limit: ${err}`);
  return (err as StoreError).message;
};

test('mailboxes and domains: the limit holds, a removal frees a place, a missing tally is derived', async () => {
  const team = await store.teams.create('t1');
  const d1 = await store.domains.create(team.id, 'one.test', 2);
  await store.domains.create(team.id, 'two.test', 2);
  assert.is(await refused(store.domains.create(team.id, 'three.test', 2)), 'the team has 2 domains (limit 2)');
  const first = await store.accounts.create({ teamId: team.id, address: 'a@one.test', maxMailboxes: 1 });
  await refused(store.accounts.create({ teamId: team.id, address: 'b@one.test', maxMailboxes: 1 }));
  await store.accounts.remove(first);
  await store.accounts.create({ teamId: team.id, address: 'b@one.test', maxMailboxes: 1 });
  await refused(store.accounts.create({ teamId: team.id, address: 'c@one.test', maxMailboxes: 1 }));
  await store.domains.remove(d1);
  await store.domains.create(team.id, 'three.test', 2);
  // A store from before tallies: none stored, counted from the team's records.
  await store.kv.engine.batch([{ type: 'del', key: keys.teamTally(team.id, 'domains') }]);
  await refused(store.domains.create(team.id, 'four.test', 2));
  assert.is((await store.domains.listForTeam(team.id)).length, 2);
});

test('API keys: revoked and expired keys free a place, a rotation that revokes the old one fits', async () => {
  const team = await store.teams.create('t2');
  const input = { type: 'root' as const, permissions: ['*'], accountId: null, domain: null };
  const mint = (name: string, expiresAt: number | null = null) =>
    mintKey(store, team.id, { ...input, name, expiresAt }).then((m) => m.key);
  const key = (name: string, expiresAt: number | null = null): ApiKey => ({
    id: `key_${name}`,
    teamId: team.id,
    ...input,
    name,
    expiresAt,
    prefix: 'p',
    suffix: 's',
    createdAt: Date.now(),
    lastUsedAt: null,
    revokedAt: null,
    parentKeyId: null,
    rotatedFrom: null,
  });
  const a = await mint('a');
  await mint('soon', Date.now() + 300);
  await refused(store.apiKeys.create(key('x'), 'hash-x', 2));
  await store.apiKeys.rotate(a, key('a2'), 'hash-a2', true, 2); // frees a's place as it takes one
  await refused(store.apiKeys.rotate(key('a2'), key('a3'), 'hash-a3', false, 2));
  await new Promise((r) => setTimeout(r, 400)); // 'soon' expires
  await store.apiKeys.create(key('y'), 'hash-y', 2);
  await refused(store.apiKeys.create(key('z'), 'hash-z', 2));
  await store.apiKeys.revoke((await store.apiKeys.get('key_y'))!);
  await store.apiKeys.create(key('z'), 'hash-z', 2);
  // The expired key given a new expiry counts again.
  const soon = (await store.apiKeys.listForTeam(team.id)).find((k) => k.name === 'soon')!;
  await store.apiKeys.update({ ...soon, expiresAt: null });
  assert.match(await refused(store.apiKeys.create(key('w'), 'hash-w', 3)), /has 3 active API keys \(limit 3\)/);
});

test.run();
