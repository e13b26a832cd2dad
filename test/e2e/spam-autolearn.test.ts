// Auto-learning over SMTP (`[spam] auto_learn`, src/spam/autolearn.ts): mail the rules junk or refuse
// with 12 and more points (header and body both) teaches Bayes spam, mail with no rule points that Bayes
// already calls ham teaches ham; the stored bytes are learned, so the user's move out of Junk moves the
// counts; with the setting off nothing is learned.
import { test } from 'uvu';
import { waitFor } from '../helpers/outbound.ts';
import * as assert from 'uvu/assert';
import { bootstrapKey, sendToMx, startInstance, type Instance, withImap } from '../helpers/instance.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { trainMany } from '../../src/spam/classifier.ts';
import { SERVER_SCOPE } from '../../src/store/spam.ts';

let on: Instance;
let off: Instance;
let dns: TestDnsServer;

test.before(async () => {
  dns = await startDnsServer({
    // A bank whose SPF fails for the test client and whose DMARC therefore fails (p=none: no quarantine).
    'bank.test': { TXT: ['v=spf1 ip4:192.0.2.1 -all'] },
    '_dmarc.bank.test': { TXT: ['v=DMARC1; p=none'] },
  });
  on = await startInstance({ dnsServers: dns.servers });
  off = await startInstance({ dnsServers: dns.servers, overrides: { spam: { auto_learn: false } } });
  for (const instance of [on, off]) {
    await instance.addAccount('user@example.test', 'autolearn password');
    // Enough training for Bayes to speak (200 of each): pharmacy spam and meeting ham.
    const base = Array.from({ length: 200 }, (_, i) => [
      {
        input: makeMessage({ subject: `cheap pills ${i}`, body: 'discount pharmacy pills order now\r\n' }),
        class: 'spam' as const,
      },
      {
        input: makeMessage({ subject: `meeting ${i}`, body: 'quarterly budget meeting agenda attached\r\n' }),
        class: 'ham' as const,
      },
    ]).flat();
    await trainMany(instance.server.store, base);
  }
});
test.after(async () => {
  await on.stop();
  await off.stop();
  await dns.close();
});

/** A phish: SPF and DMARC fail (6.5 header points), a link to a bare address dressed as the bank's (5 body points)… */
const phish = (marker: string) => ({
  from: 'Bank <alerts@bank.test>',
  to: 'user@example.test',
  subject: 'Your account is locked',
  html: `<p>Unlock it here: <a href="http://198.51.100.7/login">https://www.bank.test/login</a> ${marker}</p>
<p style="display:none">${marker} hidden words</p>`,
  envelope: { from: 'alerts@bank.test', to: 'user@example.test' },
});

/**
 * A bare-address link dressed as the bank's, no account words: 12.2 points of rules (7.2 header, 5
 * body), under the refusal's 15 with Bayes' points, so it is delivered to Junk.
 */
const lure = (marker: string) => ({
  from: 'Bank <news@bank.test>',
  to: 'user@example.test',
  subject: 'Our new rates',
  html: `<p>See them: <a href="http://198.51.100.7/rates">https://www.bank.test/rates</a> ${marker}</p>`,
  envelope: { from: 'news@bank.test', to: 'user@example.test' },
});

/** … and a colleague's note in words Bayes learned as ham, with no rule points. */
const note = (marker: string) => ({
  from: 'Colleague <colleague@other.test>',
  to: 'user@example.test',
  subject: 'quarterly budget meeting',
  text: `The quarterly budget meeting agenda is attached. ${marker}\n`,
  envelope: { from: 'colleague@other.test', to: 'user@example.test' },
});

/** Sends; a refusal (550 at 15 points and more) is as good as delivery here: either way the MX classified it. */
async function send(instance: Instance, mail: Parameters<typeof sendToMx>[1]): Promise<void> {
  await sendToMx(instance, mail).catch((err: { responseCode?: number }) => {
    if (err.responseCode !== 550) throw err;
  });
}

