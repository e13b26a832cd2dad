// The operator console (/admin) in a real browser (Debian's chromium) against a whole server: every
// click goes through /api/v1, and what it did is checked from outside (SMTP, IMAP, a webhook receiver).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cliEnv, sendToMx, startInstance, type Instance, withImap } from '../helpers/instance.ts';
import { canLogInImaps } from '../helpers/imap.ts';
import { wrenmail } from '../helpers/cli.ts';
import { accessibilityProblems, launchBrowser, openPage, pageProblems, screenshot } from '../helpers/browser.ts';

let instance: Instance;
let browser: Browser;
let base: string;
let rootKey: string;
let context: BrowserContext;
let page: Page;
let problems: string[];
let receiver: Server;
const hooks: string[] = [];

const api = async (method: string, path: string, body?: unknown, key = rootKey) => {
  const res = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as { ok: boolean; data: any } };
};

/** A fresh browser context logged in with `secret` (a root key or the admin password). */
async function login(secret: string): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = pageProblems(page);
  await page.goto(`${base}/admin`);
  assert.match(page.url(), /\/admin\/login$/, 'no session: the login page');
  await page.fill('#secret', secret);
  await Promise.all([page.waitForURL(`${base}/admin`), page.click('button[type=submit]')]);
  await page.waitForSelector('main[data-ready="overview"]');
  return { context, page, problems };
}

const imapLogin = (user: string, pass: string): Promise<boolean> => canLogInImaps(instance.port('imaps'), user, pass);

/** node:http, not fetch: fetch would not send Origin or Sec-Fetch-Site as given. */
const rawPost = (path: string, headers: Record<string, string>, body: string) =>
  new Promise<{ status: number; body: string; setCookie: string[] | undefined }>((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text, setCookie: res.headers['set-cookie'] }));
    });
    req.on('error', reject);
    req.end(body);
  });

const counter = async (name: string) => Number(await page.textContent(`[data-counter="${name}"] .n`));

test.before(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      hooks.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  instance = await startInstance({
    hostname: 'mail.example.test',
    overrides: { webhooks: { allow_http: true, allow_private_addresses: true } } as never,
  });
  base = `http://127.0.0.1:${instance.port('http')}`;
  rootKey = cliEnv(instance).WRENMAIL_API_KEY;
  browser = await launchBrowser();
  ({ context, page, problems } = await login(rootKey));
});

test.after(async () => {
  await browser?.close();
  await instance?.stop();
  await new Promise((r) => receiver?.close(r));
});

test('the login page refuses a wrong key; the session cookie is HttpOnly and SameSite=Strict; pages carry a strict CSP', async () => {
  const other = await browser.newContext();
  const p = await other.newPage();
  await p.goto(`${base}/admin/login`);
  await p.fill('#secret', 'wm_root_wrong');
  const [response] = await Promise.all([
    p.waitForResponse((r) => r.url().endsWith('/admin/login') && r.request().method() === 'POST'),
    p.click('button[type=submit]'),
  ]);
  assert.is(response.status(), 401);
  assert.match((await p.textContent('[role=alert]')) ?? '', /not valid/);
  await other.close();

  const [cookie] = await context.cookies();
  assert.is(cookie!.name, 'wm_console');
  assert.ok(cookie!.httpOnly);
  assert.is(cookie!.sameSite, 'Strict');
  assert.not.ok(cookie!.secure, 'plain HTTP on loopback: no Secure flag (a browser would drop the cookie)');
  const res = await fetch(`${base}/admin`, { headers: { Cookie: `wm_console=${cookie!.value}` } });
  assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'; style-src 'self'/);
  assert.not.match(res.headers.get('content-security-policy') ?? '', /unsafe-inline/);
  assert.not.match(await res.text(), /<script>|<style>| style="| on[a-z]+="/, 'no inline script or style');
  // Nothing secret is kept by the browser: no storage, and the key is nowhere in the page.
  assert.equal(await page.evaluate(() => [localStorage.length, sessionStorage.length]), [0, 0]);
  assert.not.ok((await page.content()).includes(rootKey));
  await screenshot(page, 'admin-overview');
});

