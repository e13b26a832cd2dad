// The console's operator login on two Wren nodes sharing one PostgreSQL database (docs/ARCHITECTURE.md
// §4.8): failed guesses at the admin password or a root key count once across the nodes, so spreading
// them over N nodes does not give N times as many (each node counted its own before). Always on
// PostgreSQL (a private cluster), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Instance } from '../helpers/instance.ts';
import { sharedNode } from '../helpers/shared-nodes.ts';
import { testDatabase } from '../helpers/store.ts';

const LIMIT = 3;
let a: Instance;
let b: Instance;

test.before(async () => {
  const url = await testDatabase('shared-console');
  const node = (host: string) => sharedNode(host, url, { overrides: { auth: { max_failures_per_ip: LIMIT } } });
  a = await node('127.0.0.2');
  b = await node('127.0.0.3');
});
test.after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** The admin login form posted to `instance` with a wrong secret: the status. */
async function wrongSecret(instance: Instance): Promise<number> {
  const base = `http://${instance.host}:${instance.port('http')}`;
  const reply = await fetch(`${base}/admin/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base },
    body: 'secret=not-the-admin-password',
    redirect: 'manual',
  });
  await reply.text();
  return reply.status;
}

test('failed operator logins alternating between the nodes lock the address out on both', async () => {
  const statuses: number[] = [];
  for (let i = 0; i < LIMIT; i++) statuses.push(await wrongSecret(i % 2 ? b : a));
  assert.equal(statuses, [401, 401, 401], 'each guess is refused as wrong');
  assert.is(await wrongSecret(a), 429, 'node A counts the guesses made through B');
  assert.is(await wrongSecret(b), 429, 'and node B those made through A');
});

test.run();
