// Greylisting (RFC 6647): the store's record of first attempts and of sources that retried, on both engines.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sendingNetwork } from '../../src/security/net.ts';
import { Greylist, type GreylistPolicy } from '../../src/store/greylist.ts';
import { waitFor } from '../helpers/outbound.ts';
import { withTempStore } from '../helpers/store.ts';
import { PRUNE_BATCH } from '../../src/store/expiry.ts';

const MINUTE = 60_000;
const policy: GreylistPolicy = {
  score: 4,
  delayMs: 5 * MINUTE,
  windowMs: 24 * 60 * MINUTE,
  passMs: 36 * 1440 * MINUTE,
};
// Origins as the pipeline's stage (inbound/greylist.ts) makes them without SPF: the client's network.
const offer = (clientIp: string, mailFrom: string, ...rcptTo: string[]) => ({
  origin: sendingNetwork(clientIp),
  mailFrom,
  rcptTo,
});

test('the sending network: /24 for IPv4 (and IPv4-mapped), /64 for IPv6 however it is written', () => {
  assert.is(sendingNetwork('203.0.113.77'), '203.0.113.0/24');
  assert.is(sendingNetwork('::ffff:203.0.113.77'), '203.0.113.0/24');
  assert.is(sendingNetwork('2001:db8:0:12::1'), '2001:db8:0:12::/64');
  assert.is(sendingNetwork('2001:0db8:0000:0012:abcd::9'), '2001:db8:0:12::/64');
  assert.is(sendingNetwork('2001:db8::1'), '2001:db8:0:0::/64');
  assert.is(sendingNetwork('::1'), '0:0:0:0::/64');
});

test('a first attempt is deferred; a retry too soon is deferred again; a retry after the delay passes, and its source passes from then on', async () => {
  await withTempStore(async (store) => {
    const list = new Greylist(store.kv);
    const t0 = Date.UTC(2026, 11, 8);
    const first = offer('203.0.113.7', 'news@shop.test', 'a@wren.test', 'b@wren.test');
    assert.equal(await list.check(first, policy, t0), { outcome: 'deferred', retryInMs: 5 * MINUTE });
    assert.equal(await list.check(first, policy, t0 + MINUTE), { outcome: 'deferred', retryInMs: 4 * MINUTE });
    // The retry from a neighbour of the pool, recipients in another order and case: the same triplet.
    const retry = offer('203.0.113.9', 'News@Shop.test', 'B@wren.test', 'a@wren.test');
    assert.equal(await list.check(retry, policy, t0 + 6 * MINUTE), { outcome: 'retried' });
    // Its source (network, sender domain) is known now: other senders and recipients there pass at once.
    assert.equal(await list.check(offer('203.0.113.50', 'billing@shop.test', 'c@wren.test'), policy, t0 + 7 * MINUTE), {
      outcome: 'known',
    });
    // Another network, or another domain from this one, starts over.
    const elsewhere = offer('198.51.100.1', 'news@shop.test', 'a@wren.test');
    assert.is((await list.check(elsewhere, policy, t0 + 7 * MINUTE)).outcome, 'deferred');
    assert.is((await list.check(offer('203.0.113.7', 'x@other.test', 'a@wren.test'), policy, t0)).outcome, 'deferred');
  });
});

test('an SPF-passed domain as the origin: its retry passes whatever network it comes from, and a network of its own starts over', async () => {
  await withTempStore(async (store) => {
    const list = new Greylist(store.kv);
    const t0 = Date.UTC(2026, 11, 8);
    const from = (origin: string) => ({ origin, mailFrom: 'someone@bigmail.test', rcptTo: ['a@wren.test'] });
    assert.is((await list.check(from('spf:bigmail.test'), policy, t0)).outcome, 'deferred');
    assert.is((await list.check(from('spf:bigmail.test'), policy, t0 + 6 * MINUTE)).outcome, 'retried');
    // Without SPF the network counts: the same sender from a network never seen waits.
    assert.is((await list.check(from(sendingNetwork('203.0.113.30')), policy, t0 + 7 * MINUTE)).outcome, 'deferred');
  });
});

test('attempts never retried are forgotten after the window, and a source that stops sending after its pass', async () => {
  await withTempStore(async (store) => {
    const list = new Greylist(store.kv);
    const t0 = Date.UTC(2026, 11, 8);
    const bot = offer('192.0.2.66', 'x@bot.test', 'a@wren.test');
    assert.is((await list.check(bot, policy, t0)).outcome, 'deferred');
    // Past the window the attempt is gone: a late "retry" is a first attempt again, and waits the delay.
    const late = t0 + policy.windowMs + MINUTE;
    assert.equal(await list.check(bot, policy, late), { outcome: 'deferred', retryInMs: 5 * MINUTE });

    const mta = offer('198.51.100.2', 'list@lists.test', 'a@wren.test');
    await list.check(mta, policy, t0);
    assert.is((await list.check(mta, policy, t0 + 5 * MINUTE)).outcome, 'retried');
    const passEnds = t0 + 5 * MINUTE + policy.passMs;
    assert.is((await list.check(mta, policy, passEnds - MINUTE)).outcome, 'known');
    // Used since, so renewed: still known after the first term.
    assert.is((await list.check(mta, policy, passEnds + MINUTE)).outcome, 'known');
    // Silent for a whole term: greylisted again.
    assert.is((await list.check(mta, policy, passEnds + policy.passMs + 2 * MINUTE)).outcome, 'deferred');

    // That check pruned (pruning rides on checks, in the background): what expired is gone, a record renewed
    // meanwhile was not deleted by its old expiry entry, and what is live stays.
    const now = passEnds + policy.passMs + 2 * MINUTE;
    const due = async () =>
      (await store.kv.keys({ gte: 'gx/', lt: 'gx0' })).filter((k) => Number.parseInt(k.slice(3, 15), 16) <= now);
    await waitFor(async () => (await due()).length === 0, 5000, 'nothing expired is left');
    const left = await store.kv.keys({ gte: 'g', lt: 'h' });
    assert.ok(
      left.every((k) => !k.startsWith('gx/') || Number.parseInt(k.slice(3, 15), 16) > now),
      left.join(' '),
    );
    assert.is(
      left.filter((k) => k.startsWith('gl/') || k.startsWith('gp/')).length,
      1,
      'the live attempt: the source greylisted again',
    );
  });
});

test('a flood of first attempts is pruned as fast as checks come, not a batch a minute', async () => {
  await withTempStore(async (store) => {
    const list = new Greylist(store.kv);
    const t0 = Date.UTC(2026, 11, 8);
    const flood = PRUNE_BATCH + 200;
    for (let i = 0; i < flood; i++) await list.check(offer('192.0.2.66', `x${i}@bot.test`, 'a@wren.test'), policy, t0);
    const attempts = async () => (await store.kv.keys({ gte: 'gl/', lt: 'gl0' })).length;
    assert.is(await attempts(), flood);
    // Past the window, checks within one minute: the first one's pass deletes a full batch, so the next
    // check starts another rather than leaving the rest for a minute.
    const late = t0 + policy.windowMs + MINUTE;
    let i = 0;
    await waitFor(
      async () => {
        await list.check(offer('198.51.100.9', `y${i}@other.test`, 'a@wren.test'), policy, late + i++);
        return (await attempts()) === i;
      },
      5000,
      'the expired attempts to be pruned',
    );
  });
});

test.run();