test('add a domain and see its DNS records, zone file and DKIM key', async () => {
  await openPage(page, base, 'admin', 'domains');
  await page.fill('input[name=domain]', 'console.test');
  await page.click('form[aria-label="Add a domain"] button[type=submit]');
  await page.waitForSelector('main[data-ready="domain"] [data-records]');
  const records = await page.$$eval('[data-record]', (rows) => rows.map((r) => r.getAttribute('data-record')));
  assert.ok(records.includes('MX') && records.includes('TXT'), `records: ${records.join(',')}`);
  assert.match((await page.textContent('[data-record="MX"]')) ?? '', /mail\.example\.test/);
  assert.match((await page.textContent('[data-zone]')) ?? '', /console\.test\.\s.*MX/);
  assert.ok((await page.$('text=rsa-sha256')) || (await page.$('text=ed25519-sha256')), 'a DKIM key is listed');
  assert.ok((await page.$$('[data-copy]')).length >= records.length, 'a copy button per record');
  await screenshot(page, 'admin-domain');
  const listed = await api('GET', '/domains');
  assert.ok(
    listed.json.data.some((d: { domain: string }) => d.domain === 'console.test'),
    'the API sees the domain the console added',
  );
});

let generatedPassword = '';
test('create a mailbox (password shown once), receive a message over SMTP, and see the counters move', async () => {
  await openPage(page, base, 'admin', 'overview');
  const before = await counter('received');
  await openPage(page, base, 'admin', 'mailboxes');
  await page.fill('input[name=email]', 'owner@console.test');
  await page.fill('input[name=display_name]', 'Box Owner');
  await page.click('form[aria-label="Create a mailbox"] button[type=submit]');
  await page.waitForSelector('.secret');
  const secret = await page.$$eval('.secret dd', (dds) => dds.map((d) => d.firstChild!.textContent!.trim()));
  generatedPassword = secret[1]!;
  assert.ok(generatedPassword.length >= 16, 'a generated password is shown');
  await page.waitForSelector('[data-mailbox="owner@console.test"]');
  await screenshot(page, 'admin-mailboxes');

  await sendToMx(instance, {
    from: 'someone@elsewhere.test',
    to: 'owner@console.test',
    subject: 'Counted',
    text: 'hello\n',
  });
  await openPage(page, base, 'admin', 'overview');
  assert.is(await counter('received'), before + 1, 'the Received counter moved');
  assert.ok((await counter('connections')) >= 1);
  // Certificate expiry, from GET /server/certificates (the self-signed default here).
  const certs = await api('GET', '/server/certificates');
  assert.is(certs.status, 200);
  assert.match(
    (await page.textContent('[data-counter="certificate"] .n')) ?? '',
    new RegExp(`^${certs.json.data[0].days_left} days$`),
  );
  assert.match((await page.textContent('[data-certificates]')) ?? '', /mail\.example\.test/);
  assert.ok(await page.$('.uplot canvas'), 'the chart is drawn');
  assert.ok(await imapLogin('owner@console.test', generatedPassword), 'the generated password works over IMAP');
  await openPage(page, base, 'admin', 'logs');
  assert.ok(await page.$('text=Counted'), 'the delivery log shows the message');
  await screenshot(page, 'admin-logs');
});

test('mint an app key: the IMAP/SMTP settings are shown once and the key logs in over IMAP', async () => {
  await openPage(page, base, 'admin', 'mailboxes');
  await page.fill('input[aria-label="App name for owner@console.test"]', 'Thunderbird');
  await page.click('[data-mailbox="owner@console.test"] >> text=New app key');
  await page.waitForSelector('.secret >> text=App key for owner@console.test');
  const entries = await page.$$eval('.secret dd', (dds) => dds.map((d) => d.firstChild!.textContent!.trim()));
  const [username, secret, server] = entries;
  assert.is(username, 'owner@console.test');
  assert.match(secret!, /^wm_mbx_/);
  assert.is(server, 'mail.example.test');
  assert.is(entries[3], String(instance.port('imaps')));
  assert.ok(await imapLogin(username!, secret!), 'the app key is an IMAP password');
});

