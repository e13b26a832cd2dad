// The web console: `/admin` for operators, `/account` for mailbox owners, served by the
// HTTP(S) listener. Pages are static HTML shells plus ES modules that call the same /api/v1 routes
// as any client; this module only logs people in and out, serves the files, and lets a session
// cookie stand in for a bearer key on /api/v1 and /metrics, with a CSRF token on every write.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Next } from 'koa';
import { ApiError } from '../api/errors.ts';
import { isApiPath } from '../api/router.ts';
import { hashApiKey, looksLikeApiKey } from '../security/api-keys.ts';
import type { LoginService } from '../security/login.ts';
import { verifyPassword } from '../security/passwords.ts';
import type { ApiKey, Store } from '../store/index.ts';
import { keys } from '../store/keys.ts';
import { ConsoleSessions, passwordStamp, SESSION_COOKIE, type ResolvedSession } from './sessions.ts';

declare module 'koa' {
  interface DefaultState {
    /** The principal of a console session cookie (used only when no Authorization header came). */
    consoleKey?: ApiKey;
  }
}

export interface ConsoleOptions {
  store: Store;
  /** The LoginService IMAP, POP3 and SMTP share: console logins count against the same throttles. */
  login: LoginService;
}

const ASSETS = join(dirname(fileURLToPath(import.meta.url)), 'assets');
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** uPlot and qrcode-generator, served from node_modules (no CDN: the console works offline). */
const VENDOR: Record<string, string> = {
  'uplot.js': join(dirname(fileURLToPath(import.meta.resolve('uplot'))), 'uPlot.esm.js'),
  'uplot.css': join(dirname(fileURLToPath(import.meta.resolve('uplot'))), 'uPlot.min.css'),
  'qrcode.js': fileURLToPath(import.meta.resolve('qrcode-generator')),
};

/**
 * No inline script or style, nothing from elsewhere, no framing; `data:` images for the QR code.
 * CSP Level 3 (W3C), https://www.w3.org/TR/CSP3/.
 */
export const CONSOLE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

type Area = 'admin' | 'account';

/** The admin password's stamp, or null when none is set (`wrenmail admin passwd`). */
export async function adminPasswordHash(store: Store): Promise<string | null> {
  return (await store.kv.get<string>(keys.adminPassword())) ?? null;
}

