// The operator console. Every read and write is an /api/v1 call any client could make; a control
// that writes is shown only when the session's permissions cover the route's (a root:readonly key
// sees every page and no write control).
import uPlot from '/console/vendor/uplot.js';
import { all, api, attempt, badge, bytes, copyButton, covers, field, form, h, quotaBar, router, secretBox, table, when, writeButton } from './lib.js';

const me = (await api('GET', '/me')).data;
const can = (permission) => covers(me.permissions, permission);
document.getElementById('who').textContent = `${me.key.name} (${me.key.role ?? me.permissions.join(', ')})`;

const statusKind = { verified: 'ok', active: 'ok', succeeded: 'ok', sent: 'ok', done: 'ok', delivered: 'ok', ok: 'ok', pending: 'warn', queued: 'warn', deferred: 'warn', suspended: 'bad', failed: 'bad', revoked: 'bad', missing: 'bad', mismatch: 'bad', error: 'bad', cancelled: 'none', expired: 'none' };
const status = (s) => badge(s ?? 'not checked', statusKind[s] ?? 'none');

/** Prometheus text → { name: sum over label sets, 'name{a="b"}': value }. */
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    out[m[1]] = (out[m[1]] ?? 0) + value;
    if (m[2]) out[m[1] + m[2]] = value;
  }
  return out;
}

async function overview(el) {
  el.append(h('h1', {}, 'Overview'));
  const cards = h('div.cards', { 'data-counters': true });
  el.append(cards);
  const card = (label, value, name) => cards.append(h('div.card', { 'data-counter': name }, h('div.n', {}, String(value)), h('div.l', {}, label)));
  if (can('analytics.read')) {
    const m = (await api('GET', '/emails/metrics?window=24h')).data;
    card('Received (24 h)', m.summary.received, 'received');
    card('Sent (24 h)', m.summary.sent, 'sent');
    card('Failed (24 h)', m.summary.failed, 'failed');
    card('Deferred (24 h)', m.summary.deferred, 'deferred');
    const chart = h('div.chart', { 'aria-label': 'Messages per hour, last 24 hours', role: 'img' });
    el.append(h('section.panel', {}, h('h2', {}, 'Messages per hour'), chart));
    const xs = m.timeseries.map((p) => Date.parse(p.timestamp) / 1000);
    const data = [xs, m.timeseries.map((p) => p.received), m.timeseries.map((p) => p.sent), m.timeseries.map((p) => p.failed)];
    new uPlot({
      width: Math.min(1000, (document.getElementById('main').clientWidth || 900) - 60), height: 200,
      series: [{}, { label: 'Received', stroke: '#1f5f99', width: 2 }, { label: 'Sent', stroke: '#1b7a3a', width: 2 }, { label: 'Failed', stroke: '#b3261e', width: 2 }],
      axes: [{}, { size: 40 }],
    }, data, chart);
  }
  if (can('server.metrics.read')) {
    const p = parseMetrics(await api('GET', '/metrics', undefined, { base: '', text: true }));
    card('Queue depth', p.wrenmail_queue_jobs ?? 0, 'queue');
    card('Spam caught', p['wrenmail_deliveries_total{direction="inbound",outcome="junk"}'] ?? 0, 'junk');
    card('Rejected', p['wrenmail_deliveries_total{direction="inbound",outcome="rejected"}'] ?? 0, 'rejected');
    card('Connections (since start)', p.wrenmail_connections_total ?? 0, 'connections');
    card('Connections open', p.wrenmail_connections_open ?? 0, 'open');
    card('Store on disk', bytes(p.wrenmail_leveldb_size_bytes ?? 0), 'disk');
  }
  if (can('server.read')) {
    const certs = (await api('GET', '/server/certificates')).data;
    if (certs.length) card(`Certificate expires (${certs[0].names[0] ?? 'default'})`, `${certs[0].days_left} days`, 'certificate');
    el.append(h('section.panel', { 'data-certificates': true }, h('h2', {}, 'TLS certificates'), table(['Names', 'Issuer', 'Valid until', 'Days left'], certs.map((c) => h('tr', {},
      h('td.mono', {}, c.names.join(', '), c.default ? h('span.muted', {}, ' (default)') : ''), h('td', {}, c.issuer), h('td', {}, when(c.not_after)),
      h('td', {}, badge(String(c.days_left), c.days_left < 0 ? 'bad' : c.days_left < 14 ? 'warn' : 'ok')))))));
  }
}