test('suspend and resume a mailbox: IMAP login follows', async () => {
  await openPage(page, base, 'admin', 'mailboxes');
  await page.click('[data-mailbox="owner@console.test"] >> text=Suspend');
  await page.waitForSelector('[data-mailbox="owner@console.test"] >> text=suspended');
  assert.not.ok(await imapLogin('owner@console.test', generatedPassword), 'a suspended mailbox cannot log in');
  await page.click('[data-mailbox="owner@console.test"] >> text=Resume');
  await page.waitForSelector('[data-mailbox="owner@console.test"] >> text=active');
  assert.ok(await imapLogin('owner@console.test', generatedPassword));
});

test('create a webhook, trigger a delivery, replay it', async () => {
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  await openPage(page, base, 'admin', 'webhooks');
  await page.fill('input[name=url]', url);
  await page.click('form[aria-label="Add a webhook"] button[type=submit]');
  await page.waitForSelector('.secret >> text=whsec_').catch(async (err) => {
    throw new Error(`${err.message}; page says: ${await page.textContent('#toast')}`);
  });
  await page.click(`[data-webhook="${url}"] >> text=Send test`);
  await page.waitForSelector('main[data-ready="webhook"]');
  const until = Date.now() + 15_000;
  while (!(await page.$('[data-delivery] >> text=succeeded'))) {
    assert.ok(Date.now() < until, 'the test delivery succeeded in time');
    await page.waitForTimeout(300);
    await page.click('text=Refresh');
  }
  assert.is(hooks.length, 1);
  assert.match(hooks[0]!, /"type":"test"/);
  await page.click('[data-delivery] >> text=Payload');
  await page.waitForFunction(() =>
    /"type"/.test(
      (
        globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
      ).document.querySelector('main pre:last-of-type')?.textContent ?? '',
    ),
  );
  await page.click('[data-delivery] >> text=Replay');
  while (hooks.length < 2) {
    assert.ok(Date.now() < until, 'the replay arrived in time');
    await page.waitForTimeout(200);
  }
  await page.click('text=Refresh');
  await page.waitForSelector('[data-delivery] >> text=replay of');
  await screenshot(page, 'admin-webhook');
});

test('a mailbox page: add an alias (mail to it arrives), save a Sieve script (a bad one is refused with its line), app keys with last use', async () => {
  const mailbox = (await api('GET', '/mailboxes')).json.data.find(
    (m: { email: string }) => m.email === 'owner@console.test',
  );
  await openPage(page, base, 'admin', 'mailboxes');
  await page.click('a >> text=owner@console.test');
  await page.waitForSelector('main[data-ready="mailbox"] [data-aliases]');
  await page.fill('input[name=address]', 'alias@console.test');
  await page.click('form[aria-label="Add an alias"] button[type=submit]');
  await page.waitForSelector('[data-alias="alias@console.test"]');
  assert.ok(
    (await api('GET', `/mailboxes/${mailbox.id}/aliases`)).json.data.some(
      (a: { address: string }) => a.address === 'alias@console.test',
    ),
  );
  assert.ok(await page.$('[data-app-key="Thunderbird"]'), 'the app key minted earlier is listed with its last use');

  await page.fill('textarea[name=script]', 'require ["fileinto"];\nfileinto "Archive"\n');
  await page.click('form[aria-label="Sieve script"] button[type=submit]');
  await page.waitForSelector('#toast >> text=line');
  assert.is((await api('GET', `/mailboxes/${mailbox.id}/sieve`)).status, 404, 'nothing saved');
  await page.fill(
    'textarea[name=script]',
    'require ["fileinto", "mailbox"];\nif header :contains "subject" "invoice" { fileinto :create "Invoices"; }\n',
  );
  await page.click('form[aria-label="Sieve script"] button[type=submit]');
  await page.waitForSelector('[data-sieve] >> text=Active');
  assert.match((await api('GET', `/mailboxes/${mailbox.id}/sieve`)).json.data.script, /Invoices/);
  await sendToMx(instance, {
    from: 'billing@elsewhere.test',
    to: 'alias@console.test',
    subject: 'Your invoice',
    text: 'pay\n',
  });
  const st = await withImap(instance, 'owner@console.test', generatedPassword, (client) =>
    client.status('Invoices', { messages: true }),
  );
  assert.is(
    (st as { messages?: number }).messages,
    1,
    'the alias delivered, and the script the console saved filed it',
  );
  await screenshot(page, 'admin-mailbox');
});

