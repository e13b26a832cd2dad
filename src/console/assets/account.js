// The mailbox owner's console: the session acts as a mailbox key of this one mailbox, through the
// same /api/v1/mailbox/… routes a mail app uses.
import qrcode from '/console/vendor/qrcode.js';
import { api, attempt, copyButton, field, form, h, quotaBar, router, secretBox, table, toast, when, writeButton } from './lib.js';

const me = (await api('GET', '/mailbox/me')).data;
document.getElementById('who').textContent = me.email;

async function overview(el) {
  const m = (await api('GET', '/mailbox/me')).data;
  const folders = (await api('GET', '/mailbox/folders')).data;
  el.append(h('h1', {}, m.email),
    h('div.cards', {},
      h('div.card', {}, h('div.n', {}, String(folders.reduce((n, f) => n + f.total, 0))), h('div.l', {}, 'Messages')),
      h('div.card', {}, h('div.n', {}, String(folders.reduce((n, f) => n + f.unread, 0))), h('div.l', {}, 'Unread'))),
    h('section.panel', {}, h('h2', {}, 'Storage'), quotaBar(m.quota_used_bytes, m.quota_bytes)),
    h('section.panel', {}, h('h2', {}, 'Folders'), table(['Folder', 'Messages', 'Unread'], folders.map((f) => h('tr', {}, h('td', {}, f.name), h('td', {}, String(f.total)), h('td', {}, String(f.unread)))))));
}