async function domains(el) {
  el.append(h('h1', {}, 'Domains'));
  if (can('domain.create')) {
    el.append(form([field('Domain name', 'domain', { required: true, placeholder: 'example.com' })], 'Add domain', async ({ domain }) => {
      const created = await attempt(() => api('POST', '/domains', { domain }), `Added ${domain}`);
      if (created) location.hash = `#/domain/${created.data.id}`;
    }, { 'aria-label': 'Add a domain' }));
  }
  const list = await all('/domains');
  el.append(h('section.panel', {}, list.length ? table(['Domain', 'Status', 'Mailboxes', 'Added'], list.map((d) =>
    h('tr', {}, h('td', {}, h('a', { href: `#/domain/${d.id}` }, d.domain)), h('td', {}, status(d.verification_status)), h('td', {}, String(d.mailbox_count)), h('td', {}, when(d.created_at))))) : h('p.muted', {}, 'No domains yet.')));
}

async function domain(el, id) {
  const d = (await api('GET', `/domains/${id}`)).data;
  el.append(h('p', {}, h('a', { href: '#/domains' }, '← Domains')), h('h1', {}, d.domain, ' ', status(d.verification_status)));
  const recordsPanel = h('section.panel', { 'data-records': true });
  const showRecords = (records) => recordsPanel.replaceChildren(h('h2', {}, 'DNS records to publish'), table(['Purpose', 'Type', 'Name', 'Value', 'Status'], records.map((r) =>
    h('tr', { 'data-record': r.type }, h('td', {}, r.purpose, r.required ? '' : h('span.muted', {}, ' (optional)')), h('td', {}, r.type), h('td.mono', {}, r.name, ' ', copyButton(r.name)),
      h('td.mono', {}, r.priority !== null ? `${r.priority} ` : '', r.value, ' ', copyButton(r.value)), h('td', {}, status(r.status))))));
  showRecords(d.dns_records);
  const actions = h('div.row-actions', {}, h('button.secondary', { type: 'button', onclick: async () => {
    const checked = await attempt(() => api('GET', `/domains/${id}/dns-records?check=true`));
    if (checked) showRecords(checked.data);
  } }, 'Check records now'));
  if (can('domain.verify')) actions.append(writeButton('Verify', async () => {
    const v = await attempt(() => api('POST', `/domains/${id}/verify`), 'Verification ran');
    if (v) showRecords(v.data.checks);
  }));
  el.append(actions, recordsPanel);
  const zone = await api('GET', `/domains/${id}/zone-file`, undefined, { text: true });
  el.append(h('section.panel', {}, h('h2', {}, 'BIND zone file'), copyButton(zone, 'Copy zone'), h('pre', { tabindex: 0, 'data-zone': true }, zone)));
  const dkim = (await api('GET', `/domains/${id}/dkim`)).data;
  el.append(h('section.panel', {}, h('h2', {}, 'DKIM keys'), table(['Selector', 'Algorithm', 'Status', 'Created', ''], dkim.map((k) =>
    h('tr', {}, h('td.mono', {}, k.selector), h('td', {}, k.algorithm), h('td', {}, status(k.status)), h('td', {}, when(k.created_at)),
      h('td', {}, can('domain.update') && k.status === 'active' ? writeButton('Rotate', async () => {
        if (await attempt(() => api('POST', `/domains/${id}/dkim/${k.id}/rotate`), 'New key made: publish it, then it takes over')) location.reload();
      }) : ''))))));
}

/** Mint an app key for a mailbox: an inline form (no prompt()), the settings shown once in `shown`. */
const appKeyForm = (m, shown, after) => form([field('App name', 'app_name', { required: true, value: 'Mail app', 'aria-label': `App name for ${m.email}`, size: 10 })], 'New app key', async ({ app_name }) => {
  const minted = await attempt(() => api('POST', `/mailboxes/${m.id}/keys`, { app_name }));
  if (!minted) return;
  const c = minted.data.imap_smtp_credentials;
  shown.replaceChildren(secretBox(`App key for ${c.username}: shown once`, [
    ['Username', c.username], ['Password (app key)', c.password], ['Server', c.server], ['IMAP port (TLS)', c.imap_port], ['SMTP port (STARTTLS)', c.smtp_port],
  ]));
  await after?.();
}, { 'aria-label': `New app key for ${m.email}` });

