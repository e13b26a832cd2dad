// `wrenmail export maildir` from a running server (the CLI as a real process): Maildir++ layout, flags
// in file names, mtimes = internal dates; a re-export writes only changes; importing the export into
// another mailbox gives the same messages, flags, dates and bytes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Account, Store } from '../../src/store/index.ts';
import { cliEnv, startInstance, type Instance } from '../helpers/instance.ts';
import { runCli } from '../helpers/process.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const FROM = 'exporter@example.test';
const INTO = 'copy@example.test';
const FOLDERS = ['INBOX', 'Work/Projects', 'Archiv/Übersicht'];
let server: Instance;
let from: Account;
let into: Account;
let env: Record<string, string>;
const dir = tempDir('wrenmail-export-');
const root = join(dir.path, 'Maildir');

test.before(async () => {
  server = await startInstance();
  from = await server.addAccount(FROM, 'a long enough password');
  into = await server.addAccount(INTO, 'another long password');
  const store = server.server.store;
  for (const name of ['Work', 'Work/Projects', 'Archiv', 'Archiv/Übersicht']) await store.createFolder(from.id, name);
  const flagSets = [
    ['\\Seen'],
    ['\\Seen', '\\Answered', '$Label1'],
    [],
    ['\\Flagged', '\\Draft', '$Forwarded'],
    ['\\Deleted', 'Custom'],
  ];
  let n = 0;
  for (const name of FOLDERS) {
    for (let i = 0; i < 3; i++, n++) {
      const folder = store.folders.byName(from.id, name)!;
      await store.deliver(
        makeMessage({ subject: `${name} ${i}`, bytes: 200 + n * 50 }),
        [{ folder, flags: flagSets[n % flagSets.length] }],
        { internalDate: Date.UTC(2022, 5, 1 + n, 8, 30, 15) },
      );
    }
  }
  env = { ...cliEnv(server), WRENMAIL_IMAP_TLS_LISTEN: '127.0.0.1:0' };
});

test.after(async () => {
  await server?.stop();
  dir.remove();
});

async function contents(store: Store, account: Account, name: string) {
  const folder = store.folders.byName(account.id, name);
  if (!folder) return [];
  return Promise.all(
    (await store.messages.list(folder.id)).map(async (m) => ({
      flags: [...m.flags].sort().join(' '),
      date: m.internalDate,
      size: m.size,
      raw: (await store.read(m)).toString('base64'),
    })),
  );
}

test('every folder lands in Maildir++ with flags in the names and mtime = internal date', async () => {
  const run = await runCli(['export', 'maildir', '--mailbox', FROM, root], env);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /done: 9\/9 messages \(9 exported, 0 unchanged\)/);
  const inbox = readdirSync(join(root, 'cur')).sort();
  assert.is(inbox.length, 3);
  assert.match(inbox.join(' '), /,S=\d+:2,S\b/);
  assert.match(inbox.join(' '), /:2,RSa\b/); // $Label1 is keyword a
  assert.ok(existsSync(join(root, '.Work.Projects', 'maildirfolder')));
  assert.is(readdirSync(join(root, '.Work.Projects', 'cur')).length, 3);
  assert.is(readdirSync(join(root, '.Archiv.&ANw-bersicht', 'cur')).length, 3, 'folder names in modified UTF-7');
  const first = inbox.find((name) => name.startsWith(String(Date.UTC(2022, 5, 1, 8, 30, 15) / 1000)))!;
  assert.is(statSync(join(root, 'cur', first)).mtimeMs, Date.UTC(2022, 5, 1, 8, 30, 15));
  assert.match(readFileSync(join(root, 'dovecot-keywords'), 'utf8'), /^0 \$Label1$/m);
});

test('a second export writes nothing; a changed flag renames the one file', async () => {
  const again = await runCli(['export', 'maildir', '--mailbox', FROM, root], env);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(0 exported, 9 unchanged\)/);
  const store = server.server.store;
  const inbox = store.folders.byName(from.id, 'INBOX')!;
  const [firstMessage] = await store.messages.list(inbox.id);
  await store.messages.updateFlags(inbox.id, [firstMessage!.uid], 'add', ['\\Flagged']);
  const changed = await runCli(['export', 'maildir', '--mailbox', FROM, root], env);
  assert.match(changed.stdout, /\(1 exported, 8 unchanged\)/);
  const names = readdirSync(join(root, 'cur'));
  assert.is(names.length, 3);
  assert.ok(
    names.some((n) => n.endsWith(':2,FS')),
    names.join(' '),
  );
});

test('importing the export into another mailbox gives identical folders', async () => {
  const run = await runCli(['import', 'maildir', root, '--mailbox', INTO], env);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /\(9 copied, 0 already there\)/);
  const store = server.server.store;
  for (const name of FOLDERS) {
    const want = await contents(store, from, name);
    assert.is(want.length, 3);
    assert.equal(await contents(store, into, name), want, name);
  }
});

test.run();