test('lists and forwarders, key rotation, spam check and training, reports, filtered logs', async () => {
  await openPage(page, base, 'admin', 'lists');
  await page.fill('input[name=name]', 'Team');
  await page.fill('input[name=email]', 'team@console.test');
  await page.fill('input[name=members]', 'owner@console.test, someone@elsewhere.test');
  await page.click('form[aria-label="Create a list or forwarder"] button[type=submit]');
  await page.waitForSelector('[data-list="team@console.test"] >> text=someone@elsewhere.test');
  const list = (await api('GET', '/lists')).json.data.find((l: { email: string }) => l.email === 'team@console.test');
  assert.equal(list.external_members, ['someone@elsewhere.test']);
  assert.is(list.members.length, 1);
  await screenshot(page, 'admin-lists');

  const created = await api('POST', '/api-keys', { name: 'rotate-me', type: 'root', role: 'root:readonly' });
  await openPage(page, base, 'admin', 'keys');
  page.once('dialog', (d) => void d.accept());
  await page.click('[data-key="rotate-me"] button:text-is("Rotate")');
  await page.waitForSelector('.secret >> text=rotated').catch(async (err) => {
    throw new Error(`${err.message}; page says: ${await page.textContent('#toast')}`);
  });
  const fresh = (await page.$$eval('.secret dd', (dds) => dds.map((d) => d.firstChild!.textContent!.trim())))[0]!;
  // The seed's rotation: the old key keeps working until the operator revokes it, once callers moved.
  assert.is((await api('GET', '/me', undefined, fresh)).status, 200, 'the new one works');
  assert.is((await api('GET', '/me', undefined, created.json.data.secret)).status, 200, 'the old one still works');
  assert.ok((await api('DELETE', `/api-keys/${created.json.data.id}`)).status < 300, 'revoking the old key');
  assert.is(
    (await api('GET', '/me', undefined, created.json.data.secret)).status,
    401,
    'the old secret stopped working once revoked',
  );

  await openPage(page, base, 'admin', 'spam');
  const spammy =
    'From: winner@lottery.example\nTo: owner@console.test\nSubject: You WON a FREE prize\n\nClaim your free money now viagra casino\n';
  await page.fill('textarea[name=message]', spammy);
  await page.click('button:text-is("Check")');
  await page.waitForSelector('[data-verdict]');
  assert.match((await page.textContent('[data-verdict] h2')) ?? '', /score/);
  await page.click('button:text-is("Train as spam")');
  await page.waitForSelector('[data-trained="spam"]');
  assert.match((await page.textContent('[data-trained="spam"]')) ?? '', /[1-9]\d* spam/);
  assert.ok(await page.$('[data-recent-spam]'), 'recent verdicts are listed');
  await screenshot(page, 'admin-spam');

  await openPage(page, base, 'admin', 'reports');
  assert.ok((await page.$('[data-reports="dmarc"]')) && (await page.$('[data-reports="tls"]')));

  await openPage(page, base, 'admin', 'logs');
  await page.fill('input[name=search]', 'invoice');
  await page.click('form[aria-label="Filter the logs"] button[type=submit]');
  await page.waitForFunction(
    () =>
      !/Counted/.test(
        (globalThis as unknown as { document: { body: { textContent: string } } }).document.body.textContent,
      ),
  );
  assert.ok(await page.$('[data-log="received"] >> text=Your invoice'), 'the search keeps the matching message');
  await page.selectOption('select[name=direction]', 'out');
  await page.click('form[aria-label="Filter the logs"] button[type=submit]');
  // The table is replaced when the answer comes: wait for the new one, not for a row the old one had.
  const sentOnly = await page
    .waitForFunction(
      () => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document;
        return !!doc.querySelector('[data-log="sent"]') && !doc.querySelector('[data-log="received"]');
      },
      undefined,
      { timeout: 15_000 },
    )
    .then(
      () => true,
      () => false,
    );
  assert.ok(sentOnly, 'sent only');
});