/** One mailbox: aliases, app keys (last used), its Sieve script (vacation, forwarding, filing). */
async function mailbox(el, id) {
  const m = (await api('GET', `/mailboxes/${id}`)).data;
  const manage = can('mailbox.admin.manage');
  el.append(h('p', {}, h('a', { href: '#/mailboxes' }, '← Mailboxes')), h('h1', {}, m.email, ' ', status(m.status)),
    h('section.panel', {}, h('h2', {}, 'Storage'), quotaBar(m.used_bytes, m.quota_bytes)));

  const aliases = h('section.panel', { 'data-aliases': true });
  const showAliases = async () => {
    const list = (await api('GET', `/mailboxes/${id}/aliases`)).data;
    aliases.replaceChildren(h('h2', {}, 'Aliases'),
      list.length ? table(['Address', ''], list.map((a) => h('tr', { 'data-alias': a.address }, h('td', {}, a.address),
        h('td', {}, manage ? writeButton('Remove', async () => { if (await attempt(() => api('DELETE', `/mailboxes/${id}/aliases/${encodeURIComponent(a.address)}`), `Removed ${a.address}`)) await showAliases(); }, 'danger') : '')))) : h('p.muted', {}, 'No aliases.'),
      manage ? form([field('Alias address', 'address', { type: 'email', required: true })], 'Add alias', async ({ address }) => {
        if (await attempt(() => api('POST', `/mailboxes/${id}/aliases`, { address }), `Added ${address}`)) await showAliases();
      }, { 'aria-label': 'Add an alias' }) : '');
  };
  await showAliases();
  el.append(aliases);

  const shown = h('div');
  const keysPanel = h('section.panel', { 'data-app-keys': true });
  const showKeys = async () => {
    const list = (await api('GET', `/mailboxes/${id}/keys?limit=100`)).data;
    keysPanel.replaceChildren(h('h2', {}, 'App keys'),
      list.length ? table(['App', 'Prefix', 'Created', 'Last used', ''], list.map((k) => h('tr', { 'data-app-key': k.app_name }, h('td', {}, k.app_name), h('td.mono', {}, k.key_prefix), h('td', {}, when(k.created_at)), h('td', {}, when(k.last_used_at)),
        h('td', {}, manage ? writeButton('Revoke', async () => { if (await attempt(() => api('DELETE', `/mailboxes/${id}/keys/${k.public_id}`), `Revoked ${k.app_name}`)) await showKeys(); }, 'danger') : '')))) : h('p.muted', {}, 'No app keys.'),
      manage && m.status === 'active' ? appKeyForm(m, shown, showKeys) : '', shown);
  };
  await showKeys();
  el.append(keysPanel);

  const sieve = h('section.panel', { 'data-sieve': true });
  const showSieve = async () => {
    const current = await api('GET', `/mailboxes/${id}/sieve`).catch((err) => { if (err.status === 404) return null; throw err; });
    const script = current?.data.script ?? '';
    sieve.replaceChildren(h('h2', {}, 'Sieve script (filters, vacation, forwarding)'),
      h('p.muted.small', {}, current ? (current.data.active ? 'Active: runs on every delivery.' : 'Inactive.') : 'No script.', ' Extensions: ', (current?.data.extensions ?? ['fileinto', 'vacation', 'copy']).join(', ')));
    if (!manage) {
      sieve.append(h('pre', { tabindex: 0, 'data-script': true }, script || '—'));
      return;
    }
    const area = h('textarea.code', { name: 'script', rows: 10, 'aria-label': 'Sieve script', spellcheck: 'false' });
    area.value = script || 'require ["vacation"];\nvacation :days 7 :subject "Away" "I am away until Monday.";\n';
    sieve.append(form([area], 'Save script', async ({ script: text }) => {
      if (await attempt(() => api('PUT', `/mailboxes/${id}/sieve`, { script: text }), 'Script saved')) await showSieve();
    }, { 'aria-label': 'Sieve script', class: 'stack' }));
    if (current) sieve.append(h('div.row-actions', {},
      writeButton(current.data.active ? 'Deactivate' : 'Activate', async () => { if (await attempt(() => api('POST', `/mailboxes/${id}/sieve/${current.data.active ? 'deactivate' : 'activate'}`))) await showSieve(); }),
      writeButton('Delete script', async () => { if (confirm('Delete the Sieve script?') && (await attempt(() => api('DELETE', `/mailboxes/${id}/sieve`), 'Script deleted'))) await showSieve(); }, 'danger')));
  };
  await showSieve();
  el.append(sieve);
}

