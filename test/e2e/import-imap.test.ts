// `wrenmail import imap` between two real servers on loopback: a Wren Mail instance on 127.0.0.2 as
// the old provider (1,000 messages in 5 folders, flags, dates), a second on 127.0.0.3 as this server,
// the CLI as a real process. Identical afterwards; a killed run resumes; reruns copy nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import type { Account, Store } from '../../src/store/index.ts';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { repoRoot, runCli } from '../helpers/process.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';
import { pairKey } from '../../src/security/login.ts';

const SOURCE_USER = 'old@example.org';
const SOURCE_PASSWORD = 'old provider password';
const TARGET_USER = 'new@example.test';
// Folder (as the source names it) → messages in it: 1,000 in all.
const FOLDERS: [string, number][] = [
  ['INBOX', 300],
  ['Sent', 200],
  ['Archive/2023', 200],
  ['Projects/Alpha/Notes', 150],
  ['Lists', 150],
];
const FLAG_RULES: [number, string][] = [
  [2, '\\Seen'],
  [5, '\\Answered'],
  [7, '\\Flagged'],
  [11, '\\Draft'],
  [13, '\\Deleted'],
  [17, '$Label1'],
];

let source: Instance;
let target: Instance;
let sourceAccount: Account;
let targetAccount: Account;
const dir = tempDir('wrenmail-import-imap-');
const statePath = join(dir.path, 'state.json');
let env: Record<string, string>;
let args: string[];

async function seed(store: Store, account: Account): Promise<void> {
  const base = Date.UTC(2023, 0, 1) / 1000;
  for (const [name, count] of FOLDERS) {
    const parts = name.split('/');
    for (let depth = 1; depth <= parts.length; depth++) {
      const path = parts.slice(0, depth).join('/');
      if (!store.folders.byName(account.id, path)) await store.createFolder(account.id, path);
    }
    const folder = store.folders.byName(account.id, name)!;
    const deliveries: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const flags = FLAG_RULES.filter(([every]) => i % every === 0).map(([, flag]) => flag);
      // Two exact duplicates (same bytes, same date) in Lists: both must arrive, once each.
      const n = name === 'Lists' && i === 11 ? 10 : i;
      let raw = makeMessage({
        subject: `${name} #${n}`,
        id: `${name.replace(/\W/g, '-')}-${n}@example.org`,
        bytes: 300 + ((n * 37) % 4000),
      });
      // One message without a Message-ID, matched by date and size alone.
      if (name === 'INBOX' && i === 3)
        raw = Buffer.from(raw.toString('latin1').replace(/^Message-ID:.*\r\n/m, ''), 'latin1');
      deliveries.push(
        store.deliver(raw, [{ folder: store.folders.get(folder.id)!, flags }], {
          internalDate: (base + n * 3607) * 1000,
        }),
      );
      if (deliveries.length === 50) await Promise.all(deliveries.splice(0));
    }
    await Promise.all(deliveries);
  }
}

interface Summary {
  size: number;
  date: number;
  flags: string;
  sha: string;
}

async function contents(store: Store, account: Account, name: string): Promise<Summary[]> {
  const folder = store.folders.byName(account.id, name);
  if (!folder) return [];
  const out: Summary[] = [];
  for (const m of await store.messages.list(folder.id)) {
    const bytes = await store.read(m);
    out.push({
      size: m.size,
      date: m.internalDate,
      flags: [...m.flags].sort().join(' '),
      sha: createHash('sha256').update(bytes).digest('hex'),
    });
  }
  return out;
}

async function assertIdentical(): Promise<void> {
  for (const [name, count] of FOLDERS) {
    const want = await contents(source.server.store, sourceAccount, name);
    const got = await contents(target.server.store, targetAccount, name);
    assert.is(want.length, count);
    assert.is(got.length, count, `${name}: ${got.length} messages, expected ${count}`);
    assert.equal(got, want, name);
  }
}

const targetTotal = async () => {
  let total = 0;
  for (const [name] of FOLDERS) {
    const folder = target.server.store.folders.byName(targetAccount.id, name);
    if (folder) total += (await target.server.store.messages.list(folder.id)).length;
  }
  return total;
};

test.before(async () => {
  [source, target] = await Promise.all([
    startInstance({ host: '127.0.0.2' }),
    startInstance({ host: '127.0.0.3', hostname: 'mail.example.test' }),
  ]);
  sourceAccount = await source.addAccount(SOURCE_USER, SOURCE_PASSWORD);
  targetAccount = await target.addAccount(TARGET_USER, 'new server password');
  await seed(source.server.store, sourceAccount);
  env = {
    WRENMAIL_DATA_DIR: target.config.data_dir,
    WRENMAIL_HOSTNAME: target.config.hostname,
    WRENMAIL_API_URL: `http://127.0.0.3:${target.port('http')}`,
    WRENMAIL_API_KEY: readFileSync(bootstrapKeyPath(target.config.data_dir), 'utf8').trim(),
    WRENMAIL_IMAP_TLS_LISTEN: '127.0.0.3:0',
  };
  args = [
    'import',
    'imap',
    '--host',
    '127.0.0.2',
    '--port',
    String(source.port('imaps')),
    '--tls',
    '--insecure',
    '--user',
    SOURCE_USER,
    '--password',
    SOURCE_PASSWORD,
    '--mailbox',
    TARGET_USER,
    '--state',
    statePath,
  ];
});