const PAGES = ['overview', 'domains', 'mailboxes', 'lists', 'keys', 'webhooks', 'queue', 'logs', 'spam', 'reports'];

test('axe-core finds no serious or critical violation on any operator page', async () => {
  const mailbox = (await api('GET', '/mailboxes')).json.data[0];
  const domain = (await api('GET', '/domains')).json.data[0];
  const webhook = (await api('GET', '/webhooks')).json.data[0];
  const found: string[] = [];
  const anon = await browser.newPage();
  await anon.goto(`${base}/admin/login`);
  found.push(...(await accessibilityProblems(anon)).map((p) => `login: ${p}`));
  await anon.close();
  for (const name of [...PAGES, `mailbox/${mailbox.id}`, `domain/${domain.id}`, `webhook/${webhook.id}`]) {
    await page.goto(`${base}/admin#/${name}`);
    await page.waitForSelector(`main[data-ready="${name.split('/')[0]}"]`, { timeout: 15_000 });
    found.push(...(await accessibilityProblems(page)).map((p) => `${name}: ${p}`));
  }
  assert.equal(found, []);
});

test('a root:readonly key sees every page and no write control (the full key sees them)', async () => {
  const created = await api('POST', '/api-keys', { name: 'auditor', type: 'root', role: 'root:readonly' });
  assert.is(created.status, 201);
  const readonly = await login(created.json.data.secret);
  for (const name of PAGES) {
    await openPage(readonly.page, base, 'admin', name);
    assert.not.ok(await readonly.page.$('main .error'), `${name} renders for a readonly key`);
    assert.is((await readonly.page.$$('[data-write]')).length, 0, `no write control on ${name}`);
    assert.is(
      (await readonly.page.$$('main form:not([role=search])')).length,
      0,
      `no form on ${name} (a log filter is not a write)`,
    );
    await screenshot(readonly.page, `admin-readonly-${name}`);
  }
  const mailbox = (await api('GET', '/mailboxes')).json.data[0];
  await readonly.page.goto(`${base}/admin#/mailbox/${mailbox.id}`);
  await readonly.page.waitForSelector('main[data-ready="mailbox"]');
  assert.is((await readonly.page.$$('[data-write], main form')).length, 0, 'no write control on a mailbox page');
  for (const name of ['domains', 'mailboxes', 'lists', 'keys', 'webhooks', 'spam']) {
    await openPage(page, base, 'admin', name);
    assert.ok((await page.$$('[data-write]')).length > 0, `the full key has write controls on ${name}`);
  }
  await openPage(page, base, 'admin', 'keys');
  await screenshot(page, 'admin-keys');
  assert.equal(readonly.problems, []);
  // The API, not the page, is what refuses: a readonly session's write is 403 even with its CSRF token.
  const token = await readonly.page.getAttribute('meta[name="wm-csrf"]', 'content');
  const refused = await readonly.page.evaluate(async (csrf) => {
    const res = await fetch('/api/v1/domains', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf! },
      body: '{"domain":"nope.test"}',
    });
    return [res.status, ((await res.json()) as { error: { code: string } }).error.code];
  }, token);
  assert.equal(refused, [403, 'insufficient_permissions']);
  await readonly.context.close();
});

test('no page logged a console error or CSP violation', async () => {
  for (const name of PAGES) await openPage(page, base, 'admin', name);
  // Chromium logs every 4xx fetch: the 404 of a mailbox with no Sieve script yet, the 422 of the refused one.
  assert.equal(
    problems.filter((p) => !/status of (404|422)/.test(p)),
    [],
  );
});