const PAGE = 25;
async function mailboxes(el) {
  el.append(h('h1', {}, 'Mailboxes'));
  const shown = h('div');
  if (can('mailbox.admin.create')) {
    el.append(form([
      field('Email address', 'email', { type: 'email', required: true }),
      field('Display name', 'display_name'),
      field('Quota (MiB, 0 = unlimited)', 'quota', { type: 'number', min: 0, value: '0' }),
      field('Password (empty: generate)', 'password', { type: 'password', autocomplete: 'new-password' }),
    ], 'Create mailbox', async (v, formEl) => {
      const body = { email: v.email, quota_bytes: Number(v.quota || 0) * 1024 * 1024 };
      if (v.display_name) body.display_name = v.display_name;
      if (v.password) body.password = v.password;
      const created = await attempt(() => api('POST', '/mailboxes', body), `Created ${v.email}`);
      if (!created) return;
      formEl.reset();
      const c = created.data.credential;
      shown.replaceChildren(secretBox(`Mailbox ${created.data.mailbox.email} created${c.password ? ': the password is shown once' : ''}`, [
        ['Username', c.username], ...(c.password ? [['Password', c.password]] : []), ['Server', c.server], ['IMAP port (TLS)', c.imap_port], ['SMTP port (STARTTLS)', c.smtp_port],
      ]));
      await render();
    }, { 'aria-label': 'Create a mailbox' }));
  }
  const search = h('input', { type: 'search', placeholder: 'Search by address or name', 'aria-label': 'Search mailboxes' });
  const listEl = h('section.panel');
  el.append(shown, h('div.inline', {}, search), listEl);
  let list = [];
  let offset = 0;
  const render = async (reload = true) => {
    if (reload) list = await all('/mailboxes');
    const q = search.value.trim().toLowerCase();
    const matches = list.filter((m) => !q || m.email.includes(q) || (m.display_name ?? '').toLowerCase().includes(q));
    offset = Math.min(offset, Math.max(0, matches.length - 1 - ((matches.length - 1) % PAGE)));
    const page = matches.slice(offset, offset + PAGE);
    const rows = page.map((m) => h('tr', { 'data-mailbox': m.email },
      h('td', {}, h('a', { href: `#/mailbox/${m.id}` }, m.email), m.display_name ? h('div.muted.small', {}, m.display_name) : ''),
      h('td', {}, status(m.status)),
      h('td', {}, quotaBar(m.used_bytes, m.quota_bytes)),
      h('td', {}, m.aliases.join(', ') || '—'),
      h('td', {}, can('mailbox.admin.manage') ? h('div.row-actions', {},
        writeButton(m.status === 'active' ? 'Suspend' : 'Resume', async () => {
          if (await attempt(() => api('POST', `/mailboxes/${m.id}/${m.status === 'active' ? 'suspend' : 'resume'}`), `${m.email} ${m.status === 'active' ? 'suspended' : 'resumed'}`)) await render();
        }, m.status === 'active' ? 'danger' : 'secondary'),
        m.status === 'active' ? appKeyForm(m, shown) : '') : '')));
    listEl.replaceChildren(
      matches.length ? table(['Address', 'Status', 'Storage', 'Aliases', ''], rows) : h('p.muted', {}, q ? 'No mailbox matches.' : 'No mailboxes yet.'),
      h('div.row-actions', {},
        h('span.muted.small', {}, matches.length ? `${offset + 1}–${offset + page.length} of ${matches.length}` : ''),
        offset > 0 ? h('button.secondary', { type: 'button', onclick: () => { offset -= PAGE; render(false); } }, 'Previous') : '',
        offset + PAGE < matches.length ? h('button.secondary', { type: 'button', onclick: () => { offset += PAGE; render(false); } }, 'Next') : ''));
  };
  search.addEventListener('input', () => { offset = 0; render(false); });
  await render();
}

