// \Recent on two Wren nodes sharing one PostgreSQL database (docs/ARCHITECTURE.md §4.8): a message
// is recent for one session only (RFC 3501 2.3.2), whichever node the sessions are on. Each node
// kept its own watermark in memory before, so a session on each node saw the same message as recent.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connect } from 'node:net';
import { RawClient } from '../helpers/imap.ts';
import { sendToMx, type Instance } from '../helpers/instance.ts';
import { type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

const USER = 'ann@recent.test';
const PASSWORD = 'ann recent password';
let shared: SharedNodes;
let a: Instance;
let b: Instance;
const sessions: RawClient[] = [];

test.before(async () => {
  shared = await startSharedNodes('shared-recent', {
    overrides: { imap: { allow_plain_auth_loopback: true } },
    accounts: [USER],
    password: PASSWORD,
  });
  ({ a, b } = shared);
});
test.after(async () => {
  for (const s of sessions) s.close();
  await shared?.stop();
});

async function session(instance: Instance): Promise<RawClient> {
  const socket = connect({ host: instance.host, port: instance.port('imap') });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const client = new RawClient(socket);
  sessions.push(client);
  await client.until(/^\* OK.*\r\n/m);
  assert.match(await client.command('l', `LOGIN ${USER} "${PASSWORD}"`), /^l OK/m);
  return client;
}

const recentOf = (reply: string): number => Number(/^\* (\d+) RECENT\r$/m.exec(reply)?.[1] ?? Number.NaN);

/** Delivers through `via` and waits until both nodes' folder snapshots hold `count` messages. */
async function deliver(via: Instance, subject: string, count: number): Promise<void> {
  await sendToMx(via, { from: 'someone@elsewhere.test', to: USER, subject, text: `${subject}\n` });
  for (const instance of [a, b]) {
    const probe = await session(instance);
    const messages = async () => /MESSAGES (\d+)/.exec(await probe.command('s', 'STATUS INBOX (MESSAGES)'))?.[1];
    const until = Date.now() + 5000;
    while ((await messages()) !== String(count)) {
      assert.ok(Date.now() < until, `${instance.host} holds ${count} messages within 5 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
    probe.close();
  }
}

test('a message delivered on one node is recent for the first session to select it, on either node, and for no other', async () => {
  await deliver(a, 'first', 1);
  const onA = await session(a);
  assert.is(recentOf(await onA.command('s', 'SELECT INBOX')), 1, 'the first session (node A) gets it as recent');
  const onB = await session(b);
  assert.is(recentOf(await onB.command('s', 'SELECT INBOX')), 0, 'a later session on node B does not');
  const status = await session(b);
  assert.match(await status.command('s', 'STATUS INBOX (RECENT)'), /RECENT 0\)/, 'STATUS on B counts none left');

  // Two more arrive through B; fresh sessions on both nodes select at the same moment: one gets both.
  await deliver(b, 'second', 2);
  await deliver(b, 'third', 3);
  const [x, y] = await Promise.all([session(a), session(b)]);
  const replies = await Promise.all([x.command('s', 'SELECT INBOX'), y.command('s', 'SELECT INBOX')]);
  const counts = replies.map(recentOf).sort();
  assert.equal(counts, [0, 2], `one session of the two got both new messages as recent: ${counts}`);
  // The sessions selected before learn of the new mail with NOOP; none of it is recent for them
  // (RECENT counts the session's recent messages: A keeps the first one).
  assert.match(await onA.command('n', 'NOOP'), /^\* 3 EXISTS\r\n\* 1 RECENT\r$/m);
  assert.match(await onB.command('n', 'NOOP'), /^\* 3 EXISTS\r\n\* 0 RECENT\r$/m);
});

test.run();
