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
  el.append(h('section.panel', {}, h('h2', {}, 'BIND zone file'), copyButton(zone, 'Copy zone'), h('pre', { 'data-zone': true }, zone)));
  const dkim = (await api('GET', `/domains/${id}/dkim`)).data;
  el.append(h('section.panel', {}, h('h2', {}, 'DKIM keys'), table(['Selector', 'Algorithm', 'Status', 'Created', ''], dkim.map((k) =>
    h('tr', {}, h('td.mono', {}, k.selector), h('td', {}, k.algorithm), h('td', {}, status(k.status)), h('td', {}, when(k.created_at)),
      h('td', {}, can('domain.update') && k.status === 'active' ? writeButton('Rotate', async () => {
        if (await attempt(() => api('POST', `/domains/${id}/dkim/${k.id}/rotate`), 'New key made: publish it, then it takes over')) location.reload();
      }) : ''))))));
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
      h('td', {}, m.email, m.display_name ? h('div.muted.small', {}, m.display_name) : ''),
      h('td', {}, status(m.status)),
      h('td', {}, quotaBar(m.used_bytes, m.quota_bytes)),
      h('td', {}, m.aliases.join(', ') || '—'),
      h('td', {}, can('mailbox.admin.manage') ? h('div.row-actions', {},
        writeButton(m.status === 'active' ? 'Suspend' : 'Resume', async () => {
          if (await attempt(() => api('POST', `/mailboxes/${m.id}/${m.status === 'active' ? 'suspend' : 'resume'}`), `${m.email} ${m.status === 'active' ? 'suspended' : 'resumed'}`)) await render();
        }, m.status === 'active' ? 'danger' : 'secondary'),
        m.status === 'active' ? writeButton('New app key', async () => {
          const app = prompt('What is the key for (app name)?', 'Mail app');
          if (!app) return;
          const minted = await attempt(() => api('POST', `/mailboxes/${m.id}/keys`, { app_name: app }));
          if (!minted) return;
          const c = minted.data.imap_smtp_credentials;
          shown.replaceChildren(secretBox(`App key for ${c.username}: shown once`, [
            ['Username', c.username], ['Password (app key)', c.password], ['Server', c.server], ['IMAP port (TLS)', c.imap_port], ['SMTP port (STARTTLS)', c.smtp_port],
          ]));
        }) : '') : '')));
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
      h('td', {}, k.status === 'active' && can('apikey.delete') && k.id !== me.key.id ? writeButton('Revoke', async () => {
        if (confirm(`Revoke ${k.name}? Apps using it stop working at once.`) && (await attempt(() => api('DELETE', `/api-keys/${k.id}`), `Revoked ${k.name}`))) await list();
      }, 'danger') : '')))));
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
          if (text !== undefined) payload.replaceChildren(h('section.panel', {}, h('h2', {}, `Payload of ${d.id}`), h('pre', {}, text)));
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

async function logs(el) {
  el.append(h('h1', {}, 'Delivery logs'));
  const inbound = (await api('GET', '/inboxes/logs?limit=50')).data;
  el.append(h('section.panel', {}, h('h2', {}, 'Received'), inbound.length ? table(['When', 'From', 'To', 'Subject', 'Folder'], inbound.map((l) => h('tr', {},
    h('td', {}, when(l.received_at)), h('td', {}, l.from_email), h('td', {}, l.mailbox_email ?? l.to_emails.join(', ')), h('td', {}, l.subject), h('td', {}, l.is_spam ? badge(l.folder, 'warn') : l.folder)))) : h('p.muted', {}, 'Nothing received yet.')));
  const outbound = (await api('GET', '/emails/logs?limit=50')).data;
  el.append(h('section.panel', {}, h('h2', {}, 'Sent'), outbound.length ? table(['When', 'From', 'To', 'Subject', 'Status'], outbound.map((l) => h('tr', {},
    h('td', {}, when(l.sent_at)), h('td', {}, l.from_email), h('td', {}, l.to_email), h('td', {}, l.subject), h('td', {}, status(l.status), l.status_reason ? h('div.muted.small', {}, l.status_reason) : '')))) : h('p.muted', {}, 'Nothing sent yet.')));
}

const pages = { overview: { title: 'Overview', render: overview }, domains: { title: 'Domains', render: domains }, mailboxes: { title: 'Mailboxes', render: mailboxes }, keys: { title: 'API keys', render: keys }, webhooks: { title: 'Webhooks', render: webhooks }, queue: { title: 'Queue', render: queue }, logs: { title: 'Logs', render: logs } };
// Detail pages: reached by links, not listed in the navigation.
const details = { domain: { title: 'Domain', render: domain }, webhook: { title: 'Webhook', render: webhook } };
await router(pages, 'overview', details);
