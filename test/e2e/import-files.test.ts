// `wrenmail import mbox` and `import maildir` against a running server (the CLI as a real process):
// flags, internal dates, folder hierarchy and bytes arrive; a second run copies nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Account } from '../../src/store/index.ts';
import { cliEnv, startInstance, type Instance } from '../helpers/instance.ts';
import { runCli } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const USER = 'importer@example.test';
let server: Instance;
let account: Account;
let env: Record<string, string>;
const dir = tempDir('wrenmail-import-files-');

test.before(async () => {
  server = await startInstance();
  account = await server.addAccount(USER, 'a long enough password');
  env = { ...cliEnv(server), WRENMAIL_IMAP_TLS_LISTEN: '127.0.0.1:0' };
});

test.after(async () => {
  await server?.stop();
  dir.remove();
});

async function messagesIn(name: string) {
  const store = server.server.store;
  const folder = store.folders.byName(account.id, name);
  assert.ok(folder, `folder ${name} exists`);
  return Promise.all(
    (await store.messages.list(folder.id)).map(async (m) => ({
      flags: [...m.flags].sort(),
      date: m.internalDate,
      raw: (await store.read(m)).toString('latin1'),
    })),
  );
}

const MBOX = [
  'From alice@example.org Sat Jan  3 01:05:34 2015',
  'From: Alice <alice@example.org>',
  'To: importer@example.test',
  'Subject: first',
  'Message-ID: <mbox-1@example.org>',
  'Status: RO',
  'X-Status: AF',
  'X-Keywords: $Work',
  '',
  'Hello.',
  '>From the quoted line (mboxrd).',
  '',
  'From bob@example.org Mon Feb 16 12:00:00 2015',
  'From: Bob <bob@example.org>',
  'Subject: second, unread',
  'Message-ID: <mbox-2@example.org>',
  '',
  'Body two.',
  '',
].join('\n');

test('mbox: messages, flags from Status/X-Status/X-Keywords, dates from the From lines', async () => {
  const file = join(dir.path, 'old.mbox');
  writeFileSync(file, MBOX);
  const first = await runCli(['import', 'mbox', file, '--mailbox', USER, '--folder', 'Old/Mail'], env);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /done: 2 messages \(2 copied, 0 already there\)/);
  const [one, two] = await messagesIn('Old/Mail');
  assert.equal(one!.flags, ['$Work', '\\Answered', '\\Flagged', '\\Seen']);
  assert.is(one!.date, Date.UTC(2015, 0, 3, 1, 5, 34));
  assert.is(
    one!.raw,
    'From: Alice <alice@example.org>\r\nTo: importer@example.test\r\nSubject: first\r\nMessage-ID: <mbox-1@example.org>\r\n\r\nHello.\r\nFrom the quoted line (mboxrd).\r\n',
  );
  assert.equal(two!.flags, []);
  assert.is(two!.date, Date.UTC(2015, 1, 16, 12));
  assert.is(
    two!.raw,
    'From: Bob <bob@example.org>\r\nSubject: second, unread\r\nMessage-ID: <mbox-2@example.org>\r\n\r\nBody two.\r\n',
  );

  const again = await runCli(['import', 'mbox', file, '--mailbox', USER, '--folder', 'Old/Mail'], env);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(0 copied, 2 already there\)/);
  assert.is((await messagesIn('Old/Mail')).length, 2);
});

test('maildir: INBOX and .Sub.Folder folders, flags and keywords from file names, dates from mtimes', async () => {
  const root = join(dir.path, 'Maildir');
  const put = (folder: string, sub: string, name: string, body: string, mtime: number) => {
    const at = join(root, folder, sub);
    mkdirSync(at, { recursive: true });
    writeFileSync(join(at, name), body);
    utimesSync(join(at, name), mtime, mtime);
  };
  for (const folder of ['', '.Work.Projects'])
    for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(root, folder, sub), { recursive: true });
  put(
    '',
    'cur',
    '1700000000.M1P1.old,S=60:2,FS',
    'Subject: read and flagged\nMessage-ID: <md-1@example.org>\n\nOne.\n',
    1_700_000_000,
  );
  put('', 'new', '1700000100.M2P1.old', 'Subject: new\nMessage-ID: <md-2@example.org>\n\nTwo.\n', 1_700_000_100);
  put(
    '.Work.Projects',
    'cur',
    '1700000200.M3P1.old:2,RSTa',
    'Subject: replied\r\nMessage-ID: <md-3@example.org>\r\n\r\nThree.\r\n',
    1_700_000_200,
  );
  writeFileSync(join(root, '.Work.Projects', 'dovecot-keywords'), '0 $Important\n');
  const first = await runCli(['import', 'maildir', root, '--mailbox', USER], env);
  assert.is(first.code, 0, first.stderr);
  assert.match(first.stdout, /done: 3 messages \(3 copied, 0 already there\)/);

  const inbox = await messagesIn('INBOX');
  const one = inbox.find((m) => m.raw.includes('md-1'))!;
  const two = inbox.find((m) => m.raw.includes('md-2'))!;
  assert.equal(one.flags, ['\\Flagged', '\\Seen']);
  assert.is(one.date, 1_700_000_000_000);
  assert.is(one.raw, 'Subject: read and flagged\r\nMessage-ID: <md-1@example.org>\r\n\r\nOne.\r\n');
  assert.equal(two.flags, []);
  assert.is(two.date, 1_700_000_100_000);
  const [three] = await messagesIn('Work/Projects');
  assert.equal(three!.flags, ['$Important', '\\Answered', '\\Deleted', '\\Seen']);
  assert.is(three!.date, 1_700_000_200_000);

  const again = await runCli(['import', 'maildir', root, '--mailbox', USER], env);
  assert.is(again.code, 0, again.stderr);
  assert.match(again.stdout, /\(0 copied, 3 already there\)/);
  assert.is((await messagesIn('INBOX')).length, 2);
});

test('usage errors exit 64; an unknown mailbox exits 1 with the reason', async () => {
  const noMailbox = await runCli(['import', 'mbox', join(dir.path, 'old.mbox')], env);
  assert.is(noMailbox.code, 64);
  assert.match(noMailbox.stderr, /needs --mailbox/);
  const unknown = await runCli(['import', 'mbox', join(dir.path, 'old.mbox'), '--mailbox', 'nobody@example.test'], env);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /no mailbox nobody@example.test/);
});

test.run();
