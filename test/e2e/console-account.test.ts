// The mailbox owner's console (/account) in a real browser: log in with the mailbox password (throttled
// like IMAP), change it, and check from outside with IMAP; app passwords; client setup with a QR code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Browser, Page } from 'playwright-core';
import { cliEnv, sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { canLogInImaps } from '../helpers/imap.ts';
import { accessibilityProblems, launchBrowser, openPage, pageProblems, screenshot } from '../helpers/browser.ts';

const USER = 'owner@account.test';
const OLD = 'first password 1';
const NEW = 'second password 2';

let instance: Instance;
let browser: Browser;
let base: string;

const imapLogin = (user: string, pass: string): Promise<boolean> => canLogInImaps(instance.port('imaps'), user, pass);

async function login(page: Page, email: string, password: string): Promise<number> {
  await page.goto(`${base}/account/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/account/login') && r.request().method() === 'POST'),
    page.click('button[type=submit]'),
  ]);
  return response.status();
}

test.before(async () => {
  // An HTTPS listener too (http.tls_listen), for the Secure cookie flag.
  instance = await startInstance({
    overrides: {
      auth: { max_failures_per_account: 3 },
      http: { listen: ['127.0.0.1:0'], tls_listen: ['127.0.0.1:0'] },
    } as never,
  });
  base = `http://127.0.0.1:${instance.port('http')}`;
  await instance.addAccount(USER, OLD);
  await instance.addAccount('other@account.test', 'other password 3');
  browser = await launchBrowser();
});

test.after(async () => {
  await browser?.close();
  await instance?.stop();
});

test('the owner logs in, sees each page, changes the password; IMAP takes the new one and the old session ends', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = pageProblems(page);
  assert.is(await login(page, USER, OLD), 303);
  await page.waitForSelector('main[data-ready="overview"]');
  await screenshot(page, 'account-overview');
  await openPage(page, base, 'account', 'setup');
  const qr = await page.getAttribute('.qr img', 'src');
  assert.match(qr ?? '', /^data:image\/gif;base64,/, 'a QR code is drawn');
  assert.ok(await page.$(`a[href*="/apple/mobileconfig?email=${encodeURIComponent(USER)}"]`), 'the Apple profile link');
  assert.ok(await page.$(`td >> text=${instance.port('imaps')}`), 'the IMAP port from the autoconfig document');
  await screenshot(page, 'account-setup');

  await openPage(page, base, 'account', 'apps');
  await page.fill('input[name=app_name]', 'Phone');
  await page.click('form[aria-label="Create an app password"] button[type=submit]');
  await page.waitForSelector('.secret >> text=App password for Phone');
  const secret = await page.$$eval('.secret dd', (dds) => dds.map((d) => d.firstChild!.textContent!.trim()));
  assert.match(secret[1]!, /^wm_mbx_/);
  assert.ok(await imapLogin(USER, secret[1]!), 'the app password works over IMAP');
  await screenshot(page, 'account-apps');

  await openPage(page, base, 'account', 'password');
  await screenshot(page, 'account-password');
  const [cookie] = await context.cookies();
  await page.fill('input[name=current_password]', 'not it at all');
  await page.fill('input[name=new_password]', NEW);
  await page.fill('input[name=again]', NEW);
  await page.click('form[aria-label="Change password"] button[type=submit]');
  await page.waitForSelector('#toast >> text=current password is wrong');
  assert.ok(await imapLogin(USER, OLD), 'a wrong current password changed nothing');

  await page.fill('input[name=current_password]', OLD);
  await Promise.all([
    page.waitForURL(/\/account\/login$/),
    page.click('form[aria-label="Change password"] button[type=submit]'),
  ]);
  assert.ok(await imapLogin(USER, NEW), 'IMAP takes the new password');
  assert.not.ok(await imapLogin(USER, OLD), 'and refuses the old one');
  const res = await fetch(`${base}/api/v1/mailbox/me`, { headers: { Cookie: `wm_console=${cookie!.value}` } });
  assert.is(res.status, 401, 'the session opened with the old password has ended');
  assert.equal(
    problems.filter((p) => !/status of 422/.test(p)),
    [],
    'no console error or CSP violation (the refused change is a 422)',
  );
  await context.close();
});

test('an owner session reaches only its own mailbox, and cannot open the operator console', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  assert.is(await login(page, USER, NEW), 303);
  await page.waitForSelector('main[data-ready="overview"]');
  const status = await page.evaluate(async () => (await fetch('/api/v1/mailboxes')).status);
  assert.is(status, 403, 'operator routes refuse a mailbox principal');
  await page.goto(`${base}/admin`);
  assert.match(page.url(), /\/admin\/login$/);
  await context.close();
});

const rootApi = async (path: string) =>
  (await (
    await fetch(`${base}/api/v1${path}`, { headers: { Authorization: `Bearer ${cliEnv(instance).WRENMAIL_API_KEY}` } })
  ).json()) as { data: any };