/** [spam, ham] counts of the model's tokens that contain `marker`. */
const counts = (model: Awaited<ReturnType<Instance['server']['store']['spam']['model']>>, marker: string) =>
  [...model.counts.tokens()].filter((token) => token.includes(marker)).map((token) => model.get(token));

test('a message learned from Junk and moved out of it by the user moves its counts to ham (one content hash)', async () => {
  const store = on.server.store;
  const model = await store.spam.model(SERVER_SCOPE);
  const before = { ...model.totals };
  assert.equal(before, { spam: 200, ham: 200 });
  await sendToMx(on, lure('frobnirate'));
  await waitFor(() => model.totals.spam === before.spam + 1, 5_000, 'spam learned');
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const junk = store.folders.byName(account.id, 'Junk')!;
  const delivered = await Promise.all((await store.messages.list(junk.id)).map((m) => store.read(m)));
  assert.ok(
    delivered.some((raw) => raw.includes('frobnirate')),
    'delivered to Junk, not refused',
  );
  assert.ok(counts(model, 'frobnirate').length > 0);
  for (const c of counts(model, 'frobnirate')) assert.equal(c, [1, 0]);

  await withImap(on, 'user@example.test', 'autolearn password', async (client) => {
    await client.mailboxOpen('Junk');
    await client.messageMove('1:*', 'INBOX');
  });
  await waitFor(() => model.totals.spam === before.spam, 5_000, 'the move out of Junk retrained it');
  assert.is(model.totals.ham, before.ham + 1);
  for (const c of counts(model, 'frobnirate')) assert.equal(c, [0, 1], 'moved, not counted twice');
});

test('a phish refused at 15+ points teaches spam; a note Bayes calls ham teaches ham', async () => {
  const model = await on.server.store.spam.model(SERVER_SCOPE);
  const before = { ...model.totals };
  await send(on, phish('zorblaxphish'));
  await waitFor(() => model.totals.spam === before.spam + 1, 5_000, 'spam learned');
  const phishCounts = counts(model, 'zorblaxphish');
  assert.ok(phishCounts.length > 0, "the phish's tokens were learned");
  for (const c of phishCounts) assert.equal(c, [1, 0]);

  await sendToMx(on, note('quibbleham'));
  await waitFor(() => model.totals.ham === before.ham + 1, 5_000, 'ham learned');
  const noteCounts = counts(model, 'quibbleham');
  assert.ok(noteCounts.length > 0, "the note's tokens were learned");
  for (const c of noteCounts) assert.equal(c, [0, 1]);

  // The operator sees what was learned on /metrics (Prometheus text, the bootstrap root key).
  const reply = await fetch(`http://127.0.0.1:${on.port('http')}/metrics`, {
    headers: { authorization: `Bearer ${bootstrapKey(on)}` },
  });
  assert.is(reply.status, 200);
  const text = await reply.text();
  const learned = (cls: string) =>
    Number(
      new RegExp(
        `^wrenmail_spam_autolearn_total\\{[^}]*class="${cls}"[^}]*outcome="learned"[^}]*\\} (\\d+)$`,
        'm',
      ).exec(text)?.[1] ?? 0,
    );
  assert.ok(learned('spam') >= 1 && learned('ham') >= 1, text);
});

test('with auto_learn = false nothing is learned', async () => {
  const model = await off.server.store.spam.model(SERVER_SCOPE);
  await send(off, phish('zorblaxoff'));
  await sendToMx(off, note('quibbleoff'));
  await new Promise((r) => setTimeout(r, 600)); // past the learner's 200 ms batching delay
  assert.equal(model.totals, { spam: 200, ham: 200 });
  assert.equal(counts(model, 'zorblaxoff'), []);
  assert.equal(counts(model, 'quibbleoff'), []);
});

test.run();
