// The SRS form was once an open-relay oracle (a 4-character hash, 550 for a wrong
// guess, 250 for the right one, no limit on guesses). Now: a 10-character keyed hash, and refused
// recipients are tarpitted and cut off per connection and per client address (421 4.7.0), which
// also stops mailbox enumeration. Forwarded-mail bounces keep working (see also inbound-routing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { srsRewrite } from '../../src/inbound/srs.ts';
import { Tx } from '../../src/store/index.ts';
import { plainMessage, sendRaw, SmtpClient, startMx, type MxFixture } from '../helpers/smtp.ts';

const SECRET = 'srs-attack-secret';
let fx: MxFixture;
let teamId: string;

test.before(async () => {
  fx = await startMx({
    zone: { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } },
    mx: { srsSecret: SECRET, limits: { badRcptTarpitMs: 20, badRcptPerIp: 15 } },
  });
  teamId = (await fx.store.teams.create('t')).id;
  await fx.store.domains.create(teamId, 'hosted.test');
  await fx.store.accounts.create({ teamId, address: 'alice@hosted.test' });
  const tx = new Tx();
  fx.store.addresses.put(tx, 'fwd@hosted.test', {
    kind: 'forward',
    targets: ['someone@remote.test'],
    keepCopy: null,
    teamId,
  });
  await fx.store.kv.commit(tx);
});
test.after(() => fx.close());

/** An open session from `ip` with a transaction started. */
async function session(ip: string): Promise<SmtpClient> {
  const { client } = await SmtpClient.connect(fx.port, '127.0.0.1', ip);
  await client.command('EHLO attacker.test');
  assert.is((await client.command('MAIL FROM:<>')).code, 250);
  return client;
}

test('forwarded mail gets an SRS sender with a 10-character base32 hash of a keyed HMAC', async () => {
  const r = await sendRaw(
    fx.port,
    'ann@sender.test',
    ['fwd@hosted.test'],
    plainMessage({ from: 'ann@sender.test', to: 'fwd@hosted.test', subject: 'fw' }),
  );
  assert.is(r.end?.code, 250);
  const job = (await fx.store.queue.list({ teamId })).jobs.find((j) => j.domain === 'remote.test');
  assert.ok(job);
  assert.match(job!.from, /^SRS0=[A-Z2-7]{10}=[A-Z2-7]{2}=sender\.test=ann@hosted\.test$/);
  assert.is(job!.from, srsRewrite('ann@sender.test', 'hosted.test', SECRET));
  assert.is.not(
    srsRewrite('ann@sender.test', 'hosted.test', 'another secret'),
    job!.from,
    'the hash depends on the secret',
  );
});

test('the real SRS address is accepted (case-folded too); its 4-character prefix and a one-character change are not', async () => {
  const good = srsRewrite('victim@example.com', 'hosted.test', SECRET);
  const hash = good.split('=')[1]!;
  const flip = (hash[0] === 'A' ? 'B' : 'A') + hash.slice(1);
  const client = await session('127.0.0.5');
  try {
    assert.is((await client.command(`RCPT TO:<${good.toLowerCase()}>`)).code, 250);
    const short = await client.command(`RCPT TO:<${good.replace(hash, hash.slice(0, 4))}>`);
    assert.is(short.code, 550, 'the old 4-character form is refused');
    const flipped = await client.command(`RCPT TO:<${good.replace(hash, flip)}>`);
    assert.match(flipped.lines[0]!, /^550 5\.1\.1 /);
  } finally {
    client.close();
  }
});

test('refused recipients are tarpitted, and the 10th on one connection gets 421 4.7.0 and the connection closes', async () => {
  const client = await session('127.0.0.2');
  const timings: number[] = [];
  const replies = [];
  try {
    for (let i = 0; i < 10; i++) {
      const started = Date.now();
      replies.push(await client.command(`RCPT TO:<SRS0=AAAA${i}AAAAA=AA=example.com=victim@hosted.test>`));
      timings.push(Date.now() - started);
    }
    assert.equal(
      replies.slice(0, 9).map((r) => r.code),
      Array(9).fill(550),
    );
    assert.match(replies[9]!.lines[0]!, /^421 4\.7\.0 /);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(client.closed, 'the server closed the connection');
    assert.ok(timings[8]! >= 9 * 20 - 5, `the 9th refusal waited ${timings[8]} ms (k × tarpit)`);
    assert.ok(timings[8]! > timings[0]!, 'the delay grows');
  } finally {
    client.close();
  }
});

test('refused recipients add up per client address across connections: then 421 at once, even for a real user', async () => {
  // badRcptPerIp is 15 here: 9 on one connection, 6 more on another.
  for (const count of [9, 5]) {
    const client = await session('127.0.0.3');
    for (let i = 0; i < count; i++) assert.is((await client.command(`RCPT TO:<nobody${i}@hosted.test>`)).code, 550);
    client.close();
  }
  const client = await session('127.0.0.3');
  try {
    assert.match(
      (await client.command('RCPT TO:<nobody-last@hosted.test>')).lines[0]!,
      /^421 4\.7\.0 /,
      'the 15th from this address',
    );
    const again = await session('127.0.0.3');
    assert.match(
      (await again.command('RCPT TO:<alice@hosted.test>')).lines[0]!,
      /^421 4\.7\.0 /,
      'no answer at all while the address is throttled: no oracle',
    );
    again.close();
    const other = await session('127.0.0.4');
    assert.is((await other.command('RCPT TO:<alice@hosted.test>')).code, 250, 'other clients are not affected');
    other.close();
  } finally {
    client.close();
  }
});

test('a bounce to a forwarded message still reaches the original sender', async () => {
  const srs = srsRewrite('ann@sender.test', 'hosted.test', SECRET);
  const bounce = await sendRaw(
    fx.port,
    '',
    [srs],
    plainMessage({ from: 'MAILER-DAEMON@remote.test', to: srs, subject: 'bounce' }),
  );
  assert.is(bounce.end?.code, 250);
  const back = (await fx.store.queue.list({ teamId })).jobs.find((j) => j.domain === 'sender.test');
  assert.ok(back?.recipients.some((r) => r.address === 'ann@sender.test'));
});

test.run();
