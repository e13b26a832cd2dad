// A domain blocklist at the MX (spam.uribl_zones), asked of a DNS server on loopback: the registered domain of a
// link in base64-encoded HTML is looked up and named in the delivered X-Spam-Status, and the list's refusal
// code marks nothing. Mail comes from nodemailer as a sending server would send it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { sendToMx, startInstance, type Instance } from '../helpers/instance.ts';

let instance: Instance;
let dns: TestDnsServer;

test.before(async () => {
  dns = await startDnsServer({
    'bad-shop.example.dbl.test': { A: ['127.0.1.2'] },
    // The list refusing the query (as Spamhaus DBL answers an address asked as a domain).
    'refusing.example.dbl.test': { A: ['127.0.1.255'] },
  });
  instance = await startInstance({
    dnsServers: dns.servers,
    overrides: { spam: { uribl_zones: ['dbl.test'], greylist: false } },
  });
  await instance.addAccount('user@example.test', 'uribl password');
});
test.after(async () => {
  await instance.stop();
  await dns.close();
});

/** The X-Spam-Status of the stored message with this subject, from INBOX or Junk. */
async function spamStatus(subject: string): Promise<string> {
  const store = instance.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  for (const folder of ['INBOX', 'Junk']) {
    for (const m of await store.messages.list(store.folders.byName(account.id, folder)!.id)) {
      const raw = (await store.read(m)).toString();
      if (raw.includes(`Subject: ${subject}\r\n`)) return /^X-Spam-Status: (.*)$/m.exec(raw)![1]!;
    }
  }
  throw new Error(`${subject} not delivered`);
}

test('a link to a listed domain is named; a refused query and an unlisted domain are not', async () => {
  const send = (subject: string, href: string) =>
    sendToMx(instance, {
      from: 'news@shop.test',
      to: 'user@example.test',
      subject,
      html: `<p>Our offers this week: <a href="${href}">see them</a>.</p>`,
      textEncoding: 'base64',
    });
  await send('Listed link', 'http://www.bad-shop.example/offers?id=7');
  await send('Refused query', 'http://refusing.example/offers');
  await send('Clean link', 'https://shop.test/offers');
  assert.match(await spamStatus('Listed link'), /tests=.*\bURIBL_DBL_TEST\b/);
  assert.not.match(await spamStatus('Refused query'), /URIBL/);
  assert.not.match(await spamStatus('Clean link'), /URIBL/);
  assert.ok(dns.queries.includes('bad-shop.example.dbl.test A'), dns.queries.join(' '));
});

test.run();