async function password(el) {
  el.append(h('h1', {}, 'Change password'), h('p.muted', {}, 'Mail apps using the old password must be updated; app keys keep working.'),
    form([
      field('Current password', 'current_password', { type: 'password', required: true, autocomplete: 'current-password' }),
      field('New password (8 characters or more)', 'new_password', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
      field('New password again', 'again', { type: 'password', required: true, minlength: 8, autocomplete: 'new-password' }),
    ], 'Change password', async (v, formEl) => {
      if (v.new_password !== v.again) return toast('The two new passwords differ', true);
      const done = await attempt(() => api('PUT', '/mailbox/password', { current_password: v.current_password, new_password: v.new_password }));
      if (!done) return;
      formEl.reset();
      // The session stood for the old password: it has ended, so log in again.
      location.assign('/account/login');
    }, { 'aria-label': 'Change password' }));
}

async function apps(el) {
  el.append(h('h1', {}, 'App passwords'), h('p.muted', {}, 'Give each mail app its own key: revoke one without changing your password.'));
  const shown = h('div');
  const panel = h('section.panel');
  el.append(form([field('App name', 'app_name', { required: true, placeholder: 'Phone' })], 'Create app password', async ({ app_name }, formEl) => {
    const minted = await attempt(() => api('POST', '/mailbox/keys', { app_name }));
    if (!minted) return;
    formEl.reset();
    const c = minted.data.imap_smtp_credentials;
    shown.replaceChildren(secretBox(`App password for ${app_name}: shown once`, [['Username', c.username], ['Password', c.password], ['Server', c.server], ['IMAP port (TLS)', c.imap_port], ['SMTP port (STARTTLS)', c.smtp_port]]));
    await list();
  }, { 'aria-label': 'Create an app password' }), shown, panel);
  const list = async () => {
    const keys = (await api('GET', '/mailbox/keys?limit=100')).data;
    panel.replaceChildren(keys.length ? table(['App', 'Prefix', 'Created', 'Last used', ''], keys.map((k) => h('tr', {}, h('td', {}, k.app_name), h('td.mono', {}, k.key_prefix), h('td', {}, when(k.created_at)), h('td', {}, when(k.last_used_at)),
      h('td', {}, writeButton('Revoke', async () => { if (await attempt(() => api('DELETE', `/mailbox/keys/${k.public_id}`), `Revoked ${k.app_name}`)) await list(); }, 'danger'))))) : h('p.muted', {}, 'No app passwords yet.'));
  };
  await list();
}

/** What the Thunderbird autoconfig document (served to any client) says, read back here. */
async function settings() {
  const res = await fetch(`/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(me.email)}`);
  if (!res.ok) return [];
  const xml = new DOMParser().parseFromString(await res.text(), 'application/xml');
  return [...xml.querySelectorAll('incomingServer, outgoingServer')].map((s) => ({
    kind: s.localName === 'incomingServer' ? s.getAttribute('type').toUpperCase() : 'SMTP',
    host: s.querySelector('hostname')?.textContent, port: s.querySelector('port')?.textContent, security: s.querySelector('socketType')?.textContent,
  }));
}

async function setup(el) {
  const origin = location.origin;
  const links = {
    thunderbird: `${origin}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(me.email)}`,
    apple: `${origin}/apple/mobileconfig?email=${encodeURIComponent(me.email)}`,
  };
  el.append(h('h1', {}, 'Set up a mail app'));
  const servers = await settings();
  el.append(h('section.panel', {}, h('h2', {}, 'Server settings'), h('p', {}, 'Username: ', h('span.mono', {}, me.login), ' ', copyButton(me.login)),
    servers.length ? table(['Protocol', 'Server', 'Port', 'Security'], servers.map((s) => h('tr', {}, h('td', {}, s.kind), h('td.mono', {}, s.host), h('td', {}, s.port), h('td', {}, s.security)))) : h('p.muted', {}, 'No mail service announced.')));
  const qr = qrcode(0, 'M');
  qr.addData(links.apple);
  qr.make();
  el.append(h('section.panel', {}, h('h2', {}, 'Apple Mail (iPhone, iPad, Mac)'),
    h('p', {}, 'Scan with the camera, or ', h('a', { href: links.apple }, 'download the profile'), '.'),
    h('div.qr', {}, h('img', { src: qr.createDataURL(6, 2), alt: `QR code for ${links.apple}` }))));
  el.append(h('section.panel', {}, h('h2', {}, 'Thunderbird, Outlook and others'),
    h('p', {}, 'Thunderbird finds the settings by itself (autoconfig); Outlook asks the server (autodiscover). The document: ', h('a.mono', { href: links.thunderbird }, links.thunderbird), ' ', copyButton(links.thunderbird))));
}

// Vacation and forwarding are one Sieve script (RFC 5228) made here from a small settings object kept
// in its first line, so the two pages edit it without parsing Sieve. A script written some other
// way (the operator's, or ManageSieve's) is shown and replaced only when the owner agrees.
const MARK = '# wrenmail-console ';
/** Renders the current page again (after a save). */
const reload = () => window.dispatchEvent(new HashChangeEvent('hashchange'));
const quote = (text) => `"${String(text).replace(/[\\"]/g, (c) => `\\${c}`)}"`;

async function sieveSettings() {
  const current = await api('GET', '/mailbox/sieve').catch((err) => { if (err.status === 404) return null; throw err; });
  const script = current?.data.script ?? '';
  if (!script) return { settings: {}, custom: null };
  if (script.startsWith(MARK)) {
    try { return { settings: JSON.parse(script.slice(MARK.length, script.indexOf('\n'))), custom: null }; } catch { /* hand-edited: treat as custom */ }
  }
  return { settings: {}, custom: script };
}

function scriptOf(settings) {
  const { vacation, forward } = settings;
  const needs = [];
  const body = [];
  if (vacation?.on) {
    needs.push('"vacation"');
    body.push(`vacation :days ${Math.max(1, Number(vacation.days) || 7)} :subject ${quote(vacation.subject || 'Away')} ${quote(vacation.message)};`);
  }
  if (forward?.on && forward.to.length) {
    if (forward.keep) needs.push('"copy"');
    for (const to of forward.to) body.push(`redirect${forward.keep ? ' :copy' : ''} ${quote(to)};`);
  }
  if (!body.length) return null;
  return `${MARK}${JSON.stringify(settings)}\n${needs.length ? `require [${needs.join(', ')}];\n` : ''}${body.join('\n')}\n`;
}

/** Saves the settings (or deletes the script when nothing is on); false when the owner kept a custom script. */
async function saveSieve(settings, custom) {
  if (custom && !confirm('Your mailbox has a Sieve script written elsewhere. Replace it?')) return false;
  const script = scriptOf(settings);
  if (script) return !!(await attempt(() => api('PUT', '/mailbox/sieve', { script, active: true }), 'Saved'));
  return !!(await attempt(() => api('DELETE', '/mailbox/sieve').catch((err) => { if (err.status !== 404) throw err; }), 'Saved'));
}

const customNotice = (custom) => (custom ? h('section.panel', {}, h('h2', {}, 'Your current filter script'), h('p.muted', {}, 'Saving here replaces it.'), h('pre', { tabindex: 0 }, custom)) : '');

async function vacation(el) {
  const { settings, custom } = await sieveSettings();
  const v = settings.vacation ?? { on: false, subject: 'Away', message: '', days: 7 };
  const message = h('textarea', { name: 'message', rows: 5, required: true });
  message.value = v.message;
  el.append(h('h1', {}, 'Vacation reply'), h('p.muted', {}, 'An automatic answer to people who write to you, at most once per sender in the days you choose (RFC 5230).'),
    form([
      h('label.check', {}, h('input', { type: 'checkbox', name: 'on', checked: v.on }), h('span', {}, 'Send a vacation reply')),
      field('Subject', 'subject', { value: v.subject, required: true }),
      h('label', {}, 'Message', message),
      field('Days between replies to one sender', 'days', { type: 'number', min: 1, max: 365, value: String(v.days) }),
    ], 'Save', async (f) => {
      const next = { ...settings, vacation: { on: f.on === 'on', subject: f.subject, message: f.message, days: Number(f.days) || 7 } };
      if (await saveSieve(next, custom)) reload();
    }, { 'aria-label': 'Vacation reply', class: 'stack' }), customNotice(custom));
}

async function forwarding(el) {
  const { settings, custom } = await sieveSettings();
  const fw = settings.forward ?? { on: false, to: [], keep: true };
  el.append(h('h1', {}, 'Forwarding'), h('p.muted', {}, 'Send a copy of each new message on to other addresses.'),
    form([
      h('label.check', {}, h('input', { type: 'checkbox', name: 'on', checked: fw.on }), h('span', {}, 'Forward my mail')),
      field('To (addresses, comma-separated)', 'to', { value: fw.to.join(', '), size: 40 }),
      h('label.check', {}, h('input', { type: 'checkbox', name: 'keep', checked: fw.keep }), h('span', {}, 'Keep a copy here')),
    ], 'Save', async (f) => {
      const to = (f.to ?? '').split(/[\s,]+/).map((a) => a.trim()).filter(Boolean);
      if (f.on === 'on' && !to.length) return toast('Give at least one address to forward to', true);
      const next = { ...settings, forward: { on: f.on === 'on', to, keep: f.keep === 'on' } };
      if (await saveSieve(next, custom)) reload();
    }, { 'aria-label': 'Forwarding', class: 'stack' }), customNotice(custom));
}

/** Sender allow/deny lists of this mailbox (refused at RCPT, so nothing bounces). */
async function spam(el) {
  const current = (await api('GET', '/mailbox/filters')).data;
  const listOf = (type) => current.rules.filter((r) => r.type === type).map((r) => r.pattern).join('\n');
  const deny = h('textarea', { name: 'deny', rows: 5, placeholder: 'spammer@example.com\n@annoying.example' });
  deny.value = listOf('deny');
  const allow = h('textarea', { name: 'allow', rows: 5, placeholder: 'friend@example.com' });
  allow.value = listOf('allow');
  el.append(h('h1', {}, 'Spam settings'), h('p.muted', {}, 'Messages the server thinks are spam go to your Junk folder. Here you can refuse senders outright, or accept only the ones you list. A pattern is an address, @domain (and its subdomains), or uses * as a wildcard.'),
    form([
      h('label', {}, 'Mode', h('select', { name: 'mode' },
        h('option', { value: 'off', selected: current.mode === 'off' }, 'Off (the domain\'s rules apply)'),
        h('option', { value: 'denylist', selected: current.mode === 'denylist' }, 'Refuse the blocked senders'),
        h('option', { value: 'allowlist', selected: current.mode === 'allowlist' }, 'Accept only the allowed senders'))),
      h('label', {}, 'Blocked senders (one per line)', deny),
      h('label', {}, 'Allowed senders (one per line, always accepted)', allow),
    ], 'Save', async (f) => {
      const lines = (text) => (text ?? '').split(/\s+/).map((p) => p.trim()).filter(Boolean);
      const rules = [...lines(f.allow).map((pattern) => ({ pattern, type: 'allow' })), ...lines(f.deny).map((pattern) => ({ pattern, type: 'deny' }))];
      await attempt(() => api('PUT', '/mailbox/filters', { mode: f.mode, rules }), 'Saved');
    }, { 'aria-label': 'Spam settings', class: 'stack' }));
}

const pages = {
  overview: { title: 'Mailbox', render: overview }, password: { title: 'Password', render: password }, apps: { title: 'App passwords', render: apps },
  vacation: { title: 'Vacation', render: vacation }, forwarding: { title: 'Forwarding', render: forwarding }, spam: { title: 'Spam', render: spam },
  setup: { title: 'Client setup', render: setup },
};
await router(pages, 'overview');