test('vacation reply, forwarding and spam settings: saved through /api/v1/mailbox/…, and mail follows them', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = pageProblems(page);
  assert.is(await login(page, USER, NEW), 303);
  await page.waitForSelector('main[data-ready="overview"]');
  const id = (await rootApi('/mailboxes')).data.find((m: { email: string }) => m.email === USER).id;

  await openPage(page, base, 'account', 'vacation');
  await page.check('input[name=on]');
  await page.fill('input[name=subject]', 'Out of "office"');
  await page.fill('textarea[name=message]', 'Back on Monday.\nUrgent? Call \\ the desk.');
  await page.click('form[aria-label="Vacation reply"] button[type=submit]');
  await page.waitForSelector('#toast >> text=Saved');
  await screenshot(page, 'account-vacation');
  await openPage(page, base, 'account', 'forwarding');
  await page.check('input[name=on]');
  await page.fill('input[name=to]', 'elsewhere@remote.test');
  await page.click('form[aria-label="Forwarding"] button[type=submit]');
  await page.waitForSelector('#toast >> text=Saved');
  await screenshot(page, 'account-forwarding');
  const script = (await rootApi(`/mailboxes/${id}/sieve`)).data.script as string;
  assert.match(script, /vacation :days 7 :subject "Out of \\"office\\""/, script);
  assert.match(
    script,
    /redirect :copy "elsewhere@remote\.test";/,
    'forwarding kept the vacation reply: one script holds both',
  );
  // Reload: both pages read their settings back.
  await openPage(page, base, 'account', 'vacation');
  assert.ok(await page.isChecked('input[name=on]'));
  assert.is(await page.inputValue('textarea[name=message]'), 'Back on Monday.\nUrgent? Call \\ the desk.');

  await sendToMx(instance, { from: 'friend@faraway.test', to: USER, subject: 'Hello', text: 'hi\n' });
  const until = Date.now() + 20_000;
  let jobs: { recipients: { address: string }[] }[] = [];
  const to = () => jobs.flatMap((j) => j.recipients.map((r) => r.address));
  while (!(to().includes('elsewhere@remote.test') && to().includes('friend@faraway.test'))) {
    assert.ok(Date.now() < until, `the forward and the vacation reply are queued (queue: ${to().join(', ')})`);
    await new Promise((r) => setTimeout(r, 200));
    jobs = (await rootApi('/queue/messages?limit=100')).data;
  }

  await openPage(page, base, 'account', 'spam');
  await page.selectOption('select[name=mode]', 'denylist');
  await page.fill('textarea[name=deny]', '@spammy.test');
  await page.click('form[aria-label="Spam settings"] button[type=submit]');
  await page.waitForSelector('#toast >> text=Saved');
  await screenshot(page, 'account-spam');
  assert.equal((await rootApi(`/mailboxes/${id}/filters`)).data, {
    mode: 'denylist',
    rules: [{ pattern: '@spammy.test', type: 'deny' }],
  });
  const refused = await sendToMx(instance, { from: 'x@spammy.test', to: USER, subject: 'Buy', text: 'now\n' }).then(
    () => null,
    (err: { responseCode?: number }) => err.responseCode,
  );
  assert.is(refused, 550, 'a blocked sender is refused at RCPT');
  assert.equal(
    problems.filter((p) => !/status of 404/.test(p)),
    [],
    'no console error (Chromium logs the 404 of "no Sieve script yet")',
  );
  await context.close();
});

test('axe-core finds no serious or critical violation on any owner page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const found: string[] = [];
  await page.goto(`${base}/account/login`);
  found.push(...(await accessibilityProblems(page)).map((p) => `login: ${p}`));
  assert.is(await login(page, USER, NEW), 303);
  for (const name of ['overview', 'password', 'apps', 'vacation', 'forwarding', 'spam', 'setup']) {
    await openPage(page, base, 'account', name);
    found.push(...(await accessibilityProblems(page)).map((p) => `${name}: ${p}`));
  }
  assert.equal(found, []);
  await context.close();
});

test('over the HTTPS listener (http.tls_listen) the session cookie is Secure', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const https = `https://127.0.0.1:${instance.port('https')}`;
  await page.goto(`${https}/account/login`);
  await page.fill('#email', USER);
  await page.fill('#password', NEW);
  await Promise.all([page.waitForURL(`${https}/account`), page.click('button[type=submit]')]);
  await page.waitForSelector('main[data-ready="overview"]');
  const [cookie] = await context.cookies();
  assert.is(cookie!.name, 'wm_console');
  assert.ok(cookie!.secure, 'Secure on TLS (RFC 6265bis §4.1.2.5)');
  assert.ok(cookie!.httpOnly);
  assert.is(cookie!.sameSite, 'Strict');
  await context.close();
});

test('owner logins are throttled like IMAP (the same per-account counter), and an app key is not a console password', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  for (let i = 0; i < 3; i++) assert.is(await login(page, 'other@account.test', `wrong ${i}`), 401);
  assert.is(
    await login(page, 'other@account.test', 'other password 3'),
    429,
    'blocked after the limit, even with the right password',
  );
  assert.match((await page.textContent('[role=alert]')) ?? '', /Too many failed logins/);
  assert.not.ok(await imapLogin('other@account.test', 'other password 3'), 'IMAP is blocked for the account too');
  await context.close();
});

test.run();
