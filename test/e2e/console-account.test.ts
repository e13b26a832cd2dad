// The mailbox owner's console (/account) in a real browser: log in with the mailbox password (throttled
// like IMAP), change it, and check from outside with IMAP; app passwords; client setup with a QR code.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { launchBrowser, openPage, pageProblems, screenshot } from '../helpers/browser.ts';

const USER = 'owner@account.test';
const OLD = 'first password 1';
const NEW = 'second password 2';

let instance: Instance;
let browser: Browser;
let base: string;

const imapLogin = async (user: string, pass: string): Promise<boolean> => {
  const client = new ImapFlow({ host: '127.0.0.1', port: instance.port('imaps'), secure: true, tls: { rejectUnauthorized: false }, auth: { user, pass }, logger: false });
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    return false;
  }
};

async function login(page: Page, email: string, password: string): Promise<number> {
  await page.goto(`${base}/account/login`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/account/login') && r.request().method() === 'POST'), page.click('button[type=submit]')]);
  return response.status();
}

test.before(async () => {
  instance = await startInstance({ overrides: { auth: { max_failures_per_account: 3 } } as never });
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
  await Promise.all([page.waitForURL(/\/account\/login$/), page.click('form[aria-label="Change password"] button[type=submit]')]);
  assert.ok(await imapLogin(USER, NEW), 'IMAP takes the new password');
  assert.not.ok(await imapLogin(USER, OLD), 'and refuses the old one');
  const res = await fetch(`${base}/api/v1/mailbox/me`, { headers: { Cookie: `wm_console=${cookie!.value}` } });
  assert.is(res.status, 401, 'the session opened with the old password has ended');
  assert.equal(problems.filter((p) => !/status of 422/.test(p)), [], 'no console error or CSP violation (the refused change is a 422)');
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

test('owner logins are throttled like IMAP (the same per-account counter), and an app key is not a console password', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  for (let i = 0; i < 3; i++) assert.is(await login(page, 'other@account.test', `wrong ${i}`), 401);
  assert.is(await login(page, 'other@account.test', 'other password 3'), 429, 'blocked after the limit, even with the right password');
  assert.match(await page.textContent('[role=alert]') ?? '', /Too many failed logins/);
  assert.not.ok(await imapLogin('other@account.test', 'other password 3'), 'IMAP is blocked for the account too');
  await context.close();
});

test.run();
