// The verified-password cache: what it remembers, for how long, and what it never matches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CredentialCache } from '../../src/security/credential-cache.ts';

test('remembers a verified password for this account and stored hash only, until the TTL passes', () => {
  let now = 1_000;
  const cache = new CredentialCache({ ttlMs: 60_000, now: () => now });
  cache.remember('alice@x.test', 'pw', '$scrypt$hash1');
  assert.ok(cache.has('alice@x.test', 'pw', '$scrypt$hash1'));
  assert.not.ok(cache.has('alice@x.test', 'pw ', '$scrypt$hash1'), 'another password');
  assert.not.ok(cache.has('bob@x.test', 'pw', '$scrypt$hash1'), 'another account');
  assert.not.ok(cache.has('alice@x.test', 'pw', '$scrypt$hash2'), 'a changed password hash');
  now += 60_000;
  assert.not.ok(cache.has('alice@x.test', 'pw', '$scrypt$hash1'), 'expired');
  assert.is(cache.size, 0, 'an expired entry is dropped when met');
});

test('holds at most maxEntries, dropping the oldest; keeps no password or plain digest of one', () => {
  const cache = new CredentialCache({ maxEntries: 3 });
  for (let i = 0; i < 5; i++) cache.remember(`u${i}@x.test`, `secret-${i}`, 'h');
  assert.is(cache.size, 3);
  assert.not.ok(cache.has('u0@x.test', 'secret-0', 'h'));
  assert.ok(cache.has('u4@x.test', 'secret-4', 'h'));
  const dump = JSON.stringify([...(cache as unknown as { entries: Map<string, number> }).entries.keys()]);
  assert.not.match(dump, /secret-/);
  const other = new CredentialCache();
  other.remember('u4@x.test', 'secret-4', 'h');
  assert.not.equal(
    [...(other as unknown as { entries: Map<string, number> }).entries.keys()],
    JSON.parse(dump).slice(-1),
    'digests are keyed per process',
  );
});

test('logins that arrive together share one check; a failed one is not remembered', async () => {
  const cache = new CredentialCache();
  let checks = 0;
  const check = (result: boolean) => async () => {
    checks++;
    await new Promise((resolve) => setTimeout(resolve, 10));
    return result;
  };
  const burst = await Promise.all(
    Array.from({ length: 5 }, () => cache.verify('alice@x.test', 'pw', 'h', check(true))),
  );
  assert.equal(burst, [true, true, true, true, true]);
  assert.is(checks, 1, 'one check for five identical logins in flight');
  assert.ok(await cache.verify('alice@x.test', 'pw', 'h', check(false)), 'remembered afterwards');
  assert.is(checks, 1);

  const wrong = await Promise.all([
    cache.verify('alice@x.test', 'guess', 'h', check(false)),
    cache.verify('alice@x.test', 'guess', 'h', check(false)),
    cache.verify('alice@x.test', 'other', 'h', check(false)),
  ]);
  assert.equal(wrong, [false, false, false]);
  assert.is(checks, 3, 'different passwords are checked apart');
  assert.not.ok(await cache.verify('alice@x.test', 'guess', 'h', check(false)), 'a failure is checked again');
  assert.is(checks, 4);
});

test.run();
