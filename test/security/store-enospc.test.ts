// One ENOSPC must not wedge the store until a restart. With the disk full, writes are
// refused cleanly (IMAP NO [SERVERUNAVAILABLE], SMTP 452 4.3.1, API 503 + Retry-After, /readyz 503),
// and once space returns every protocol works again without a restart; nothing acknowledged is lost.
// The data directory is a real 8 MiB tmpfs, filled up by a filler file.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient } from '../helpers/imap.ts';
import { cliEnv, startInstance, type Instance } from '../helpers/instance.ts';
import { sendRaw } from '../helpers/smtp.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts';

const USER = 'full@disk.test';
const PASS = 'a long enough password';
let disk: Tmpfs;
let instance: Instance;
let api: { url: string; key: string };
/** Subjects of every message the server acknowledged (SMTP 250, APPEND OK). */
const acknowledged: string[] = [];

const overrides = (dataDir: string) => ({
  data_dir: dataDir,
  imap: { listen: ['127.0.0.1:0'], tls_listen: [], allow_plain_auth_loopback: true },
});

async function http(method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function smtp(subject: string): Promise<number | undefined> {
  const result = await sendRaw(
    instance.port('smtp-mx'),
    'sender@example.org',
    [USER],
    makeMessage({ to: USER, subject, bytes: 2000 }),
  );
  if (result.end?.code === 250) acknowledged.push(subject);
  return result.end?.code ?? result.data?.code;
}

async function imap(): Promise<RawClient> {
  const c = await RawClient.connect(instance.port('imap'));
  assert.match(await c.command('l', `LOGIN ${USER} "${PASS}"`), /^l OK/m);
  return c;
}

async function append(c: RawClient, subject: string): Promise<string> {
  const raw = makeMessage({ to: USER, subject, bytes: 2000 });
  const out = await c.command(
    'a',
    Buffer.concat([Buffer.from(`a APPEND INBOX {${raw.length}+}\r\n`), raw, Buffer.from('\r\n')]),
  );
  if (/^a OK/m.test(out)) acknowledged.push(subject);
  return out;
}

async function subjectsInInbox(): Promise<string[]> {
  const c = await imap();
  await c.command('s', 'EXAMINE INBOX');
  const out = await c.command('f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
  c.close();
  return [...out.matchAll(/Subject: ([^\r\n]+)/g)].map((m) => m[1]!).sort();
}

test.before(async () => {
  disk = mountTmpfs(8, 'wren-enospc-');
  const dataDir = join(disk.path, 'data');
  mkdirSync(dataDir);
  instance = await startInstance({ overrides: overrides(dataDir) });
  await instance.addAccount(USER, PASS);
  const env = cliEnv(instance);
  api = { url: env.WRENMAIL_API_URL!, key: env.WRENMAIL_API_KEY! };
});

test.after(async () => {
  await instance?.server.close().catch(() => {});
  disk?.remove();
});

test('writes work before the disk fills', async () => {
  for (let i = 0; i < 3; i++) assert.is(await smtp(`before smtp ${i}`), 250);
  const c = await imap();
  assert.match(await append(c, 'before append'), /^a OK/m);
  c.close();
  assert.is((await http('POST', '/api/v1/domains', { domain: 'before.test' })).status, 201);
});

test('with the disk full every write is refused cleanly, and /readyz says so', async () => {
  const c = await imap(); // logged in before the disk fills
  disk.fill();
  assert.match(await append(c, 'during append'), /^a NO \[SERVERUNAVAILABLE\]/m);
  assert.match(await append(c, 'during append 2'), /^a NO \[SERVERUNAVAILABLE\]/m);
  assert.is(await smtp('during smtp'), 452);
  const refused = await sendRaw(
    instance.port('smtp-mx'),
    'sender@example.org',
    [USER],
    makeMessage({ to: USER, subject: 'during smtp 2' }),
  );
  assert.match(refused.end?.text ?? JSON.stringify(refused), /4\.3\.1/, JSON.stringify(refused));
  const created = await http('POST', '/api/v1/domains', { domain: 'during.test' });
  assert.is(created.status, 503);
  assert.ok(Number(created.headers.get('retry-after')) > 0, 'Retry-After');
  assert.is(((await created.json()) as { error: { code: string } }).error.code, 'service_unavailable');
  assert.is((await fetch(`${api.url}/readyz`)).status, 503);
  assert.is((await fetch(`${api.url}/healthz`)).status, 200);
  // Reads still work.
  assert.match(await c.command('s', 'SELECT INBOX'), /^s OK/m);
  c.close();
});

test('once space returns everything recovers without a restart, and nothing acknowledged is lost', async () => {
  disk.free();
  const deadline = Date.now() + 20_000;
  while ((await fetch(`${api.url}/readyz`)).status !== 200) {
    assert.ok(Date.now() < deadline, '/readyz still not ready 20 s after space returned');
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.is(await smtp('after smtp'), 250);
  const c = await imap();
  const appended = await append(c, 'after append');
  assert.match(appended, /^a OK \[APPENDUID \d+ (\d+)\]/m);
  c.close();
  assert.is((await http('POST', '/api/v1/domains', { domain: 'after.test' })).status, 201);
  const subjects = await subjectsInInbox();
  assert.equal(subjects, [...acknowledged].sort());
  // UIDs went on from the last stored message, with no gap where a refused write took one.
  const uids = await (async () => {
    const s = await imap();
    await s.command('s', 'EXAMINE INBOX');
    const out = await s.command('f', 'UID SEARCH ALL');
    s.close();
    return /^\* SEARCH ([\d ]+)/m.exec(out)![1]!.split(' ').map(Number);
  })();
  assert.equal(
    uids,
    acknowledged.map((_, i) => i + 1),
  );
});

test('after a restart the same messages are there', async () => {
  const dataDir = instance.config.data_dir;
  await instance.server.close();
  instance = await startInstance({ overrides: overrides(dataDir) });
  assert.equal(await subjectsInInbox(), [...acknowledged].sort());
});

test.run();