const ROOT_ROLES = ['root:readonly', 'root:full', 'root:webhook_admin', 'root:provider_admin', 'root:billing_admin', 'root:server_admin'];
async function keys(el) {
  el.append(h('h1', {}, 'API keys'));
  const shown = h('div');
  if (can('apikey.create')) {
    el.append(form([
      field('Name', 'name', { required: true }),
      h('label', {}, 'Preset', h('select', { name: 'role' }, ROOT_ROLES.map((r) => h('option', { value: r }, r)))),
    ], 'Create key', async ({ name, role }) => {
      const created = await attempt(() => api('POST', '/api-keys', { name, type: 'root', role }));
      if (!created) return;
      shown.replaceChildren(secretBox(`Key ${name} created: the secret is shown once`, [['Secret', created.data.secret]]));
      await list();
    }, { 'aria-label': 'Create an API key' }));
  }
  const panel = h('section.panel');
  el.append(shown, panel);
  const list = async () => {
    const items = await all('/api-keys');
    panel.replaceChildren(table(['Name', 'Type', 'Role', 'Prefix', 'Status', 'Last used', ''], items.map((k) => h('tr', { 'data-key': k.name },
      h('td', {}, k.name), h('td', {}, k.type), h('td', {}, k.role ?? k.permissions.join(', ')), h('td.mono', {}, k.key_prefix), h('td', {}, status(k.status)), h('td', {}, when(k.last_used_at)),
      h('td', {}, k.status === 'active' && k.id !== me.key.id ? h('div.row-actions', {},
        can('apikey.update') ? writeButton('Rotate', async () => {
          if (!confirm(`Rotate ${k.name}? The old secret stops working at once.`)) return;
          const rotated = await attempt(() => api('POST', `/api-keys/${k.id}/rotate`));
          if (!rotated) return;
          shown.replaceChildren(secretBox(`Key ${k.name} rotated: the new secret is shown once; the old one works until you revoke it`, [['Secret', rotated.data.secret]]));
          await list();
        }) : '',
        can('apikey.delete') ? writeButton('Revoke', async () => {
          if (confirm(`Revoke ${k.name}? Apps using it stop working at once.`) && (await attempt(() => api('DELETE', `/api-keys/${k.id}`), `Revoked ${k.name}`))) await list();
        }, 'danger') : '') : '')))));
  };
  await list();
}

async function webhooks(el) {
  el.append(h('h1', {}, 'Webhooks'));
  const shown = h('div');
  if (can('webhook.create')) {
    el.append(form([field('URL', 'url', { type: 'url', required: true, placeholder: 'https://…' }), field('Events (comma-separated, * for all)', 'events', { value: '*' })], 'Add webhook', async ({ url, events }) => {
      const created = await attempt(() => api('POST', '/webhooks', { url, event_types: events.split(',').map((s) => s.trim()).filter(Boolean) }));
      if (!created) return;
      shown.replaceChildren(secretBox('Webhook created: its signing secret is shown once', [['Signing secret', created.data.secret]]));
      await list();
    }, { 'aria-label': 'Add a webhook' }));
  }
  const panel = h('section.panel');
  el.append(shown, panel);
  const list = async () => {
    const items = await all('/webhooks');
    panel.replaceChildren(items.length ? table(['URL', 'Events', 'State', ''], items.map((w) => h('tr', { 'data-webhook': w.url },
      h('td.mono', {}, h('a', { href: `#/webhook/${w.id}` }, w.url)), h('td', {}, w.event_types.join(', ')), h('td', {}, w.failing ? badge('failing', 'bad') : w.enabled ? badge('enabled', 'ok') : badge('disabled', 'none')),
      h('td', {}, h('div.row-actions', {}, can('webhook.manage') ? writeButton('Send test', async () => {
        if (await attempt(() => api('POST', `/webhooks/${w.id}/test`), 'Test event queued')) location.hash = `#/webhook/${w.id}`;
      }) : '', h('a', { href: `#/webhook/${w.id}` }, 'Deliveries')))))) : h('p.muted', {}, 'No webhooks yet.'));
  };
  await list();
}

async function webhook(el, id) {
  const w = (await api('GET', `/webhooks/${id}`)).data;
  el.append(h('p', {}, h('a', { href: '#/webhooks' }, '← Webhooks')), h('h1', {}, 'Deliveries to ', h('span.mono', {}, w.url)));
  const payload = h('div');
  const panel = h('section.panel');
  el.append(h('div.row-actions', {}, h('button.secondary', { type: 'button', onclick: () => list() }, 'Refresh')), panel, payload);
  const list = async () => {
    const items = (await api('GET', `/webhooks/${id}/deliveries?limit=50`)).data;
    panel.replaceChildren(items.length ? table(['Event', 'Status', 'Attempts', 'Last reply', 'Created', ''], items.map((d) => h('tr', { 'data-delivery': d.id },
      h('td', {}, d.event_type, d.replay_of ? h('div.muted.small', {}, `replay of ${d.replay_of}`) : ''), h('td', {}, status(d.status)), h('td', {}, String(d.attempt_count)),
      h('td', {}, d.attempts.at(-1) ? `${d.attempts.at(-1).status_code ?? d.attempts.at(-1).error ?? ''}` : '—'), h('td', {}, when(d.created_at)),
      h('td', {}, h('div.row-actions', {},
        h('button.secondary', { type: 'button', onclick: async () => {
          const text = await attempt(() => api('GET', `/webhooks/${id}/deliveries/${d.id}/payload`, undefined, { text: true }));
          if (text !== undefined) payload.replaceChildren(h('section.panel', {}, h('h2', {}, `Payload of ${d.id}`), h('pre', { tabindex: 0 }, text)));
        } }, 'Payload'),
        can('webhook.manage') ? writeButton('Replay', async () => {
          if (await attempt(() => api('POST', `/webhooks/${id}/deliveries/${d.id}/replay`), 'Replay queued')) await list();
        }) : ''))))) : h('p.muted', {}, 'No deliveries yet.'));
  };
  await list();
}

