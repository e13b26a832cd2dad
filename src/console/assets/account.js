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

const pages = { overview: { title: 'Mailbox', render: overview }, password: { title: 'Password', render: password }, apps: { title: 'App passwords', render: apps }, setup: { title: 'Client setup', render: setup } };
await router(pages, 'overview');
