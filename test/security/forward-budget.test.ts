// Forwarded mail has a budget of its own (src/inbound/forward-budget.ts): a forwarding address, or a
// mailbox's Sieve redirect, sending everything it receives on to several outside addresses is cut
// off once it has forwarded to `perHour` outside recipients, so it cannot amplify spam through us.
// Over the budget nothing is lost: a forwarding address defers the message (451 4.7.1, the sender
// retries), a Sieve redirect becomes an implicit keep (RFC 5228 §2.10.6).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tx } from '../../src/store/index.ts';
import type { Account } from '../../src/store/index.ts';
import { sieveScripts } from '../../src/store/sieve.ts';
import { messagesIn, plainMessage, sendRaw, startMx, type MxFixture } from '../helpers/smtp.ts';

let fx: MxFixture;
let teamId: string;
let alice: Account;
const OUTSIDE = ['one@remote.test', 'two@remote.test', 'three@remote.test'];

test.before(async () => {
  fx = await startMx({
    zone: { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } },
    mx: {
      srsSecret: 'fwd-budget-secret',
      forwardLimits: { perHour: 7, perDay: 100 },
      limits: { messagesPerIpPerMinute: 1000 },
    },
  });
  teamId = (await fx.store.teams.create('t')).id;
  await fx.store.domains.create(teamId, 'wren.test');
  alice = await fx.store.accounts.create({ teamId, address: 'alice@wren.test' });
  await fx.store.accounts.create({ teamId, address: 'bob@wren.test' });
  const tx = new Tx();
  fx.store.addresses.put(tx, 'fwd@wren.test', { kind: 'forward', targets: OUTSIDE, keepCopy: null, teamId });
  await fx.store.kv.commit(tx);
});
test.after(() => fx.close());

const send = (rcpts: string[], subject: string) =>
  sendRaw(
    fx.port,
    'ann@sender.test',
    rcpts,
    plainMessage({ from: 'Ann <ann@sender.test>', to: rcpts.join(', '), subject }),
  );
const queuedTo = async (address: string) =>
  (await fx.store.queue.list({ limit: 1000 })).jobs.filter((j) => j.recipients.some((r) => r.address === address))
    .length;

test('a forwarding address to three outside recipients forwards two messages (6 of 7), then defers with 451 4.7.1', async () => {
  for (const n of [1, 2]) assert.is((await send(['fwd@wren.test'], `fan-out ${n}`)).end!.code, 250);
  assert.is(await queuedTo('three@remote.test'), 2);
  const over = await send(['fwd@wren.test', 'bob@wren.test'], 'fan-out 3');
  assert.is(over.end!.code, 451, over.end!.text);
  assert.match(over.end!.text, /4\.7\.1 Forwarding limit of fwd@wren\.test reached/);
  assert.is(await queuedTo('one@remote.test'), 2, 'nothing more was queued');
  assert.is((await messagesIn(fx.store, 'bob@wren.test')).length, 0, 'nor stored: the retry will not duplicate it');
  // Mail that is not forwarded is not held up by the forwarder's budget.
  assert.is((await send(['bob@wren.test'], 'plain')).end!.code, 250);
});

test('a mailbox Sieve redirect over its forwarding budget keeps the message instead', async () => {
  await sieveScripts(fx.store.kv).put({
    accountId: alice.id,
    script: `redirect "${OUTSIDE[0]}"; redirect "${OUTSIDE[1]}";`,
    active: true,
    updatedAt: Date.now(),
  });
  const before = await queuedTo('two@remote.test');
  for (let n = 1; n <= 4; n++) assert.is((await send(['alice@wren.test'], `redirected ${n}`)).end!.code, 250);
  // Seven outside recipients an hour: three messages of two each go, the fourth stays in the INBOX.
  assert.is((await queuedTo('two@remote.test')) - before, 3);
  const kept = (await messagesIn(fx.store, 'alice@wren.test')).map((m) => /Subject: ([^\r\n]*)/.exec(m.text)![1]);
  assert.equal(kept, ['redirected 4']);
});

test.run();
