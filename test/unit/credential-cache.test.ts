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

test.run();
