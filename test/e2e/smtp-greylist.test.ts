// Greylisting (RFC 6647) at the MX, through nodemailer as a sending server: suspect mail (scoring from
// spam.greylist_score up to Junk) is refused with 451 4.7.1 until it is offered again after the delay;
// its source then passes at once, and clean mail is never delayed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { bootstrapKey, sendToMx, startInstance, type Instance } from '../helpers/instance.ts';

let instance: Instance;
let dns: TestDnsServer;

test.before(async () => {
  dns = await startDnsServer({});
  // One point (SUBJECT_ALL_CAPS) is suspect here; the retry may come after a second.
  instance = await startInstance({
    dnsServers: dns.servers,
    overrides: { spam: { greylist_score: 1, greylist_delay_seconds: 1 } },
  });
  await instance.addAccount('user@example.test', 'greylist password');
});
test.after(async () => {
  await instance.stop();
  await dns.close();
});

const send = (from: string, subject: string) =>
  sendToMx(instance, { from, to: 'user@example.test', subject, text: 'Details inside.\n' });

/** The messages in INBOX with this subject, as stored. */
async function inbox(subject: string): Promise<string[]> {
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const messages = await store.messages.list(store.folders.byName(account.id, 'INBOX')!.id);
  const raws = await Promise.all(messages.map(async (m) => (await store.read(m)).toString()));
  return raws.filter((r) => r.includes(`Subject: ${subject}\r\n`));
}

async function refusal(work: Promise<unknown>): Promise<{ responseCode?: number; response?: string }> {
  try {
    await work;
  } catch (err) {
    return err as { responseCode?: number; response?: string };
  }
  throw new Error('accepted');
}

test('suspect mail gets 451 4.7.1 until its retry after the delay; then its source passes at once; clean mail never waits', async () => {
  await send('ann@sender.test', 'Lunch on Friday');
  assert.is((await inbox('Lunch on Friday')).length, 1, 'clean mail is delivered at once');

  const first = await refusal(send('ann@sender.test', 'LIMITED TIME OFFER INSIDE'));
  assert.is(first.responseCode, 451);
  assert.match(first.response ?? '', /^451 4\.7\.1 Greylisted: please try again in 1 seconds/);
  const tooSoon = await refusal(send('ann@sender.test', 'LIMITED TIME OFFER INSIDE'));
  assert.is(tooSoon.responseCode, 451, 'a retry before the delay is refused again');
  assert.is((await inbox('LIMITED TIME OFFER INSIDE')).length, 0, 'nothing stored while greylisted');

  await new Promise((r) => setTimeout(r, 1100));
  await send('ann@sender.test', 'LIMITED TIME OFFER INSIDE');
  const [retried] = await inbox('LIMITED TIME OFFER INSIDE');
  const score = Number(/^X-Spam-Score: (\S+)/m.exec(retried ?? '')?.[1]);
  assert.ok(score >= 1 && score < 5, `the retry is delivered to INBOX: suspect, not junk (${score})`);

  await send('bob@sender.test', 'ANOTHER OFFER FROM THE SAME SHOP');
  assert.is((await inbox('ANOTHER OFFER FROM THE SAME SHOP')).length, 1, 'a source that retried passes at once');

  const metrics = await (
    await fetch(`http://127.0.0.1:${instance.port('http')}/metrics`, {
      headers: { authorization: `Bearer ${bootstrapKey(instance)}` },
    })
  ).text();
  for (const [outcome, n] of [
    ['deferred', 2],
    ['retried', 1],
    ['known', 1],
  ] as const)
    assert.match(metrics, new RegExp(`^wrenmail_greylist_total\\{outcome="${outcome}"\\} ${n}$`, 'm'));
});

test.run();