async function queue(el) {
  el.append(h('h1', {}, 'Outbound queue'));
  const panel = h('section.panel');
  el.append(panel);
  const list = async () => {
    const jobs = (await api('GET', '/queue/messages?limit=100')).data;
    panel.replaceChildren(jobs.length ? table(['From', 'Domain', 'Status', 'Recipients (last reply)', 'Next attempt', ''], jobs.map((j) => h('tr', {},
      h('td', {}, j.from), h('td', {}, j.domain), h('td', {}, status(j.status)),
      h('td', {}, j.recipients.map((r) => h('div', {}, r.address, ' ', status(r.status), r.response ? h('div.muted.small.mono', {}, r.response) : ''))),
      h('td', {}, when(j.next_attempt_at)),
      h('td', {}, j.status === 'queued' && can('queue.manage') ? h('div.row-actions', {},
        writeButton('Retry now', async () => { if (await attempt(() => api('POST', `/queue/messages/${j.id}/retry`), 'Retrying')) await list(); }),
        writeButton('Cancel', async () => { if (confirm('Cancel this message?') && (await attempt(() => api('DELETE', `/queue/messages/${j.id}`), 'Cancelled'))) await list(); }, 'danger')) : '')))) : h('p.muted', {}, 'The queue is empty.'));
  };
  await list();
}

/** Delivery logs with the filters /inboxes/logs and /emails/logs take (search, dates, status, spam only). */
async function logs(el) {
  el.append(h('h1', {}, 'Delivery logs'));
  const results = h('div');
  const dayStart = (d, end = false) => (d ? new Date(`${d}T00:00:00Z`).getTime() + (end ? 86400_000 : 0) : undefined);
  const show = async (f = {}) => {
    const q = new URLSearchParams({ limit: '50' });
    if (f.search) q.set('search', f.search);
    if (f.from) q.set('from_date', new Date(dayStart(f.from)).toISOString());
    if (f.to) q.set('to_date', new Date(dayStart(f.to, true)).toISOString());
    const iq = new URLSearchParams(q);
    if (f.spam === 'on') iq.set('event_type', 'message.received.spam');
    const oq = new URLSearchParams(q);
    if (f.status) oq.set('status', f.status);
    const inbound = f.direction === 'out' ? [] : (await api('GET', `/inboxes/logs?${iq}`)).data;
    const outbound = f.direction === 'in' ? [] : (await api('GET', `/emails/logs?${oq}`)).data;
    results.replaceChildren(
      f.direction === 'out' ? '' : h('section.panel', { 'data-log': 'received' }, h('h2', {}, 'Received'), inbound.length ? table(['When', 'From', 'To', 'Subject', 'Folder', 'Spam score'], inbound.map((l) => h('tr', {},
        h('td', {}, when(l.received_at)), h('td', {}, l.from_email), h('td', {}, l.mailbox_email ?? l.to_emails.join(', ')), h('td', {}, l.subject), h('td', {}, l.is_spam ? badge(l.folder, 'warn') : l.folder), h('td', {}, l.spam_score === null ? '—' : l.spam_score.toFixed(1))))) : h('p.muted', {}, 'Nothing received matches.')),
      f.direction === 'in' ? '' : h('section.panel', { 'data-log': 'sent' }, h('h2', {}, 'Sent'), outbound.length ? table(['When', 'From', 'To', 'Subject', 'Status'], outbound.map((l) => h('tr', {},
        h('td', {}, when(l.sent_at)), h('td', {}, l.from_email), h('td', {}, l.to_email), h('td', {}, l.subject), h('td', {}, status(l.status), l.status_reason ? h('div.muted.small', {}, l.status_reason) : '')))) : h('p.muted', {}, 'Nothing sent matches.')));
  };
  // A read-only filter form: not a write control, so a readonly key has it too.
  const filters = h('form.inline', { 'aria-label': 'Filter the logs', role: 'search' },
    field('Search', 'search', { type: 'search', placeholder: 'address or subject' }),
    h('label', {}, 'Direction', h('select', { name: 'direction' }, h('option', { value: '' }, 'both'), h('option', { value: 'in' }, 'received'), h('option', { value: 'out' }, 'sent'))),
    h('label', {}, 'Sent status', h('select', { name: 'status' }, h('option', { value: '' }, 'any'), ['pending', 'sent', 'failed'].map((v) => h('option', { value: v }, v)))),
    h('label', {}, h('span', {}, 'Spam only'), h('input', { type: 'checkbox', name: 'spam' })),
    field('From (UTC day)', 'from', { type: 'date' }), field('To (UTC day)', 'to', { type: 'date' }),
    h('button', { type: 'submit' }, 'Filter'));
  filters.addEventListener('submit', async (event) => {
    event.preventDefault();
    await attempt(() => show(Object.fromEntries(new FormData(filters))));
  });
  el.append(filters, results);
  await show();
}

