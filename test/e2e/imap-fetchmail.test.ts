// fetchmail (Debian package) as a real IMAP client over implicit TLS with a pinned certificate: it
// retrieves the unseen messages byte for byte and marks them \Seen, finds nothing new the second
// time, then fetches everything and deletes it from the server.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { imapCertificate, PASSWORD, startImap, USER, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

let f: ImapFixture;
let dir: ReturnType<typeof tempDir>;
const out = (): string => join(dir.path, 'out');
const seeded: { raw: Buffer; seen: boolean }[] = [];

/** Runs fetchmail once; resolves with its exit code (0: mail fetched, 1: no mail). */
function fetchmail(options: string): Promise<number> {
  const rc = join(dir.path, 'fetchmailrc');
  writeFileSync(
    rc,
    [
      'set no syslog',
      'set no bouncemail',
      `poll 127.0.0.1 service ${f.tlsPort} protocol IMAP timeout 30`,
      `  user "${USER}" there with password "${PASSWORD}" is "local" here`,
      `  ssl sslcertck sslcertfile "${join(dir.path, 'cert.pem')}" sslcommonname "imap.wren.test"`,
      `  no rewrite ${options}`,
      `  mda "/bin/sh -c 'cat > $(mktemp ${out()}/msg.XXXXXX)'"`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return new Promise((resolve, reject) => {
    execFile(
      'fetchmail',
      ['-f', rc, '--nosyslog'],
      { timeout: 60_000, env: { ...process.env, HOME: dir.path } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (code > 1) reject(new Error(`fetchmail exited ${code}: ${stdout}\n${stderr}`));
        else resolve(code);
      },
    );
  });
}

/** What the MDA received: fetchmail prepends its own Received header and hands over LF line ends. */
function delivered(): Buffer[] {
  return readdirSync(out()).map((name) => readFileSync(join(out(), name)));
}

const asLf = (raw: Buffer): string => raw.toString('latin1').replace(/\r\n/g, '\n');

test.before(async () => {
  f = await startImap();
  dir = tempDir('wren-fetchmail-');
  mkdirSync(out());
  writeFileSync(join(dir.path, 'cert.pem'), (await imapCertificate()).cert);
  for (let i = 0; i < 20; i++) {
    const raw = makeMessage({ subject: `fetchmail ${i}`, bytes: 500 + i * 400 });
    seeded.push({ raw, seen: i % 4 === 0 });
    await f.deliver(raw, f.inbox, i % 4 === 0 ? ['\\Seen'] : []);
  }
});

test.after(async () => {
  await f.close();
  dir.remove();
});

test('keep: the unseen messages come down intact and are marked \\Seen', async () => {
  assert.is(await fetchmail('keep'), 0);
  const got = delivered().map(asLf);
  const unseen = seeded.filter((m) => !m.seen);
  assert.is(got.length, unseen.length);
  for (const m of unseen) {
    const original = asLf(m.raw);
    const copy = got.find((g) => g.endsWith(original));
    assert.ok(copy, 'an intact copy');
    assert.match(copy!.slice(0, copy!.length - original.length), /^Received: from 127\.0\.0\.1[\s\S]*fetchmail/);
  }
  const messages = await f.store.messages.list(f.inbox.id);
  assert.is(messages.length, 20);
  assert.ok(messages.every((m) => m.flags.includes('\\Seen')));
});

test('keep again: nothing new', async () => {
  assert.is(await fetchmail('keep'), 1);
  assert.is(delivered().length, 15);
});

test('fetchall without keep: everything comes down and is deleted on the server', async () => {
  assert.is(await fetchmail('fetchall no keep'), 0);
  assert.is(delivered().length, 35);
  assert.is((await f.store.messages.list(f.inbox.id)).length, 0);
});

test.run();
