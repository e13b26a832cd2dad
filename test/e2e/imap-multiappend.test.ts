// MULTIAPPEND (RFC 3502) on a raw socket (imapflow cannot send it): several messages in one APPEND,
// stored all together with consecutive UIDs, or not at all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loggedInRaw, type RawClient, startImap, type ImapFixture } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

let f: ImapFixture;

test.before(async () => {
  f = await startImap({ quotaBytes: 20_000, limits: { maxLiteralBytes: 30_000 } });
});
test.after(async () => {
  await f.close();
});

const loggedIn = (): Promise<RawClient> => loggedInRaw(f.port);

interface Part {
  flags?: string;
  date?: string;
  raw: Buffer;
}

/**
 * Sends one APPEND with several messages. With synchronising literals it waits for each "+" (and
 * stops when the server answers instead); with LITERAL+ it sends everything in one write.
 */
async function multiappend(c: RawClient, tag: string, mailbox: string, parts: Part[], plus = false): Promise<string> {
  const head = (p: Part): string =>
    `${p.flags ? ` ${p.flags}` : ''}${p.date ? ` "${p.date}"` : ''} {${p.raw.length}${plus ? '+' : ''}}\r\n`;
  if (plus) {
    const chunks: Buffer[] = [Buffer.from(`${tag} APPEND ${mailbox}`)];
    for (const p of parts) chunks.push(Buffer.from(head(p)), p.raw);
    chunks.push(Buffer.from('\r\n'));
    return c.command(tag, Buffer.concat(chunks));
  }
  const done = new RegExp(`^${tag} (OK|NO|BAD)[^\\r\\n]*\\r\\n`, 'm');
  let line = `${tag} APPEND ${mailbox}`;
  for (const p of parts) {
    c.write(line + head(p));
    await c.until(new RegExp(`^\\+ |${done.source}`, 'm'));
    if (done.test(c.buffer)) break;
    c.buffer = '';
    c.write(p.raw);
    line = '';
  }
  if (!done.test(c.buffer)) c.write('\r\n');
  await c.until(done);
  const out = c.buffer;
  c.buffer = '';
  return out;
}

async function inboxMessages() {
  return f.store.messages.list(f.inbox.id);
}

test('CAPABILITY names MULTIAPPEND once logged in', async () => {
  const c = await loggedIn();
  assert.match(await c.command('c', 'CAPABILITY'), /^\* CAPABILITY .* MULTIAPPEND /m);
  c.close();
});

test('three messages in one APPEND: consecutive UIDs, each with its flags, date and bytes', async () => {
  const c = await loggedIn();
  const watcher = await loggedIn();
  await watcher.command('s', 'SELECT INBOX');
  const before = (await inboxMessages()).length;
  const parts: Part[] = [
    { flags: '(\\Seen)', date: '05-Mar-2024 10:11:12 +0100', raw: makeMessage({ subject: 'multi one' }) },
    { raw: makeMessage({ subject: 'multi two', bytes: 3000 }) },
    { flags: '(\\Flagged $Label1)', raw: makeMessage({ subject: 'multi three' }) },
  ];
  const reply = await multiappend(c, 'a1', 'INBOX', parts);
  const m = /^a1 OK \[APPENDUID (\d+) (\d+):(\d+)\]/m.exec(reply);
  assert.ok(m, reply);
  assert.is(Number(m[1]), f.inbox.uidValidity);
  assert.is(Number(m[3]) - Number(m[2]), 2);
  const stored = (await inboxMessages()).slice(before);
  assert.equal(
    stored.map((x) => x.uid),
    [Number(m[2]), Number(m[2]) + 1, Number(m[3])],
  );
  assert.equal(
    stored.map((x) => x.flags),
    [['\\Seen'], [], ['\\Flagged', '$Label1']],
  );
  assert.is(stored[0]!.internalDate, Date.UTC(2024, 2, 5, 9, 11, 12));
  for (let i = 0; i < parts.length; i++)
    assert.ok((await f.store.read(stored[i]!)).equals(parts[i]!.raw), `bytes of message ${i + 1}`);
  // Another session on the folder hears of all three.
  assert.match(await watcher.command('n', 'NOOP'), new RegExp(`^\\* ${before + 3} EXISTS`, 'm'));
  c.close();
  watcher.close();
});

test('LITERAL+ form, and into another folder', async () => {
  const c = await loggedIn();
  const archive = f.store.folders.byName(f.account.id, 'Archive')!;
  const reply = await multiappend(
    c,
    'a2',
    'Archive',
    [{ raw: makeMessage({ subject: 'p1' }) }, { flags: '(\\Draft)', raw: makeMessage({ subject: 'p2' }) }],
    true,
  );
  assert.match(reply, /^a2 OK \[APPENDUID \d+ 1:2\]/m);
  assert.equal(
    (await f.store.messages.list(archive.id)).map((x) => x.flags),
    [[], ['\\Draft']],
  );
  c.close();
});

test('all or nothing: over quota, a bad date, an empty message, a literal over the limit', async () => {
  const c = await loggedIn();
  const before = (await inboxMessages()).length;
  const small = (): Part => ({ raw: makeMessage({ subject: 'small' }) });
  const used = f.store.folders.usage(f.account.id).bytes;
  // Each message fits the quota alone; together they do not.
  const half = Math.ceil((20_000 - used) / 2) + 500;
  const big = (): Part => ({ raw: makeMessage({ subject: 'big', bytes: half }) });
  assert.match(await multiappend(c, 'q1', 'INBOX', [small(), big(), big()]), /^q1 NO \[OVERQUOTA\]/m);
  assert.match(
    await multiappend(c, 'q2', 'INBOX', [small(), { date: '31-Foo-2024 00:00:00 +0000', raw: small().raw }]),
    /^q2 BAD /m,
  );
  assert.match(await multiappend(c, 'q3', 'INBOX', [small(), { raw: Buffer.alloc(0) }, small()], true), /^q3 NO /m);
  // The third literal would take the command past APPENDLIMIT (30,000 bytes in all): refused at "+".
  const large = (): Part => ({ raw: makeMessage({ subject: 'large', bytes: 11_000 }) });
  assert.match(await multiappend(c, 'q4', 'INBOX', [large(), large(), large()]), /^q4 BAD \[TOOBIG\]/m);
  assert.match(await multiappend(c, 'q5', 'NoSuchFolder', [small(), small()]), /^q5 NO \[TRYCREATE\]/m);
  assert.is((await inboxMessages()).length, before, 'nothing was stored');
  assert.match(await c.command('n', 'NOOP'), /^n OK/m);
  c.close();
});

test.run();
