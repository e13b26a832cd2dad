// `wrenmail migrate-store` end to end: a LevelDB store filled through real use (mailboxes made through the
// API, mail delivered over SMTP, flags set over IMAP) moves to PostgreSQL while the server is stopped;
// Wren started on PostgreSQL serves the same messages over IMAP with the same UIDVALIDITY, UIDs and flags;
// the store moves back into a fresh LevelDB directory with the same checksum. Refused: a running server
// (either engine's lock), a destination that holds records (unless --force). `wrenmail restore` loads a
// backup into PostgreSQL.
import { createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ImapFlow } from 'imapflow';
import { writeSnapshot } from '../../src/store/backup.ts';
import { digestStore } from '../../src/store/copy.ts';
import { Kv } from '../../src/store/db.ts';
import { LevelEngine } from '../../src/store/engines/leveldb.ts';
import { PostgresEngine } from '../../src/store/engines/postgres.ts';
import { sendToMx, startInstance, type Instance } from '../helpers/instance.ts';
import { type PostgresCluster, startPostgres } from '../helpers/postgres.ts';
import { runCli } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const PASSWORD = 'a long enough password';
const USERS = ['ann@wren.example', 'bob@wren.example'];
const dir = tempDir('wrenmail-migrate-');
const data = join(dir.path, 'data');
const back = join(dir.path, 'back');
let cluster: PostgresCluster;
let pgUrl: string;

interface Digest {
  records: number;
  sha256: string;
}
interface Migration {
  source: Digest & { engine: string };
  destination: Digest & { engine: string };
  verified: boolean;
}

test.before(async () => {
  cluster = await startPostgres();
  pgUrl = cluster.createDatabase('migrated');
});
test.after(() => {
  cluster?.stop();
  dir.remove();
});

const start = (store: Record<string, string>): Promise<Instance> =>
  startInstance({ overrides: { data_dir: data, store } });
const onLevel = () => start({ engine: 'leveldb' });
const onPostgres = () => start({ engine: 'postgres', postgres_url: pgUrl });

const migrate = (to: string, extra: string[] = [], env: Record<string, string> = {}) =>
  runCli(['migrate-store', '--to', to, '--json', ...extra], {
    WRENMAIL_DATA_DIR: data,
    WRENMAIL_STORE_POSTGRES_URL: pgUrl,
    ...env,
  });

async function api(instance: Instance, method: string, path: string, body: unknown): Promise<void> {
  const key = readFileSync(join(data, 'bootstrap-root.key'), 'utf8').trim();
  const response = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.is(response.status, 201, await response.text());
}

const imap = (instance: Instance, user: string) =>
  new ImapFlow({
    host: '127.0.0.1',
    port: instance.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: PASSWORD },
    logger: false,
  });

/** Every message of every folder of `user`: UIDVALIDITY, UID, flags, subject, size. */
async function mailbox(instance: Instance, user: string): Promise<string[]> {
  const client = imap(instance, user);
  await client.connect();
  const seen: string[] = [];
  try {
    for (const { path } of await client.list()) {
      const lock = await client.getMailboxLock(path);
      try {
        const validity = (client.mailbox as { uidValidity: bigint }).uidValidity;
        for await (const m of client.fetch(
          '1:*',
          { uid: true, flags: true, envelope: true, size: true },
          { uid: true },
        ))
          seen.push(
            `${path} ${validity} ${m.uid} [${[...m.flags!].sort().join(' ')}] ${m.envelope!.subject} ${m.size}`,
          );
      } finally {
        lock.release();
      }
    }
  } finally {
    await client.logout();
  }
  return seen.sort();
}

const before: Record<string, string[]> = {};

