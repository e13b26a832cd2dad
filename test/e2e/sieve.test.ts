// Sieve end to end: scripts set over the API, mail through the MX. fileinto (:create), addflag,
// discard, reject (550 at DATA when every recipient rejects, a DSN when only some do), redirect
// (with its loop guard) and vacation — queued once per sender per :days, never for list, bulk or
// auto-submitted mail — all checked in the store and the outbound queue.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHttpApp } from '../../src/http/app.ts';
import { deliverLocal, LocalDeliveryError } from '../../src/inbound/pipeline.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import type { Account } from '../../src/store/index.ts';
import type { QueueJob } from '../../src/store/queue.ts';
import { sieveScripts } from '../../src/store/sieve.ts';
import { vacationHandle } from '../../src/sieve/vacation.ts';
import { compile } from '../../src/sieve/validate.ts';
import { storeKey } from '../helpers/api.ts';
import { messagesIn, plainMessage, sendRaw, startMx, type MxFixture } from '../helpers/smtp.ts';

let fx: MxFixture;
let http: Server;
let base: string;
let teamId: string;
const keys: Record<string, string> = {};
const accounts: Record<string, Account> = {};
const mbx = (name: string) => `mbx_${accounts[name]!.id}`;

function makeKey(permissions: string[], team = teamId, accountId: string | null = null): Promise<string> {
  return storeKey(fx.store, { teamId: team, type: accountId ? 'mailbox' : 'root', permissions, accountId });
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  key = keys.root!,
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const ALICE_SCRIPT = `require ["fileinto", "imap4flags", "reject", "vacation", "mailbox"];
# lists go to their folder, made on first use
if header :contains "subject" "[news]" {
  fileinto :create "Lists/News";
  stop;
}
if header :contains "subject" "important" {
  addflag "\\\\Flagged";
}
if header :contains "subject" "spam me" {
  discard;
  stop;
}
if address :is "from" "pest@sender.test" {
  reject "Go away, pest.";
  stop;
}
vacation :days 3 :subject "Out of office" "I am away until Monday.";
`;

test.before(async () => {
  fx = await startMx({
    zone: { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } },
    mx: { srsSecret: 'sieve-test-srs' },
  });
  teamId = (await fx.store.teams.create('t')).id;
  await fx.store.domains.create(teamId, 'wren.test');
  for (const name of ['alice', 'bob', 'carol', 'dave'])
    accounts[name] = await fx.store.accounts.create({ teamId, address: `${name}@wren.test` });
  const app = createHttpApp({
    store: fx.store,
    logger: pino({ level: 'silent' }),
    ready: () => true,
    validateResponses: true,
  });
  http = createServer(app.callback());
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api/v1`;
  keys.root = await makeKey(PRESETS['root:full']!);
  keys.reader = await makeKey(['mailbox.admin.read']);
});
test.after(async () => {
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await fx.close();
});

const send = (from: string, rcpts: string[], subject: string, extra: string[] = []) =>
  sendRaw(fx.port, from, rcpts, plainMessage({ from: `Sender <${from}>`, to: rcpts.join(', '), subject, extra }));
const withSubject = async (who: string, subject: string, folder = 'INBOX') =>
  (await messagesIn(fx.store, `${who}@wren.test`, folder)).filter((m) => m.text.includes(`Subject: ${subject}\r\n`));
const jobs = async (): Promise<QueueJob[]> => (await fx.store.queue.list({ limit: 1000 })).jobs;
const jobText = (job: QueueJob) => fx.store.blobs.read(job.blob, job.size).then((b) => b.toString('utf8'));
/** Queued messages with the null sender to `to` (vacation replies, rejection notices). */
const nullSenderJobsTo = async (to: string) =>
  (await jobs()).filter((j) => j.from === '' && j.recipients.some((r) => r.address === to));

test('API: PUT validates (422 with line and column), GET, activate/deactivate, permissions, DELETE', async () => {
  const bad = await call('PUT', `/mailboxes/${mbx('alice')}/sieve`, {
    script: 'require "fileinto";\nif header :is "subject" "x" {\n  fileinto;\n}',
  });
  assert.is(bad.status, 422);
  assert.is(bad.body.error.code, 'validation_error');
  assert.match(bad.body.error.message, /line 3, column 3: fileinto takes 1 positional argument/);
  assert.is(bad.body.error.param, 'script');

  const put = await call('PUT', `/mailboxes/${mbx('alice')}/sieve`, { script: ALICE_SCRIPT });
  assert.is(put.status, 200, JSON.stringify(put.body));
  assert.equal(
    [put.body.data.active, put.body.data.mailbox_id, put.body.data.script],
    [true, mbx('alice'), ALICE_SCRIPT],
  );
  assert.ok(put.body.data.extensions.includes('vacation'));

  const off = await call('POST', `/mailboxes/${mbx('alice')}/sieve/deactivate`);
  assert.is(off.body.data.active, false);
  assert.is((await call('GET', `/mailboxes/${mbx('alice')}/sieve`)).body.data.active, false);
  assert.is(
    (await call('PUT', `/mailboxes/${mbx('alice')}/sieve`, { script: ALICE_SCRIPT })).body.data.active,
    false,
    'PUT keeps the state',
  );
  assert.is((await call('POST', `/mailboxes/${mbx('alice')}/sieve/activate`)).body.data.active, true);

  assert.is((await call('GET', `/mailboxes/${mbx('alice')}/sieve`, undefined, keys.reader)).status, 200);
  const denied = await call('PUT', `/mailboxes/${mbx('alice')}/sieve`, { script: 'keep;' }, keys.reader);
  assert.is(denied.status, 403);
  assert.is((await call('POST', `/mailboxes/${mbx('alice')}/sieve/deactivate`, undefined, keys.reader)).status, 403);

  const other = await fx.store.teams.create('other');
  const otherKey = await makeKey(PRESETS['root:full']!, other.id);
  assert.is(
    (await call('GET', `/mailboxes/${mbx('alice')}/sieve`, undefined, otherKey)).status,
    404,
    'another team sees no such mailbox',
  );

  assert.is((await call('PUT', `/mailboxes/${mbx('carol')}/sieve`, { script: 'discard;', active: false })).status, 200);
  assert.is((await call('DELETE', `/mailboxes/${mbx('carol')}/sieve`)).status, 200);
  assert.is((await call('GET', `/mailboxes/${mbx('carol')}/sieve`)).status, 404);
  assert.is((await call('DELETE', `/mailboxes/${mbx('carol')}/sieve`)).status, 404);
  assert.is((await call('POST', `/mailboxes/${mbx('carol')}/sieve/activate`)).status, 404);
});

test("API: the owner's own script and sender lists (/mailbox/sieve, /mailbox/filters): a mailbox key reaches only its mailbox", async () => {
  const own = await makeKey(PRESETS['mailbox:full']!, teamId, accounts.carol!.id);
  const readOnly = await makeKey(PRESETS.agent_preclaim!, teamId, accounts.carol!.id);
  assert.is((await call('GET', '/mailbox/sieve', undefined, own)).status, 404, 'no script yet');
  const bad = await call('PUT', '/mailbox/sieve', { script: 'keep' }, own);
  assert.is(bad.status, 422);
  assert.match(bad.body.error.message, /line 1/);
  const put = await call('PUT', '/mailbox/sieve', { script: 'require ["vacation"];\nvacation "away";\n' }, own);
  assert.is(put.status, 200, JSON.stringify(put.body));
  assert.is(put.body.data.mailbox_id, mbx('carol'));
  assert.match(
    (await call('GET', `/mailboxes/${mbx('carol')}/sieve`)).body.data.script,
    /vacation "away"/,
    'the operator sees what the owner set',
  );
  assert.is(
    (await call('PUT', '/mailbox/sieve', { script: 'keep;' }, readOnly)).status,
    403,
    'mailbox.settings.update is needed to write',
  );
  assert.is((await call('GET', '/mailbox/sieve', undefined, readOnly)).status, 200);
  assert.is(
    (await call('GET', `/mailbox/sieve?mailbox_id=${mbx('alice')}`, undefined, own)).status,
    403,
    'only its own mailbox',
  );
  assert.is((await call('GET', '/mailbox/sieve')).status, 400, 'a root key names the mailbox');
  assert.match((await call('GET', `/mailbox/sieve?mailbox_id=${mbx('carol')}`)).body.data.script, /away/);
  assert.is((await call('DELETE', '/mailbox/sieve', undefined, own)).status, 200);
  assert.is((await call('DELETE', '/mailbox/sieve', undefined, own)).status, 404);

  const filter = { mode: 'denylist', rules: [{ pattern: '@pest.test', type: 'deny' }] };
  assert.equal((await call('PUT', '/mailbox/filters', filter, own)).body.data, filter);
  assert.equal((await call('GET', `/mailboxes/${mbx('carol')}/filters`)).body.data, filter);
  assert.is((await call('PUT', '/mailbox/filters', { mode: 'off', rules: [] }, readOnly)).status, 403);
  assert.is((await call('PUT', '/mailbox/filters', { mode: 'off', rules: [] }, own)).status, 200);
});

test('fileinto :create files into a new folder; addflag flags the INBOX copy', async () => {
  assert.is(
    (await send('lists@sender.test', ['alice@wren.test'], '[news] weekly digest', ['List-Id: <news.sender.test>'])).end!
      .code,
    250,
  );
  assert.is((await withSubject('alice', '[news] weekly digest', 'Lists/News')).length, 1);
  assert.equal(await withSubject('alice', '[news] weekly digest'), []);

  assert.is((await send('ann@sender.test', ['alice@wren.test'], 'important: budget')).end!.code, 250);
  const [copy] = await withSubject('alice', 'important: budget');
  assert.equal(copy!.message.flags, ['\\Flagged']);
});

test('vacation: queued once per sender within :days, with the RFC 3834 fields and a null sender; again once :days passed', async () => {
  // ann got a reply to "important: budget" above
  const first = await nullSenderJobsTo('ann@sender.test');
  assert.is(first.length, 1);
  const reply = await jobText(first[0]!);
  assert.match(reply, /\r\nAuto-Submitted: auto-replied\r\n/);
  assert.match(reply, /\r\nSubject: Out of office\r\n/);
  assert.match(reply, /\r\nIn-Reply-To: <[^>]+@test>\r\n/);
  assert.match(reply, /\r\nReferences: <[^>]+@test>\r\n/);
  assert.match(reply, /^From: alice@wren\.test\r\n/m);

  assert.is((await send('ann@sender.test', ['alice@wren.test'], 'second note')).end!.code, 250);
  assert.is((await withSubject('alice', 'second note')).length, 1);
  assert.is((await nullSenderJobsTo('ann@sender.test')).length, 1, 'no second reply within :days');

  // the record is what counts: made 4 days old, the next message gets a reply again (:days 3)
  const handle = vacationHandle(compile(ALICE_SCRIPT).commands.flatMap((c) => (c.type === 'vacation' ? [c] : []))[0]!);
  await sieveScripts(fx.store.kv).recordReply(
    accounts.alice!.id,
    handle,
    'ann@sender.test',
    Date.now() - 4 * 86_400_000,
  );
  assert.is((await send('ann@sender.test', ['alice@wren.test'], 'third note')).end!.code, 250);
  assert.is((await nullSenderJobsTo('ann@sender.test')).length, 2);
});

test('vacation: never for list, bulk or auto-submitted mail, nor when alice is not a visible recipient', async () => {
  const cases: [string, string[]][] = [
    ['list1@sender.test', ['List-Id: <big.sender.test>']],
    ['list2@sender.test', ['List-Unsubscribe: <mailto:leave@sender.test>']],
    ['bulk@sender.test', ['Precedence: bulk']],
    ['robot@sender.test', ['Auto-Submitted: auto-generated']],
    ['owner-things@sender.test', []],
  ];
  for (const [from, extra] of cases) {
    assert.is((await send(from, ['alice@wren.test'], `no reply for ${from}`, extra)).end!.code, 250);
    assert.is((await withSubject('alice', `no reply for ${from}`)).length, 1, 'still delivered');
    assert.equal(await nullSenderJobsTo(from), [], from);
  }
  const bcc = await sendRaw(
    fx.port,
    'hidden@sender.test',
    ['alice@wren.test'],
    plainMessage({ from: 'hidden@sender.test', to: 'someone@else.test', subject: 'bcc to alice' }),
  );
  assert.is(bcc.end!.code, 250);
  assert.equal(await nullSenderJobsTo('hidden@sender.test'), [], 'alice only in Bcc: no reply');
  const bounce = await sendRaw(
    fx.port,
    '',
    ['alice@wren.test'],
    plainMessage({ from: 'MAILER-DAEMON@sender.test', to: 'alice@wren.test', subject: 'null sender' }),
  );
  assert.is(bounce.end!.code, 250);
  assert.equal(
    (await jobs()).filter((j) => j.from === '' && j.recipients.some((r) => r.address === 'mailer-daemon@sender.test')),
    [],
  );
});

test('discard: accepted, stored nowhere, no reply', async () => {
  assert.is((await send('dan@sender.test', ['alice@wren.test'], 'spam me please')).end!.code, 250);
  for (const folder of ['INBOX', 'Junk', 'Lists/News'])
    assert.equal(await withSubject('alice', 'spam me please', folder), []);
  assert.equal(await nullSenderJobsTo('dan@sender.test'), []);
});

test('reject: 550 5.7.1 at DATA when every recipient rejects; a DSN when another recipient takes the message', async () => {
  const alone = await send('pest@sender.test', ['alice@wren.test'], 'buy my stuff');
  assert.match(alone.end!.lines[0]!, /^550 5\.7\.1 Go away, pest\./);
  assert.equal(await withSubject('alice', 'buy my stuff'), []);
  assert.equal(await nullSenderJobsTo('pest@sender.test'), [], 'refused in the session: no bounce');

  const mixed = await send('pest@sender.test', ['alice@wren.test', 'bob@wren.test'], 'buy it together');
  assert.is(mixed.end!.code, 250);
  assert.is((await withSubject('bob', 'buy it together')).length, 1);
  assert.equal(await withSubject('alice', 'buy it together'), []);
  const [dsn] = await nullSenderJobsTo('pest@sender.test');
  assert.ok(dsn, 'a DSN for alice goes to the sender');
  const text = await jobText(dsn!);
  assert.match(text, /Final-Recipient: rfc822; alice@wren\.test/);
  assert.match(text, /Status: 5\.7\.1/);
  assert.match(text, /Go away, pest\./);
});

test('redirect: queued with the SRS sender and a loop mark; a copy that comes back is kept', async () => {
  await sieveScripts(fx.store.kv).put({
    accountId: accounts.bob!.id,
    script: 'redirect "bob@elsewhere.test";',
    active: true,
    updatedAt: Date.now(),
  });
  assert.is((await send('ann@sender.test', ['bob@wren.test'], 'for bob, moved')).end!.code, 250);
  assert.equal(await withSubject('bob', 'for bob, moved'), [], 'redirect cancels the implicit keep');
  const job = (await jobs()).find((j) => j.recipients.some((r) => r.address === 'bob@elsewhere.test'));
  assert.ok(job);
  assert.match(job!.from, /^SRS0=/i);
  assert.match(await jobText(job!), /^X-Wren-Sieve-Redirected-By: bob@wren\.test\r\n/);

  const back = plainMessage({
    from: 'ann@sender.test',
    to: 'bob@wren.test',
    subject: 'came back',
    extra: ['X-Wren-Sieve-Redirected-By: bob@wren.test'],
  });
  assert.is((await sendRaw(fx.port, 'ann@sender.test', ['bob@wren.test'], back)).end!.code, 250);
  assert.is((await withSubject('bob', 'came back')).length, 1, 'kept instead of redirected again');
  assert.is((await jobs()).filter((j) => j.recipients.some((r) => r.address === 'bob@elsewhere.test')).length, 1);
  await sieveScripts(fx.store.kv).remove(accounts.bob!.id);
});

test("simple filters run first: their folder is where a script's keep goes; an inactive script does nothing", async () => {
  const carol = (await fx.store.accounts.get(accounts.carol!.id))!;
  await fx.store.accounts.update({
    ...carol,
    settings: {
      ...carol.settings,
      filters: [{ field: 'subject', contains: 'invoice', action: 'folder', value: 'Archive' }],
    },
  });
  await sieveScripts(fx.store.kv).put({
    accountId: carol.id,
    script: 'require "imap4flags";\naddflag "$Invoice";',
    active: true,
    updatedAt: Date.now(),
  });
  assert.is((await send('ann@sender.test', ['carol@wren.test'], 'invoice 42')).end!.code, 250);
  const [archived] = await withSubject('carol', 'invoice 42', 'Archive');
  assert.equal(archived!.message.flags, ['$Invoice']);
  await sieveScripts(fx.store.kv).put({
    accountId: carol.id,
    script: 'discard;',
    active: false,
    updatedAt: Date.now(),
  });
  assert.is((await send('ann@sender.test', ['carol@wren.test'], 'not discarded')).end!.code, 250);
  assert.is((await withSubject('carol', 'not discarded')).length, 1);
});

test('spamtest (RFC 5235) reads the MX verdict; mail nothing classified (local delivery) is 0', async () => {
  await sieveScripts(fx.store.kv).put({
    accountId: accounts.dave!.id,
    script: `require ["fileinto", "mailbox", "relational", "comparator-i;ascii-numeric", "spamtestplus"];
if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto :create "Spam/untested"; }
elsif spamtest :value "ge" :comparator "i;ascii-numeric" "3" { fileinto :create "Spam/suspect"; }
elsif spamtest :percent :value "lt" :comparator "i;ascii-numeric" "10" { fileinto :create "Spam/clear"; }`,
    active: true,
    updatedAt: Date.now(),
  });
  const scoreOf = (text: string) => Number(/^X-Spam-Score: (\S+)/m.exec(text)![1]);
  assert.is((await send('ann@sender.test', ['dave@wren.test'], 'lunch on friday')).end!.code, 250);
  const [clear] = await withSubject('dave', 'lunch on friday', 'Spam/clear');
  assert.ok(clear && scoreOf(clear.text) < 0.5, 'under 10% of the Junk threshold (5)');
  // SUBJECT_ALL_CAPS: a point, 20% of the way to Junk, which spamtest reads as 3.
  assert.is((await send('ann@sender.test', ['dave@wren.test'], 'LIMITED TIME OFFER INSIDE')).end!.code, 250);
  const [suspect] = await withSubject('dave', 'LIMITED TIME OFFER INSIDE', 'Spam/suspect');
  assert.ok(suspect && scoreOf(suspect.text) >= 1 && scoreOf(suspect.text) < 5, suspect?.text.slice(0, 600));
  const local = Buffer.from(plainMessage({ from: 'bob@wren.test', to: 'dave@wren.test', subject: 'from the queue' }));
  await deliverLocal(
    local,
    { from: 'bob@wren.test', to: ['dave@wren.test'] },
    {
      store: fx.store,
      resolver: fx.resolver,
      hostname: 'mx.wren.test',
    },
  );
  assert.is((await withSubject('dave', 'from the queue', 'Spam/untested')).length, 1);
});

test("local delivery (the queue's path) runs scripts too: a reject of every recipient is a 550 the queue bounces", async () => {
  const options = { store: fx.store, resolver: fx.resolver, hostname: 'mx.wren.test' };
  const raw = Buffer.from(plainMessage({ from: 'pest@sender.test', to: 'alice@wren.test', subject: 'local pest' }));
  const err = await deliverLocal(raw, { from: 'pest@sender.test', to: ['alice@wren.test'] }, options).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof LocalDeliveryError, String(err));
  assert.is((err as LocalDeliveryError).responseCode, 550);
  assert.match((err as Error).message, /^550 5\.7\.1 Go away, pest\./);
  const ok = Buffer.from(plainMessage({ from: 'bob@wren.test', to: 'alice@wren.test', subject: 'local important' }));
  await deliverLocal(ok, { from: 'bob@wren.test', to: ['alice@wren.test'] }, options);
  assert.equal((await withSubject('alice', 'local important'))[0]!.message.flags, ['\\Flagged']);
});

test.run();
