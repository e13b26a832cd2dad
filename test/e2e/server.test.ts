import { createServer } from 'node:net';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, startServerProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';
import { Store } from '../../src/store/index.ts';

const dir = tempDir();
const data = join(dir.path, 'data');
// Only the HTTP listener here: protocol listeners have their own tests.
const env = {
  WRENMAIL_DATA_DIR: data,
  WRENMAIL_HOSTNAME: 'mail.example.test',
  WRENMAIL_HTTP_LISTEN: '127.0.0.1:0',
  WRENMAIL_SMTP_MX_LISTEN: '',
  WRENMAIL_SMTP_SUBMISSION_LISTEN: '',
  WRENMAIL_SMTP_SUBMISSIONS_LISTEN: '',
  WRENMAIL_IMAP_LISTEN: '',
  WRENMAIL_IMAP_TLS_LISTEN: '',
  WRENMAIL_POP3_LISTEN: '',
  WRENMAIL_POP3_TLS_LISTEN: '',
};

test.after(() => dir.remove());

test('first start: bootstrap key (0600), self-signed certificate kept, /healthz, /api/v1/me', async () => {
  const server = await startServerProcess(env);
  try {
    const base = `http://127.0.0.1:${server.ports.get('http')}`;
    const keyFile = join(data, 'bootstrap-root.key');
    assert.is(statSync(keyFile).mode & 0o777, 0o600);
    const key = readFileSync(keyFile, 'utf8').trim();
    assert.match(key, /^wm_root_[A-Za-z0-9]{32}$/);
    assert.not.ok(
      server.logs.some((line) => line.includes(key)),
      'the key never appears in the logs',
    );
    assert.ok(existsSync(join(data, 'tls', 'self-signed.crt')));

    const health = await fetch(`${base}/healthz`);
    assert.is(health.status, 200);
    assert.is((await fetch(`${base}/readyz`)).status, 200);

    const me = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
    assert.is(me.status, 200);
    assert.is(me.headers.get('cache-control'), 'no-store');
    const body = (await me.json()) as {
      ok: boolean;
      data: { permissions: string[]; team: { id: string } };
      meta: { request_id: string };
    };
    assert.ok(body.ok);
    assert.equal(body.data.permissions, ['*']);
    assert.match(body.data.team.id, /^team_[0-9a-z]{26}$/);
    assert.is(me.headers.get('x-request-id'), body.meta.request_id);

    for (const authorization of ['', 'Bearer wm_root_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Basic Zm9vOmJhcg==']) {
      const denied = await fetch(`${base}/api/v1/me`, { headers: authorization ? { authorization } : {} });
      assert.is(denied.status, 401);
      const error = (await denied.json()) as { ok: boolean; error: { code: string } };
      assert.is(error.ok, false);
      assert.is(error.error.code, 'authentication_required');
    }
    const missing = await fetch(`${base}/nope`);
    assert.is(missing.status, 404);
    assert.is(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');

    // backup while running, then restore into an empty directory and find the same records
    const backupFile = join(dir.path, 'backup.gz');
    const backup = await runCli(['backup', backupFile], {
      ...env,
      WRENMAIL_HTTP_LISTEN: `127.0.0.1:${server.ports.get('http')}`,
    });
    assert.is(backup.code, 0, backup.stderr);
    const restoredData = join(dir.path, 'restored');
    const restore = await runCli(['restore', backupFile], { ...env, WRENMAIL_DATA_DIR: restoredData });
    assert.is(restore.code, 0, restore.stderr);
    assert.match(restore.stdout, /restored \d+ records/);
    const again = await runCli(['restore', backupFile], { ...env, WRENMAIL_DATA_DIR: restoredData });
    assert.is(again.code, 1, 'restore refuses a directory that holds a store');
    assert.match(again.stderr, /already holds a store/);

    assert.is(await server.stop('SIGTERM'), 0, 'SIGTERM ends the process cleanly');
    const restored = await Store.open(join(restoredData, 'store'));
    assert.is((await restored.teams.list()).length, 1);
    await restored.close();
  } finally {
    server.child.kill('SIGKILL');
  }
});

test('second start keeps the key and certificate', async () => {
  const cert = readFileSync(join(data, 'tls', 'self-signed.crt'), 'utf8');
  const key = readFileSync(join(data, 'bootstrap-root.key'), 'utf8');
  const server = await startServerProcess(env);
  await server.stop();
  assert.is(readFileSync(join(data, 'tls', 'self-signed.crt'), 'utf8'), cert);
  assert.is(readFileSync(join(data, 'bootstrap-root.key'), 'utf8'), key);
});

test('an invalid setting names the key and the value, and the server does not start', async () => {
  const result = await runCli(['serve'], { ...env, WRENMAIL_IMAP_IDLE_TIMEOUT_MS: 'soon' });
  assert.is(result.code, 78);
  assert.match(result.stderr, /imap\.idle_timeout_ms = "soon"/);
  const unknown = await runCli(['serve'], { ...env, WRENMAIL_SMTP_MX_LISTEN_PORT: '25' });
  assert.is(unknown.code, 78);
  assert.match(unknown.stderr, /WRENMAIL_SMTP_MX_LISTEN_PORT names no setting/);
  const badFile = join(dir.path, 'bad.toml');
  await import('node:fs').then((fs) => fs.writeFileSync(badFile, '[http]\nlisten = "127.0.0.1:80"\nbogus = 1\n'));
  const fromFile = await runCli(['serve', '--config', badFile], { WRENMAIL_DATA_DIR: data });
  assert.is(fromFile.code, 78);
  assert.match(fromFile.stderr, /bad\.toml/);
  assert.match(fromFile.stderr, /bogus/);
  // The PostgreSQL engine without a database to use: refused before anything opens.
  const noUrl = await runCli(['serve'], { ...env, WRENMAIL_STORE_ENGINE: 'postgres' });
  assert.is(noUrl.code, 78);
  assert.match(noUrl.stderr, /postgres_url/);
});

test('a port already taken stops the start with a message naming the setting', async () => {
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const result = await runCli(['serve'], { ...env, WRENMAIL_HTTP_LISTEN: `127.0.0.1:${port}` });
    assert.is(result.code, 75);
    assert.match(result.stderr, new RegExp(`127\\.0\\.0\\.1:${port} is already in use.*http\\.listen`));
  } finally {
    blocker.close();
  }
});