test('a store made through real use on LevelDB moves to PostgreSQL, verified, only while the server is stopped', async () => {
  const instance = await onLevel();
  try {
    await api(instance, 'POST', '/domains', { domain: 'wren.example' });
    for (const email of USERS) await api(instance, 'POST', '/mailboxes', { email, password: PASSWORD });
    for (let i = 0; i < 6; i++)
      await sendToMx(instance, {
        from: 'someone@elsewhere.test',
        to: USERS[i % 2],
        subject: `message ${i}`,
        text: `Body ${i}\n`.repeat(50 * (i + 1)),
      });
    // Flags and a folder of ann's own, so the copy has more than fresh deliveries.
    const client = imap(instance, USERS[0]!);
    await client.connect();
    try {
      await client.mailboxCreate('Archive');
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageFlagsAdd('1', ['\\Seen', '$Important']);
        await client.messageFlagsAdd('2', ['\\Flagged']);
        await client.messageCopy('3', 'Archive');
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
    for (const user of USERS) before[user] = await mailbox(instance, user);
    assert.is(before[USERS[0]!]!.length, 4, before[USERS[0]!]!.join('\n'));

    // The server holds LevelDB's lock: nothing is copied from a store that changes.
    const running = await migrate('postgres');
    assert.is(running.code, 75, running.stderr);
    assert.match(running.stderr, /in use .*stop the server first/);
  } finally {
    await instance.stop();
  }

  const run = await migrate('postgres');
  assert.is(run.code, 0, run.stderr);
  const first = JSON.parse(run.stdout) as Migration;
  assert.is(first.source.engine, 'leveldb');
  assert.is(first.destination.engine, 'postgres');
  assert.ok(first.verified);
  assert.ok(first.source.records > 20, `${first.source.records} records`);
  assert.is(first.destination.records, first.source.records);
  assert.is(first.destination.sha256, first.source.sha256);

  // A second run finds the database filled: refused, and it still holds the same records.
  const again = await migrate('postgres');
  assert.is(again.code, 73, again.stderr);
  assert.match(again.stderr, /already holds records; --force/);
  const forced = await migrate('postgres', ['--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.is((JSON.parse(forced.stdout) as Migration).destination.sha256, first.source.sha256);
});

test('Wren on PostgreSQL serves the same messages: UIDVALIDITY, UIDs, flags', async () => {
  const instance = await onPostgres();
  try {
    for (const user of USERS) assert.equal(await mailbox(instance, user), before[user], user);
    // The server on PostgreSQL holds the advisory lock: refused there too.
    const running = await migrate('leveldb', [], { WRENMAIL_DATA_DIR: back });
    assert.is(running.code, 75, running.stderr);
  } finally {
    await instance.stop();
  }
});

test('back into a fresh LevelDB directory with the same checksum on both sides', async () => {
  const run = await migrate('leveldb', [], { WRENMAIL_DATA_DIR: back });
  assert.is(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout) as Migration;
  assert.is(result.source.engine, 'postgres');
  assert.ok(result.verified);
  assert.is(result.destination.sha256, result.source.sha256);
  assert.is(result.destination.records, result.source.records);
  // Read independently of the command: the new directory holds exactly what PostgreSQL held.
  const level = await LevelEngine.open(join(back, 'store'));
  try {
    const digest = await digestStore(level);
    assert.is(digest.sha256, result.source.sha256);
    assert.is(digest.records, result.source.records);
  } finally {
    await level.close();
  }
});

test('restore loads a backup into an empty PostgreSQL database, and refuses one that holds records', async () => {
  // A backup of the stopped LevelDB store, as `wrenmail backup` writes it (gzip of writeSnapshot).
  const file = join(dir.path, 'backup.gz');
  const kv = await Kv.open(join(data, 'store'));
  let expected: Awaited<ReturnType<typeof digestStore>>;
  try {
    expected = await digestStore(kv.engine);
    const gzip = createGzip();
    const written = pipeline(gzip, createWriteStream(file));
    await writeSnapshot(kv, gzip);
    gzip.end();
    await written;
  } finally {
    await kv.close();
  }
  const url = cluster.createDatabase('restored');
  const env = { WRENMAIL_DATA_DIR: data, WRENMAIL_STORE_ENGINE: 'postgres', WRENMAIL_STORE_POSTGRES_URL: url };
  const run = await runCli(['restore', file], env);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`restored ${expected.records} records`));
  const engine = await PostgresEngine.open(url);
  try {
    assert.equal(await digestStore(engine), expected);
  } finally {
    await engine.close();
  }
  const again = await runCli(['restore', file], env);
  assert.is(again.code, 1);
  assert.match(again.stderr, /already holds a store/);
});

test('usage errors and a missing source', async () => {
  const none = await runCli(['migrate-store'], { WRENMAIL_DATA_DIR: data });
  assert.is(none.code, 64);
  const empty = await migrate('postgres', [], { WRENMAIL_DATA_DIR: join(dir.path, 'nothing') });
  assert.is(empty.code, 66, empty.stderr);
  assert.match(empty.stderr, /no LevelDB store at/);
});

test.run();
