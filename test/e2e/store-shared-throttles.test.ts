// Failure throttles on two Wren nodes sharing one PostgreSQL database (docs/ARCHITECTURE.md §4.8): the
// console's operator login (guesses at the admin password or a root key) and the MX's refused
// recipients per client address (mailbox enumeration, SRS guessing) count once across the nodes, so
// spreading the attempts over N nodes does not give N times as many (each node counted its own
// before). Always on PostgreSQL (a private cluster), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Instance } from '../helpers/instance.ts';
import { SmtpClient } from '../helpers/smtp.ts';
import { type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

const LIMIT = 3;
let shared: SharedNodes;
let a: Instance;
let b: Instance;

test.before(async () => {
  shared = await startSharedNodes('shared-console', {
    overrides: {
      auth: { max_failures_per_ip: LIMIT },
      smtp: { submission_listen: [], submissions_listen: [], bad_rcpt_per_ip: LIMIT, bad_rcpt_tarpit_ms: 10 },
    },
    accounts: ['ann@example.test'],
    password: 'ann password here',
  });
  ({ a, b } = shared);
});
test.after(() => shared?.stop());

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

/** One RCPT to a mailbox that does not exist, on a connection of its own to `instance`'s MX: the reply. */
async function unknownRecipient(instance: Instance, n: number): Promise<string> {
  const { client } = await SmtpClient.connect(instance.port('smtp-mx'), instance.host);
  try {
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<prober@elsewhere.test>');
    const reply = await client.command(`RCPT TO:<nobody${n}@example.test>`);
    return `${reply.code} ${reply.text}`;
  } finally {
    client.close();
  }
}

test('refused recipients alternating between the nodes close the address out on both', async () => {
  const replies: string[] = [];
  for (let n = 0; n < LIMIT - 1; n++) replies.push(await unknownRecipient(n % 2 ? b : a, n));
  for (const reply of replies) assert.match(reply, /^550 /, 'an unknown mailbox is refused');
  // The third refusal reaches the address's limit, counted over both nodes, whichever answers it.
  assert.match(await unknownRecipient(a, 2), /^421 4\.7\.0 /, 'node A counts the refusals made through B');
  assert.match(await unknownRecipient(b, 3), /^421 4\.7\.0 /, 'and node B those made through A');
});

test.run();