test.after(async () => {
  await Promise.all([source?.stop(), target?.stop()]);
  dir.remove();
});

test('a run killed halfway, then resumed, leaves the target identical to the source', async () => {
  const child = spawn(process.execPath, [`${repoRoot}src/main.ts`, ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  let copied = 0;
  while (Date.now() < deadline && (copied = await targetTotal()) < 250) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGKILL');
  await exited;
  assert.ok(copied >= 250 && copied < 1000, `killed after ${copied} copies: ${output}`);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { folders: Record<string, { lastUid: number }> };
  assert.ok(Object.keys(state.folders).length >= 1, 'progress was recorded');

  const resumed = await runCli(args, env);
  assert.is(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /done: 1000\/1000 messages \(\d+ copied, \d+ already there\)/);
  await assertIdentical();
});

test('a second run copies nothing', async () => {
  const again = await runCli(args, env);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /done: 1000\/1000 messages \(0 copied, 1000 already there\)/);
  await assertIdentical();
});

test('without the state file, matching by Message-ID, date and size still copies nothing twice', async () => {
  const fresh = await runCli([...args.slice(0, -1), join(dir.path, 'other-state.json')], env);
  assert.is(fresh.code, 0, fresh.stderr);
  assert.match(fresh.stdout, /\(0 copied, 1000 already there\)/);
  await assertIdentical();
});

test('the mailbox key minted for the run is revoked afterwards', async () => {
  const keys = (await target.server.store.apiKeys.listForTeam(targetAccount.teamId)).filter(
    (k) => k.accountId === targetAccount.id,
  );
  assert.ok(keys.length >= 3);
  // The killed run could not revoke its key; every finished run did.
  assert.is(keys.filter((k) => !k.revokedAt).length, 1);
});

test('port 143 without --starttls: STARTTLS is negotiated because the server offers it (LOGIN is disabled in clear text)', async () => {
  const plain = ['--port', String(source.port('imap'))];
  const run = await runCli(
    [
      ...args
        .filter((a) => a !== '--tls')
        .map((a) =>
          a === String(source.port('imaps')) ? plain[1]! : a === statePath ? join(dir.path, 'plain-state.json') : a,
        ),
    ],
    env,
  );
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /\(0 copied, 1000 already there\)/);
});

test('a server with LOGINDISABLED and no STARTTLS: the error says so and what to do', async () => {
  // A peer that greets like such a server and refuses everything else (RFC 9051 §6.2.3).
  const server = createServer((socket) => {
    socket.write('* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] plain only\r\n');
    socket.on('data', (data) => {
      for (const line of data.toString().split('\r\n').filter(Boolean)) {
        const tag = line.split(' ')[0];
        if (/ CAPABILITY$/i.test(line)) socket.write(`* CAPABILITY IMAP4rev1 LOGINDISABLED\r\n${tag} OK done\r\n`);
        else if (/ LOGOUT$/i.test(line)) socket.end(`* BYE\r\n${tag} OK bye\r\n`);
        else socket.write(`${tag} NO [PRIVACYREQUIRED] not in clear text\r\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.4', r));
  try {
    const port = (server.address() as { port: number }).port;
    const run = await runCli(
      [
        'import',
        'imap',
        '--host',
        '127.0.0.4',
        '--port',
        String(port),
        '--user',
        SOURCE_USER,
        '--password',
        SOURCE_PASSWORD,
        '--mailbox',
        TARGET_USER,
        '--state',
        join(dir.path, 'x.json'),
      ],
      env,
    );
    assert.is(run.code, 1, run.stderr);
    assert.match(run.stderr, /LOGINDISABLED/);
    assert.match(run.stderr, /use --tls/);
  } finally {
    server.close();
  }
});

test('a wrong source password fails with the IMAP answer and exit 77', async () => {
  const refused = await runCli(
    args.map((a) => (a === SOURCE_PASSWORD ? 'wrong' : a)),
    env,
  );
  assert.is(refused.code, 77, refused.stderr);
  assert.match(refused.stderr, /IMAP login refused/);
  source.server.login.byIp.reset('127.0.0.2');
  source.server.login.byIp.reset('127.0.0.3');
  for (const ip of ['127.0.0.2', '127.0.0.3']) source.server.login.byPair.reset(pairKey(SOURCE_USER, ip));
});

test.run();
