// mbsync (isync) as a real sync client: a 2,000-message account down to a Maildir over implicit TLS,
// local flag changes, deletions, a new message and a new folder back up, a run that must change
// nothing, then changes made on the server down again over STARTTLS.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixtureMessages, MIME_FIXTURES, SPAM_FIXTURES } from '../helpers/fixtures.ts';
import { imapCertificate, PASSWORD, startImap, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

const COUNT = 2000;

let f: ImapFixture;
let dir: ReturnType<typeof tempDir>;
let rc: string;
/** Seeded messages by UID, as the server holds them, and whether each was delivered \Seen. */
const seeded = new Map<number, { raw: Buffer; seen: boolean }>();

/**
 * Real mail from the in-repo fixtures (CRLF line ends), padded with generated mail. Messages with no
 * blank line after the header are left out: mbsync skips them ("message has incomplete header;
 * skipping"), as it must find the header's end to add its X-TUID line.
 */
function fixtureMail(): Buffer[] {
  const out: Buffer[] = [];
  for (const { raw } of [...fixtureMessages(SPAM_FIXTURES), ...fixtureMessages(MIME_FIXTURES)]) {
    const crlf = Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    if (crlf.includes('\r\n\r\n')) out.push(crlf);
  }
  assert.ok(out.length > 250, `only ${out.length} fixture messages`);
  while (out.length < COUNT)
    out.push(makeMessage({ subject: `Generated ${out.length}`, bytes: 200 + (out.length % 7) * 300 }));
  return out;
}

function mbsync(timeoutMs = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('mbsync', ['-a', '-c', rc], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`mbsync failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve();
    });
  });
}

/** Maildir messages of a folder: file name → path (new/ and cur/). */
function maildirFiles(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const sub of ['cur', 'new']) {
    const path = join(dir.path, 'mail', folder, sub);
    for (const name of readdirSync(path)) files.set(name, join(path, name));
  }
  return files;
}

/**
 * The server UID of a Maildir file: the name carries the Maildir's own UID (",U=<n>"), and mbsync's
 * state file pairs it with the server's ("<far> <near> <flags>" lines after a blank line).
 */
function serverUids(folder = 'INBOX'): (name: string) => number {
  const state = readFileSync(join(dir.path, 'mail', folder, '.mbsyncstate'), 'utf8');
  const pairs = new Map<number, number>();
  for (const line of state.slice(state.indexOf('\n\n') + 2).split('\n')) {
    const [far, near] = line.split(' ').map(Number);
    if (far && near) pairs.set(near, far);
  }
  return (name) => pairs.get(Number(/,U=(\d+)/.exec(name)?.[1])) ?? 0;
}

const maildirFlags = (name: string): string => /:2,([A-Z]*)$/.exec(name)?.[1] ?? '';

/** Maildir stores lines with LF: the server's CRLF bytes as mbsync writes them. */
const asMaildir = (raw: Buffer): Buffer => Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');

/** mbsync marks each message it copies with an X-TUID header line at the end of the header; drop it. */
function withoutTuid(file: Buffer): Buffer {
  const text = file.toString('latin1');
  const end = text.indexOf('\n\n');
  const header = end < 0 ? text : text.slice(0, end + 1);
  const stripped = header.replace(/^X-TUID: [^\n]*\n/m, '');
  assert.is.not(stripped, header, 'X-TUID line');
  return Buffer.from(stripped + text.slice(header.length), 'latin1');
}

test.before(async () => {
  f = await startImap();
  dir = tempDir('wren-mbsync-');
  const cert = join(dir.path, 'cert.pem');
  writeFileSync(cert, (await imapCertificate()).cert);
  const messages = fixtureMail();
  // Deliver in parallel batches: the store's group commit shares the fsyncs.
  for (let i = 0; i < messages.length; i += 50) {
    const batch = messages.slice(i, i + 50).map((raw, j) => ({ raw, seen: (i + j) % 3 === 0 }));
    const uids = await Promise.all(batch.map((m) => f.deliver(m.raw, f.inbox, m.seen ? ['\\Seen'] : [])));
    uids.forEach((uid, j) => seeded.set(uid, batch[j]!));
  }
  mkdirSync(join(dir.path, 'mail'));
  rc = join(dir.path, 'mbsyncrc');
  writeFileSync(
    rc,
    [
      'IMAPAccount wren',
      'Host 127.0.0.1',
      `Port ${f.tlsPort}`,
      `User ${USER}`,
      `Pass "${PASSWORD}"`,
      'SSLType IMAPS',
      `CertificateFile ${cert}`,
      '',
      'IMAPStore wren-far',
      'Account wren',
      '',
      'MaildirStore wren-near',
      `Path ${dir.path}/mail/`,
      `Inbox ${dir.path}/mail/INBOX`,
      'SubFolders Verbatim',
      '',
      'Channel wren',
      'Far :wren-far:',
      'Near :wren-near:',
      'Patterns *',
      'Sync All',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      'CopyArrivalDate yes',
      '',
    ].join('\n'),
  );
});

test.after(async () => {
  await f.close();
  dir.remove();
});

test('first sync: every message down to the Maildir, byte for byte, with its flags', async () => {
  await mbsync();
  const files = maildirFiles('INBOX');
  assert.is(files.size, COUNT);
  const uidOfFile = serverUids();
  const internalDates = new Map((await f.store.messages.list(f.inbox.id)).map((m) => [m.uid, m.internalDate]));
  for (const [name, path] of files) {
    const uid = uidOfFile(name);
    const message = seeded.get(uid);
    assert.ok(message, `unexpected file ${name}`);
    assert.ok(withoutTuid(readFileSync(path)).equals(asMaildir(message.raw)), `bytes differ for UID ${uid}`);
    assert.is(maildirFlags(name).includes('S'), message.seen, `\\Seen of UID ${uid}`);
    assert.is(statSync(path).mtimeMs, Math.floor(internalDates.get(uid)! / 1000) * 1000, `arrival date of UID ${uid}`); // INTERNALDATE has whole seconds
  }
  for (const folder of ['Drafts', 'Sent', 'Junk', 'Trash', 'Archive']) assert.is(maildirFiles(folder).size, 0, folder);
});

/** What the second sync must carry to the server, by UID. */
const expected = {
  seen: new Set<number>(),
  unseen: new Set<number>(),
  flagged: new Set<number>(),
  gone: new Set<number>(),
};
const NEW_SUBJECT = 'Written in the Maildir';
const ARRIVED = Date.UTC(2021, 4, 6, 7, 8, 9);
const LOCAL_FOLDER = 'Lists/Local';

/** Renames a Maildir file to carry `flags` (sorted letters), moving it to cur/. */
function setMaildirFlags(path: string, name: string, flags: string): void {
  const base = name.replace(/:2,[A-Z]*$/, '');
  renameSync(path, join(dir.path, 'mail', 'INBOX', 'cur', `${base}:2,${[...flags].sort().join('')}`));
}

test('second sync: local flags, deletions and new messages reach the server', async () => {
  const uidOfFile = serverUids();
  const files = [...maildirFiles('INBOX')].sort((a, b) => uidOfFile(a[0]) - uidOfFile(b[0]));
  files.forEach(([name, path], i) => {
    const uid = uidOfFile(name);
    const flags = maildirFlags(name);
    if (i % 100 === 1) {
      rmSync(path); // deleted locally
      expected.gone.add(uid);
    } else if (i % 100 === 2) {
      setMaildirFlags(path, name, `${flags}T`); // \Deleted, expunged by "Expunge Both"
      expected.gone.add(uid);
    } else if (i % 50 === 3) {
      setMaildirFlags(path, name, `${flags.replace('S', '')}SF`);
      expected.seen.add(uid);
      expected.flagged.add(uid);
    } else if (i % 50 === 4 && flags.includes('S')) {
      setMaildirFlags(path, name, flags.replace('S', ''));
      expected.unseen.add(uid);
    } else if (i % 50 === 5 && !flags.includes('S')) {
      setMaildirFlags(path, name, 'S');
      expected.seen.add(uid);
    }
  });
  assert.ok(
    expected.unseen.size > 5 && expected.gone.size === 40,
    JSON.stringify({ unseen: expected.unseen.size, gone: expected.gone.size }),
  );
  const newFile = join(dir.path, 'mail', 'INBOX', 'new', '1700000000.local1.host');
  writeFileSync(newFile, asMaildir(makeMessage({ subject: NEW_SUBJECT, bytes: 3000 })));
  utimesSync(newFile, ARRIVED / 1000, ARRIVED / 1000); // CopyArrivalDate: the file's mtime becomes INTERNALDATE
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir.path, 'mail', LOCAL_FOLDER, sub), { recursive: true });
  writeFileSync(
    join(dir.path, 'mail', LOCAL_FOLDER, 'cur', '1700000001.local2.host:2,S'),
    asMaildir(makeMessage({ subject: 'In a new folder' })),
  );

  await mbsync();

  const messages = await f.store.messages.list(f.inbox.id);
  assert.is(messages.length, COUNT - expected.gone.size + 1);
  const byUid = new Map(messages.map((m) => [m.uid, m]));
  for (const uid of expected.gone) assert.not.ok(byUid.has(uid), `UID ${uid} should be expunged`);
  for (const [uid, { seen }] of seeded) {
    const message = byUid.get(uid);
    if (!message) continue;
    const wantSeen = expected.seen.has(uid) || (seen && !expected.unseen.has(uid));
    assert.is(message.flags.includes('\\Seen'), wantSeen, `\\Seen of UID ${uid}`);
    assert.is(message.flags.includes('\\Flagged'), expected.flagged.has(uid), `\\Flagged of UID ${uid}`);
    assert.not.ok(message.flags.includes('\\Deleted'), `\\Deleted of UID ${uid}`);
  }
  const added = messages.filter((m) => !seeded.has(m.uid));
  assert.is(added.length, 1);
  const text = (await f.store.read(added[0]!)).toString('latin1');
  assert.match(text, `Subject: ${NEW_SUBJECT}\r\n`);
  assert.not.match(text, /[^\r]\n/, 'stored with CRLF line ends');
  assert.equal(added[0]!.flags, []);
  assert.is(added[0]!.internalDate, ARRIVED);

  const local = f.store.folders.byName(f.account.id, LOCAL_FOLDER);
  assert.ok(local, 'folder created on the server');
  const inLocal = await f.store.messages.list(local.id);
  assert.is(inLocal.length, 1);
  assert.equal(inLocal[0]!.flags, ['\\Seen']);

  // The Maildir now names the uploaded message by its server UID, and lost the deleted ones.
  const after = maildirFiles('INBOX');
  assert.is(after.size, messages.length);
  assert.ok([...after.keys()].some((name) => serverUids()(name) === added[0]!.uid));
});

test('third sync: nothing left to do', async () => {
  const folders = () =>
    f.store.folders
      .list(f.account.id)
      .map((x) => `${x.name} ${x.uidNext} ${x.highestModSeq} ${x.exists}`)
      .sort();
  const before = { folders: folders(), files: [...maildirFiles('INBOX').keys()].sort() };
  await mbsync();
  assert.equal(folders(), before.folders);
  assert.equal([...maildirFiles('INBOX').keys()].sort(), before.files);
});

test('server-side changes come down (STARTTLS this time)', async () => {
  writeFileSync(
    rc,
    readFileSync(rc, 'utf8')
      .replace(`Port ${f.tlsPort}`, `Port ${f.port}`)
      .replace('SSLType IMAPS', 'SSLType STARTTLS'),
  );
  const messages = await f.store.messages.list(f.inbox.id);
  const answered = messages.slice(10, 15).map((m) => m.uid);
  const unseen = messages
    .filter((m) => m.flags.includes('\\Seen'))
    .slice(0, 5)
    .map((m) => m.uid);
  const expunged = messages.slice(20, 23).map((m) => m.uid);
  await f.store.messages.updateFlags(f.inbox.id, answered, 'add', ['\\Answered']);
  await f.store.messages.updateFlags(f.inbox.id, unseen, 'remove', ['\\Seen']);
  await f.store.messages.expunge(f.inbox.id, expunged);
  const fresh = [
    makeMessage({ subject: 'Arrived later 1' }),
    makeMessage({ subject: 'Arrived later 2', bytes: 400_000 }),
  ];
  const freshUids = [await f.deliver(fresh[0]!), await f.deliver(fresh[1]!, f.inbox, ['\\Flagged'])];

  await mbsync();

  const files = maildirFiles('INBOX');
  const uidOfFile = serverUids();
  const byUid = new Map([...files].map(([name, path]) => [uidOfFile(name), { name, path }]));
  assert.is(files.size, messages.length - expunged.length + fresh.length);
  for (const uid of expunged) assert.not.ok(byUid.has(uid), `UID ${uid} removed locally`);
  for (const uid of answered) assert.ok(maildirFlags(byUid.get(uid)!.name).includes('R'), `\\Answered of UID ${uid}`);
  for (const uid of unseen) assert.not.ok(maildirFlags(byUid.get(uid)!.name).includes('S'), `\\Seen of UID ${uid}`);
  freshUids.forEach((uid, i) => {
    const file = byUid.get(uid);
    assert.ok(file, `UID ${uid} fetched`);
    assert.ok(withoutTuid(readFileSync(file.path)).equals(asMaildir(fresh[i]!)), `bytes of UID ${uid}`);
  });
  assert.is(maildirFlags(byUid.get(freshUids[1]!)!.name), 'F');
});

test.run();