// As root (CI) run the server as nobody, who may not bind ports below 1024.
const unprivileged = process.getuid?.() === 0 ? 65534 : process.getuid?.();
test('a privileged port without privileges: moved up by the offset with a warning, or a clear error when the offset is 0', async () => {
  if (unprivileged === 0) return; // cannot drop privileges here
  const nobodyData = join(dir.path, 'nobody');
  chmodSync(dir.path, 0o755); // mkdtemp makes it 0700: nobody could not reach its data dir
  mkdirSync(nobodyData, { recursive: true });
  chownSync(nobodyData, unprivileged!, unprivileged!);
  const nobodyEnv = {
    ...env,
    WRENMAIL_DATA_DIR: nobodyData,
    WRENMAIL_HTTP_LISTEN: '127.0.0.1:0',
    WRENMAIL_SMTP_MX_LISTEN: '127.0.0.1:25',
    WRENMAIL_SERVER_UNPRIVILEGED_PORT_OFFSET: '0',
  };
  const refused = await runCli(['serve'], nobodyEnv, unprivileged);
  assert.is(refused.code, 77, refused.stderr);
  assert.match(refused.stderr, /no permission to listen on 127\.0\.0\.1:25 \(setting smtp\.mx_listen\)/);
  const offset = 20000 + Math.floor(Math.random() * 20000);
  const server = await startServerProcess(
    { ...nobodyEnv, WRENMAIL_SERVER_UNPRIVILEGED_PORT_OFFSET: String(offset) },
    ['serve'],
    unprivileged,
  );
  try {
    assert.is(server.ports.get('smtp-mx'), 25 + offset);
    assert.ok(
      server.logs.some((line) => line.includes('needs privileges')),
      'the log says why the port moved',
    );
  } finally {
    await server.stop();
  }
});

test.run();
