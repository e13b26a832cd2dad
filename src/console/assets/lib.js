// Shared by the operator and the owner console: the /api/v1 client (session cookie + CSRF token, never
// a secret in the browser), a DOM builder that only makes text nodes (no innerHTML), and small widgets.
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
export const area = meta('wm-area');
const csrf = meta('wm-csrf');

export class ApiFailure extends Error {
  constructor(error, status) {
    super(error?.message ?? `HTTP ${status}`);
    this.code = error?.code;
    this.status = status;
  }
}

/** Calls /api/v1 (or /metrics with `{ base: '' }`); writes carry the session's CSRF token. */
export async function api(method, path, body, { base = '/api/v1', text = false } = {}) {
  const headers = { Accept: text ? 'text/plain' : 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401) {
    // The session ended (key revoked, password changed, idle): back to the login page.
    location.assign(`/${area}/login`);
    throw new ApiFailure({ message: 'session ended' }, 401);
  }
  if (text) {
    if (!res.ok) throw new ApiFailure(null, res.status);
    return res.text();
  }
  const json = await res.json();
  if (!json.ok) throw new ApiFailure(json.error, res.status);
  return json;
}

/** Every page of a list route. */
export async function all(path) {
  const items = [];
  let cursor;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api('GET', `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.data);
    cursor = page.pagination?.has_more ? page.pagination.next_cursor : undefined;
  } while (cursor);
  return items;
}

/** h('tag.class', { attr, onclick }, ...children): children are nodes or text (never parsed as HTML). */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'value') el.value = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) if (child !== null && child !== undefined && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

export function toast(message, isError = false) {
  const p = h(isError ? 'p.error' : 'p', {}, message);
  document.getElementById('toast').append(p);
  setTimeout(() => p.remove(), isError ? 8000 : 4000);
}

/** Runs a write, shows its error; `data-write` marks every control that changes something. */
export async function attempt(fn, done) {
  try {
    const result = await fn();
    if (done) toast(done);
    return result;
  } catch (err) {
    toast(err.message, true);
    return undefined;
  }
}

/** A form whose fields become the submit handler's argument; marked as a write control. */
export function form(fields, label, onsubmit, extra = {}) {
  const el = h('form.inline', { 'data-write': true, ...extra }, ...fields, h('button', { type: 'submit' }, label));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = el.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      await onsubmit(Object.fromEntries(new FormData(el)), el);
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

export const field = (label, name, attrs = {}) => h('label', {}, label, h('input', { name, ...attrs }));

export const writeButton = (label, onclick, cls = 'secondary') => h(`button.${cls}`, { type: 'button', 'data-write': true, onclick }, label);

export const copyButton = (text, label = 'Copy') =>
  h('button.secondary', { type: 'button', 'data-copy': true, 'aria-label': `${label}: ${text.slice(0, 40)}`, onclick: async () => {
    try { await navigator.clipboard.writeText(text); toast('Copied'); } catch { toast('Copy failed: select the text instead', true); }
  } }, label);

export const badge = (text, kind) => h(`span.badge.${kind}`, {}, text);

export function bytes(n) {
  if (!n) return '0 B';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  const i = Math.min(units.length - 1, Math.floor(Math.log2(n) / 10));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function quotaBar(used, quota) {
  const ratio = quota ? Math.min(1, used / quota) : 0;
  const bar = h('span.bar', { role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': quota || 0, 'aria-valuenow': used, 'aria-label': 'storage used' }, h('span'));
  bar.firstChild.style.width = `${Math.round(ratio * 100)}%`; // CSSOM, allowed by the CSP (no style attribute)
  return h('span', {}, bar, ' ', `${bytes(used)} of ${quota ? bytes(quota) : 'unlimited'}`);
}

export const table = (headers, rows) => h('table', {}, h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), h('tbody', {}, rows));

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** A "shown once" box for a secret just minted: it lives in the page only, never in storage. */
export const secretBox = (title, entries) =>
  h('div.secret', { role: 'alert' }, h('strong', {}, title), h('dl', {}, entries.map(([k, v]) => [h('dt', {}, k), h('dd.mono', {}, String(v), ' ', copyButton(String(v)))])));

/** A hash router over a table of pages: #/name/arg → pages[name](main, arg). */
export function router(pages, fallback, details = {}) {
  const nav = document.getElementById('nav');
  const main = document.getElementById('main');
  for (const [name, { title }] of Object.entries(pages)) nav.append(h('a', { href: `#/${name}`, 'data-page': name }, title));
  const show = async () => {
    const [name, ...rest] = location.hash.replace(/^#\//, '').split('/');
    const routes = { ...pages, ...details };
    const page = routes[name] ? name : fallback;
    for (const a of nav.querySelectorAll('a')) a.removeAttribute('aria-current');
    nav.querySelector(`a[data-page="${page}"]`)?.setAttribute('aria-current', 'page');
    // A detail page lights up its list's entry (domain → domains).
    if (details[page]) nav.querySelector(`a[data-page="${page}s"]`)?.setAttribute('aria-current', 'page');
    delete main.dataset.ready;
    main.replaceChildren(h('p.muted', {}, 'Loading…'));
    document.title = `${routes[page].title} · Wren Mail`;
    const content = h('div', { 'data-page': page });
    try {
      await routes[page].render(content, ...rest.map(decodeURIComponent));
      main.replaceChildren(content);
    } catch (err) {
      main.replaceChildren(h('h1', {}, routes[page].title), h('p.error', { role: 'alert' }, err.message));
    }
    main.dataset.ready = page;
  };
  window.addEventListener('hashchange', show);
  return show();
}

/** Does a set of granted patterns cover a permission? (the server's rule, src/security/permissions.ts) */
export function covers(granted, permission) {
  return granted.some((p) => p === '*' || p === permission || (p.endsWith('.*') && permission.startsWith(p.slice(0, -1))) || (p.startsWith('*.') && permission.endsWith(p.slice(1))));
}