async function lists(el) {
  el.append(h('h1', {}, 'Lists and forwarders'), h('p.muted', {}, 'A list delivers to several mailboxes; a forwarder sends on to addresses elsewhere. One address can do both.'));
  const mailboxesById = new Map((await all('/mailboxes')).map((m) => [m.id, m.email]));
  const byEmail = new Map([...mailboxesById].map(([id, email]) => [email, id]));
  const split = (text) => (text ?? '').split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter(Boolean);
  const body = (v) => {
    const addresses = split(v.members);
    return { name: v.name, email: v.email, members: addresses.filter((a) => byEmail.has(a)).map((a) => byEmail.get(a)), external_members: addresses.filter((a) => !byEmail.has(a)) };
  };
  if (can('list.create')) el.append(form([
    field('Name', 'name', { required: true }), field('Address', 'email', { type: 'email', required: true }),
    field('Deliver to (addresses, comma-separated)', 'members', { required: true, size: 40 }),
  ], 'Create', async (v, formEl) => {
    if (await attempt(() => api('POST', '/lists', body(v)), `Created ${v.email}`)) { formEl.reset(); await show(); }
  }, { 'aria-label': 'Create a list or forwarder' }));
  const panel = h('section.panel');
  el.append(panel);
  const show = async () => {
    const items = await all('/lists');
    panel.replaceChildren(items.length ? table(['Address', 'Name', 'Mailboxes', 'Forwards to', ''], items.map((l) => h('tr', { 'data-list': l.email },
      h('td', {}, l.email), h('td', {}, l.name), h('td', {}, l.members.map((id) => mailboxesById.get(id) ?? id).join(', ') || '—'), h('td', {}, l.external_members.join(', ') || '—'),
      h('td', {}, can('list.delete') ? writeButton('Delete', async () => { if (confirm(`Delete ${l.email}?`) && (await attempt(() => api('DELETE', `/lists/${l.id}`), `Deleted ${l.email}`))) await show(); }, 'danger') : '')))) : h('p.muted', {}, 'No lists or forwarders yet.'));
  };
  await show();
}

/** Paste a message: score it as the MX would (spam.test), or teach the classifier (spam.train). */
async function spam(el) {
  el.append(h('h1', {}, 'Spam'));
  const result = h('div', { 'aria-live': 'polite' });
  if (can('spam.test') || can('spam.train')) {
    const area = h('textarea.code', { name: 'message', rows: 10, required: true, 'aria-label': 'Raw message (headers and body)', spellcheck: 'false', placeholder: 'From: …\nSubject: …\n\nbody' });
    const pasted = () => area.value.replace(/\r?\n/g, '\r\n');
    const panel = h('section.panel', {}, h('h2', {}, 'Check or train with a pasted message'), area, h('div.row-actions', {},
      can('spam.test') ? h('button', { type: 'button', 'data-write': true, onclick: async () => {
        const r = await attempt(() => api('POST', '/spam/classify', { message: pasted() }));
        if (r) result.replaceChildren(h('section.panel', { 'data-verdict': r.data.verdict }, h('h2', {}, 'Verdict: ', badge(r.data.verdict, r.data.verdict === 'ham' ? 'ok' : 'bad'), ` score ${r.data.score.toFixed(2)}`),
          h('p', {}, 'Bayes probability: ', r.data.bayes_probability === null ? 'not enough training yet' : r.data.bayes_probability.toFixed(3)),
          r.data.rules.length ? table(['Rule', 'Score', 'Why'], r.data.rules.map((x) => h('tr', {}, h('td.mono', {}, x.rule), h('td', {}, x.score.toFixed(2)), h('td', {}, x.description)))) : h('p.muted', {}, 'No rule matched.')));
      } }, 'Check') : '',
      can('spam.train') ? writeButton('Train as spam', async () => {
        const r = await attempt(() => api('POST', '/spam/train/spam', { message: pasted() }), 'Trained as spam');
        if (r) result.replaceChildren(h('p', { 'data-trained': 'spam' }, `Model: ${r.data.totals.spam} spam, ${r.data.totals.ham} ham`));
      }, 'danger') : '',
      can('spam.train') ? writeButton('Train as not spam', async () => {
        const r = await attempt(() => api('POST', '/spam/train/ham', { message: pasted() }), 'Trained as not spam');
        if (r) result.replaceChildren(h('p', { 'data-trained': 'ham' }, `Model: ${r.data.totals.spam} spam, ${r.data.totals.ham} ham`));
      }) : ''));
    el.append(panel, result);
  }
  if (can('logs.read')) {
    const caught = (await api('GET', '/inboxes/logs?limit=25&event_type=message.received.spam')).data;
    el.append(h('section.panel', { 'data-recent-spam': true }, h('h2', {}, 'Recently caught'), caught.length ? table(['When', 'From', 'To', 'Subject', 'Score'], caught.map((l) => h('tr', {},
      h('td', {}, when(l.received_at)), h('td', {}, l.from_email), h('td', {}, l.mailbox_email ?? ''), h('td', {}, l.subject), h('td', {}, l.spam_score === null ? '—' : l.spam_score.toFixed(1))))) : h('p.muted', {}, 'No spam caught yet.')));
  }
}