export function consoleApp(options: ConsoleOptions) {
  const { store, login } = options;
  const sessions = new ConsoleSessions(store, async () => {
    const hash = await adminPasswordHash(store);
    return hash === null ? null : passwordStamp(hash);
  });
  const files = new Map<string, { path: string; type: string }>();
  for (const name of readdirSync(ASSETS))
    if (TYPES[extname(name)])
      files.set(`/console/assets/${name}`, { path: join(ASSETS, name), type: TYPES[extname(name)]! });
  for (const [name, path] of Object.entries(VENDOR))
    files.set(`/console/vendor/${name}`, { path, type: TYPES[extname(name)]! });
  const cache = new Map<string, Buffer>();
  const shell = readFileSync(join(ASSETS, 'shell.html'), 'utf8');

  const cookieOf = (ctx: Context): string | undefined => {
    for (const part of (ctx.get('cookie') || '').split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === SESSION_COOKIE) return rest.join('=');
    }
    return undefined;
  };
  const setCookie = (ctx: Context, value: string, maxAge: number) => {
    // Secure whenever the request came over TLS (RFC 6265bis §4.1.2.5); SameSite=Strict keeps the cookie off cross-site requests.
    ctx.append(
      'Set-Cookie',
      `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${ctx.secure ? '; Secure' : ''}`,
    );
  };
  const current = async (ctx: Context): Promise<ResolvedSession | undefined> => {
    const id = cookieOf(ctx);
    return id ? sessions.resolve(id) : undefined;
  };

  /** A write from another site is refused whatever it carries (Fetch Metadata, then Origin, RFC 6454 §7). */
  const assertSameOrigin = (ctx: Context): void => {
    const site = ctx.get('sec-fetch-site');
    if (site && site !== 'same-origin' && site !== 'none')
      throw new ApiError('insufficient_permissions', `cross-site request refused (Sec-Fetch-Site: ${site})`);
    const origin = ctx.get('origin');
    // Our own origin from the request line (Koa 3's ctx.origin echoes the Origin header, so it cannot be the reference).
    const own = `${ctx.protocol}://${ctx.host}`;
    if (origin && origin !== own)
      throw new ApiError('insufficient_permissions', `cross-origin request refused (Origin ${origin} is not ${own})`);
  };
  const assertCsrf = (ctx: Context, session: ResolvedSession, presented: string | undefined): void => {
    assertSameOrigin(ctx);
    if (!presented || !ConsoleSessions.csrfMatches(session, presented))
      throw new ApiError(
        'insufficient_permissions',
        'a write from a console session needs its CSRF token (X-CSRF-Token)',
      );
  };

  const secureHeaders = (ctx: Context) => {
    ctx.set('Content-Security-Policy', CONSOLE_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    // same-origin, not no-referrer: with no-referrer Chromium sends `Origin: null` on form posts, which the origin check refuses.
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  };

  const page = (ctx: Context, status: number, html: string) => {
    secureHeaders(ctx);
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = html;
  };

  const loginPage = (ctx: Context, area: Area, status: number, message?: string) => {
    const operator = area === 'admin';
    page(
      ctx,
      status,
      `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${operator ? 'Operator' : 'Account'} login · Wren Mail</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/console/assets/console.css"></head>
<body class="login"><main class="login-box">
<h1>Wren Mail</h1><p class="muted">${operator ? 'Operator console' : 'Your mailbox'}</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/${area}/login">
${
  operator
    ? `<label for="secret">Root API key or admin password</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" required autofocus>`
    : `<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>`
}
<button type="submit">Log in</button>
</form>
<p class="muted small">${operator ? '<a href="/account">Mailbox owner? Log in here.</a>' : '<a href="/admin">Operator? Log in here.</a>'}</p>
</main></body></html>`,
    );
  };

  const shellPage = (ctx: Context, area: Area, session: ResolvedSession) => {
    page(
      ctx,
      200,
      shell
        .replaceAll('{{AREA}}', area)
        .replaceAll('{{CSRF}}', escapeHtml(session.csrf))
        .replaceAll('{{KIND}}', session.kind),
    );
  };

  const startSession = (ctx: Context, area: Area, source: Parameters<ConsoleSessions['create']>[0]) => {
    const { id } = sessions.create(source);
    setCookie(ctx, id, 12 * 3600);
    ctx.status = 303;
    ctx.redirect(`/${area}`);
  };

  /** Operators: a root key (its session ends when the key is revoked) or the admin password. */
  const operatorLogin = async (ctx: Context, form: URLSearchParams) => {
    const secret = form.get('secret') ?? '';
    const ip = ctx.ip;
    const throttle = await login.addressCheck(ip); // counted on every node of a shared store
    if ('retryAfterSeconds' in throttle)
      return loginPage(ctx, 'admin', 429, `Too many failed logins, try again in ${throttle.retryAfterSeconds} s`);
    if (throttle.delayMs) await new Promise((r) => setTimeout(r, throttle.delayMs));
    if (looksLikeApiKey(secret)) {
      const key = await store.apiKeys.bySecretHash(hashApiKey(secret));
      if (key && !key.revokedAt && !(key.expiresAt && key.expiresAt < Date.now()) && key.type === 'root') {
        await login.addressResult(ip, true);
        return startSession(ctx, 'admin', { kind: 'key', keyId: key.id });
      }
    } else {
      const hash = await adminPasswordHash(store);
      if (hash && secret && (await verifyPassword(secret, hash))) {
        const [team] = await store.teams.list();
        await login.addressResult(ip, true);
        return startSession(ctx, 'admin', { kind: 'admin', teamId: team!.id, stamp: passwordStamp(hash) });
      }
    }
    await login.addressResult(ip, false);
    return loginPage(ctx, 'admin', 401, 'That key or password is not valid (only root keys open the console).');
  };

  /** Mailbox owners: the mailbox password, through the LoginService IMAP uses (same throttles). */
  const ownerLogin = async (ctx: Context, form: URLSearchParams) => {
    const email = form.get('email') ?? '';
    const password = form.get('password') ?? '';
    // The mailbox password only: an app key is for mail clients, and a session must end when the password changes.
    const result = password.startsWith('wm_')
      ? ({ ok: false, reason: 'invalid' } as const)
      : await login.login(email, password, ctx.ip);
    if (result.ok)
      return startSession(ctx, 'account', {
        kind: 'owner',
        accountId: result.account.id,
        stamp: passwordStamp(result.account.passwordHash),
      });
    const message =
      result.reason === 'throttled'
        ? `Too many failed logins, try again in ${result.retryAfterSeconds ?? 60} s`
        : result.reason === 'suspended'
          ? 'This mailbox is suspended.'
          : 'Wrong email address or password.';
    return loginPage(ctx, 'account', result.reason === 'throttled' ? 429 : 401, message);
  };

  return async (ctx: Context, next: Next): Promise<void> => {
    const path = ctx.path;
    // A session cookie stands in for a key on the API and /metrics; an Authorization header always wins.
    if (path === '/metrics' || isApiPath(path)) {
      if (!ctx.get('authorization') && cookieOf(ctx)) {
        const session = await current(ctx);
        if (session) {
          if (UNSAFE.has(ctx.method)) assertCsrf(ctx, session, ctx.get('x-csrf-token'));
          ctx.state.consoleKey = session.principal;
        }
      }
      return next();
    }

    const file = files.get(path);
    if (file && (ctx.method === 'GET' || ctx.method === 'HEAD')) {
      let body = cache.get(file.path);
      if (!body) cache.set(file.path, (body = readFileSync(file.path)));
      secureHeaders(ctx);
      ctx.set('Cache-Control', 'no-cache');
      ctx.type = file.type;
      ctx.body = body;
      return;
    }

    const match = /^\/(admin|account)(\/login|\/logout)?\/?$/.exec(path);
    if (!match) return next();
    const area = match[1] as Area;
    const action = match[2];
    const session = await current(ctx);
    const fits = session && (area === 'admin' ? session.kind !== 'owner' : session.kind === 'owner');

    if (action === '/logout') {
      if (ctx.method !== 'POST')
        throw new ApiError('method_not_allowed', 'log out with POST', null, { headers: { Allow: 'POST' } });
      if (session) {
        assertCsrf(ctx, session, (await readForm(ctx)).get('csrf') ?? undefined);
        sessions.end(session.id);
      }
      setCookie(ctx, '', 0);
      ctx.status = 303;
      return ctx.redirect(`/${area}/login`);
    }
    if (action === '/login') {
      if (ctx.method === 'GET' || ctx.method === 'HEAD')
        return fits ? ctx.redirect(`/${area}`) : loginPage(ctx, area, 200);
      if (ctx.method !== 'POST')
        throw new ApiError('method_not_allowed', 'use GET or POST', null, { headers: { Allow: 'GET, POST' } });
      assertSameOrigin(ctx); // login CSRF: no other site may log a browser in as someone else
      const form = await readForm(ctx);
      return area === 'admin' ? operatorLogin(ctx, form) : ownerLogin(ctx, form);
    }
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD')
      throw new ApiError('method_not_allowed', 'use GET', null, { headers: { Allow: 'GET' } });
    if (!fits) return ctx.redirect(`/${area}/login`);
    return shellPage(ctx, area, session!);
  };
}

/** A small urlencoded form (a login): at most 8 KiB. */
async function readForm(ctx: Context): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded'))
    throw new ApiError('unsupported_media_type', 'post the form as application/x-www-form-urlencoded');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 8192) throw new ApiError('payload_too_large', 'the form is larger than 8 KiB');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