test('writes without the CSRF token, or from another origin, are refused; with both right they pass', async () => {
  const [cookie] = await context.cookies();
  const csrf = await page.getAttribute('meta[name="wm-csrf"]', 'content');
  const post = (headers: Record<string, string>) =>
    rawPost(
      '/api/v1/domains',
      { Cookie: `wm_console=${cookie!.value}`, 'Content-Type': 'application/json', ...headers },
      '{"domain":"csrf.test"}',
    );
  // From the page itself, without the token.
  const bare = await page.evaluate(async () => {
    const res = await fetch('/api/v1/domains', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"domain":"csrf.test"}',
    });
    return [res.status, ((await res.json()) as { error: { message: string } }).error.message] as const;
  });
  assert.is(bare[0], 403);
  assert.match(bare[1], /CSRF/);
  assert.is((await post({ 'X-CSRF-Token': 'wrong' })).status, 403);
  const foreign = await post({ 'X-CSRF-Token': csrf!, Origin: 'https://evil.example' });
  assert.is(foreign.status, 403, foreign.body);
  assert.match(foreign.body, /cross-origin/);
  assert.is(
    (await post({ 'X-CSRF-Token': csrf!, 'Sec-Fetch-Site': 'cross-site' })).status,
    403,
    'Fetch Metadata: cross-site',
  );
  assert.is(
    (await api('GET', '/domains')).json.data.some((d: { domain: string }) => d.domain === 'csrf.test'),
    false,
    'nothing was created',
  );
  assert.is(
    (await post({ 'X-CSRF-Token': csrf!, Origin: base })).status,
    201,
    'the same request with the token from the same origin works',
  );
  // A login form posted from another site is refused too (login CSRF).
  const crossLogin = await rawPost(
    '/admin/login',
    { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example' },
    `secret=${rootKey}`,
  );
  assert.is(crossLogin.status, 403);
  assert.is(crossLogin.setCookie, undefined);
});

test('revoking the key behind a session ends the session', async () => {
  const created = await api('POST', '/api-keys', { name: 'temporary', type: 'root', role: 'root:full' });
  const temp = await login(created.json.data.secret);
  assert.is((await api('DELETE', `/api-keys/${created.json.data.id}`)).status, 200);
  await temp.page.goto(`${base}/admin/`);
  assert.match(temp.page.url(), /\/admin\/login$/, 'back to the login page');
  const [cookie] = await temp.context.cookies();
  const res = await fetch(`${base}/api/v1/me`, { headers: { Cookie: `wm_console=${cookie!.value}` } });
  assert.is(res.status, 401);
  await temp.context.close();
});

test('`wrenmail admin passwd` sets the admin password: it opens the console; a new one ends that session; a readonly key cannot set it', async () => {
  const env = cliEnv(instance);
  const set = await wrenmail(['admin', 'passwd', '--password-stdin'], env, 'operator password one\n');
  assert.is(set.code, 0, set.stderr);
  const session = await login('operator password one');
  assert.match((await session.page.textContent('#who')) ?? '', /admin password/);
  await openPage(session.page, base, 'admin', 'domains');
  assert.ok((await session.page.$$('[data-write]')).length > 0, 'the admin password is root:full');

  // Generated when none is given, printed once; the session opened with the old one ends.
  const generated = await wrenmail(['admin', 'passwd'], env);
  assert.is(generated.code, 0, generated.stderr);
  const password = /password: (\S+)/.exec(generated.stdout)?.[1];
  assert.ok(password && password.length >= 20, generated.stdout);
  const [cookie] = await session.context.cookies();
  assert.is(
    (await fetch(`${base}/api/v1/me`, { headers: { Cookie: `wm_console=${cookie!.value}` } })).status,
    401,
    "the old password's session ended",
  );
  await session.context.close();
  const again = await login(password!);
  await again.context.close();

  const short = await wrenmail(['admin', 'passwd', '--password', 'short'], env);
  assert.is(short.code, 1, 'a short password is refused by the API');
  assert.match(short.stderr, /password/);
  const readonly = await api('POST', '/api-keys', { name: 'ro-passwd', type: 'root', role: 'root:readonly' });
  const refused = await wrenmail(['admin', 'passwd', '--password', 'readonly cannot set this'], {
    ...env,
    WRENMAIL_API_KEY: readonly.json.data.secret,
  });
  assert.is(refused.code, 77, 'a readonly key is refused (server.manage)');
});

test('logging out ends the session on the server', async () => {
  const session = await login(rootKey);
  const [cookie] = await session.context.cookies();
  await Promise.all([session.page.waitForURL(/\/admin\/login$/), session.page.click('text=Log out')]);
  const res = await fetch(`${base}/api/v1/me`, { headers: { Cookie: `wm_console=${cookie!.value}` } });
  assert.is(res.status, 401, 'the old cookie no longer works');
  await session.context.close();
});

test.run();