async function reports(el) {
  el.append(h('h1', {}, 'DMARC and TLS reports'), h('p.muted', {}, 'Aggregate reports other servers mailed to the rua addresses of your domains.'));
  const dmarc = (await api('GET', '/reports/dmarc?limit=50')).data;
  el.append(h('section.panel', { 'data-reports': 'dmarc' }, h('h2', {}, 'DMARC'), dmarc.length ? table(['Domain', 'Reporter', 'Period', 'Messages', 'Passed', 'Failed', 'Sources'], dmarc.map((r) => h('tr', {},
    h('td', {}, r.domain), h('td', {}, r.reporter), h('td', {}, `${when(r.period.begin)} – ${when(r.period.end)}`), h('td', {}, String(r.counts.messages)),
    h('td', {}, String(r.counts.passed)), h('td', {}, r.counts.failed ? badge(String(r.counts.failed), 'bad') : '0'),
    h('td.small', {}, r.sources.map((x) => h('div', {}, `${x.source_ip} ×${x.count}: ${x.disposition}, dkim ${x.dkim}, spf ${x.spf}`)))))) : h('p.muted', {}, 'No DMARC reports yet.')));
  const tls = (await api('GET', '/reports/tls?limit=50')).data;
  el.append(h('section.panel', { 'data-reports': 'tls' }, h('h2', {}, 'TLS (TLS-RPT)'), tls.length ? table(['Domain', 'Reporter', 'Period', 'Successful sessions', 'Failed sessions', 'Policies'], tls.map((r) => h('tr', {},
    h('td', {}, r.domain), h('td', {}, r.reporter), h('td', {}, `${when(r.period.begin)} – ${when(r.period.end)}`), h('td', {}, String(r.counts.success)),
    h('td', {}, r.counts.failure ? badge(String(r.counts.failure), 'bad') : '0'),
    h('td.small', {}, r.policies.map((p) => h('div', {}, `${p.policy_type} ${p.policy_domain}: ${p.success} ok, ${p.failure} failed`, Object.keys(p.failures).length ? ` (${Object.entries(p.failures).map(([k, v]) => `${k} ${v}`).join(', ')})` : '')))))) : h('p.muted', {}, 'No TLS reports yet.')));
}

const pages = {
  overview: { title: 'Overview', render: overview }, domains: { title: 'Domains', render: domains }, mailboxes: { title: 'Mailboxes', render: mailboxes },
  lists: { title: 'Lists', render: lists }, keys: { title: 'API keys', render: keys }, webhooks: { title: 'Webhooks', render: webhooks },
  queue: { title: 'Queue', render: queue }, logs: { title: 'Logs', render: logs }, spam: { title: 'Spam', render: spam }, reports: { title: 'Reports', render: reports },
};
// Detail pages: reached by links, not listed in the navigation.
const details = { domain: { title: 'Domain', render: domain }, mailbox: { title: 'Mailbox', render: mailbox }, webhook: { title: 'Webhook', render: webhook } };
await router(pages, 'overview', details);
