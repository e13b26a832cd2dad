// Routing through the MX: aliases (members, nesting, loops), catch-all, plus-addressing, forwarders,
// mailbox filters, one copy per account, events in the delivery batch, a 1,000-recipient message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Tx, type Account, type AddressRoute, type Store } from '../../src/store/index.ts';
import { messagesIn, plainMessage, sendRaw, startMx, type MxFixture } from '../helpers/smtp.ts';
import { srsRewrite } from '../../src/inbound/srs.ts';

let fx: MxFixture;
let teamId: string;
const accounts: Record<string, Account> = {};
const SENDER = 'ann@sender.test';

async function route(store: Store, address: string, r: AddressRoute): Promise<void> {
  const tx = new Tx();
  store.addresses.put(tx, address, r);
  await store.kv.commit(tx);
}

test.before(async () => {
  fx = await startMx({
    zone: { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } },
    mx: { srsSecret: 'test-srs-secret' },
  });
  teamId = (await fx.store.teams.create('t')).id;
  await fx.store.domains.create(teamId, 'wren.test');
  await fx.store.domains.create(teamId, 'catch.test');
  for (const name of ['alice', 'bob', 'carol', 'dave'])
    accounts[name] = await fx.store.accounts.create({ teamId, address: `${name}@wren.test` });
  await route(fx.store, 'devs@wren.test', { kind: 'alias', targets: ['alice@wren.test', 'bob@wren.test'], teamId });
  await route(fx.store, 'team@wren.test', {
    kind: 'alias',
    targets: ['devs@wren.test', 'carol@wren.test', 'alice@wren.test'],
    teamId,
  });
  await route(fx.store, 'loop1@wren.test', { kind: 'alias', targets: ['loop2@wren.test'], teamId });
  await route(fx.store, 'loop2@wren.test', { kind: 'alias', targets: ['carol@wren.test', 'loop1@wren.test'], teamId });
  await route(fx.store, 'fwd@wren.test', {
    kind: 'forward',
    targets: ['someone@remote.test'],
    keepCopy: accounts.dave!.id,
    teamId,
  });
  await route(fx.store, 'mixed@wren.test', {
    kind: 'alias',
    targets: ['carol@wren.test', 'friend@remote.test'],
    teamId,
  });
  for (let i = 0; i < 7; i++)
    await route(fx.store, `deep${i}@wren.test`, {
      kind: 'alias',
      targets: [i < 6 ? `deep${i + 1}@wren.test` : 'carol@wren.test'],
      teamId,
    });
  const domain = (await fx.store.domains.get('catch.test'))!;
  await fx.store.domains.update({ ...domain, catchAll: accounts.dave!.id });
});
test.after(() => fx.close());

const send = (rcpts: string[], subject: string, extra: string[] = []) =>
  sendRaw(fx.port, SENDER, rcpts, plainMessage({ from: `Ann <${SENDER}>`, to: rcpts[0]!, subject, extra }));
const withSubject = async (who: string, subject: string, folder = 'INBOX') =>
  (await messagesIn(fx.store, `${who}@wren.test`, folder)).filter((m) => m.text.includes(`Subject: ${subject}\r\n`));

test('an alias with several members, nested aliases: each account gets exactly one copy, sharing one blob', async () => {
  const r = await send(['team@wren.test', 'devs@wren.test', 'alice@wren.test'], 'nested');
  assert.is(r.end!.code, 250);
  const copies = await Promise.all(['alice', 'bob', 'carol'].map((n) => withSubject(n, 'nested')));
  assert.equal(
    copies.map((c) => c.length),
    [1, 1, 1],
  );
  assert.is(new Set(copies.map((c) => c[0]!.message.blob)).size, 1, 'one blob for every copy');
  assert.equal(await withSubject('dave', 'nested'), []);
});

test('alias loops and over-deep nesting are refused at RCPT with 550 5.4.6', async () => {
  const r = await send(['loop1@wren.test', 'deep0@wren.test', 'deep2@wren.test'], 'loops'); // deep0: 7 alias levels, deep2: 5
  assert.match(r.rcpt[0]!.lines[0]!, /^550 5\.4\.6 /);
  assert.match(r.rcpt[1]!.lines[0]!, /^550 5\.4\.6 /);
  assert.is(r.rcpt[2]!.code, 250, 'five alias levels are fine');
  assert.is((await withSubject('carol', 'loops')).length, 1);
});

test('catch-all takes unknown local parts of its domain; unknown users elsewhere stay 550 5.1.1', async () => {
  const r = await send(['whoever@catch.test', 'whoever@wren.test'], 'catch-all');
  assert.is(r.rcpt[0]!.code, 250);
  assert.match(r.rcpt[1]!.lines[0]!, /^550 5\.1\.1 /);
  assert.is((await withSubject('dave', 'catch-all')).length, 1);
});

test('plus-addressing: user+tag → user; into folder "tag" only with plusFolders on and the folder present', async () => {
  await send(['bob+news@wren.test'], 'plus off');
  assert.is((await withSubject('bob', 'plus off')).length, 1);
  const bob = (await fx.store.accounts.get(accounts.bob!.id))!;
  await fx.store.accounts.update({ ...bob, settings: { ...bob.settings, plusFolders: true } });
  await fx.store.createFolder(bob.id, 'news');
  await send(['bob+news@wren.test'], 'plus on');
  await send(['bob+nofolder@wren.test'], 'plus no folder');
  assert.is((await withSubject('bob', 'plus on', 'news')).length, 1);
  assert.is((await withSubject('bob', 'plus no folder')).length, 1);
  const r = await send(['nobody+tag@wren.test'], 'plus unknown');
  assert.match(r.rcpt[0]!.lines[0]!, /^550 5\.1\.1 /);
});

test('forwarders: the local copy is kept and each forward is queued for outbound with an SRS sender', async () => {
  const r = await send(['fwd@wren.test', 'mixed@wren.test'], 'forward me');
  assert.is(r.end!.code, 250);
  assert.is((await withSubject('dave', 'forward me')).length, 1);
  assert.is((await withSubject('carol', 'forward me')).length, 1);
  const { jobs } = await fx.store.queue.list({ teamId });
  const forwarded = jobs.filter((j) => j.domain === 'remote.test');
  assert.equal(forwarded.flatMap((j) => j.recipients.map((rcpt) => rcpt.address)).sort(), [
    'friend@remote.test',
    'someone@remote.test',
  ]);
  for (const job of forwarded) assert.match(job.from, /^SRS0=[A-Z2-7]{10}=[A-Z2-7]{2}=sender\.test=ann@wren\.test$/);
  const raw = (await fx.store.blobs.read(forwarded[0]!.blob, forwarded[0]!.size)).toString();
  assert.match(raw, /Subject: forward me/);
  assert.match(raw, /^Received: from /, 'the forwarded copy carries our trace header');
});

test('a bounce to an SRS address goes back to the original sender; a forged one is refused', async () => {
  const srs = srsRewrite('ann@sender.test', 'wren.test', 'test-srs-secret');
  const bounce = await sendRaw(
    fx.port,
    '',
    [srs.toLowerCase()],
    plainMessage({ from: 'MAILER-DAEMON@remote.test', to: srs, subject: 'bounce back' }),
  );
  assert.is(bounce.end!.code, 250, 'the SRS address is accepted, even case-folded');
  const { jobs } = await fx.store.queue.list({ teamId });
  const back = jobs.find(
    (j) => j.domain === 'sender.test' && j.recipients.some((r) => r.address === 'ann@sender.test'),
  );
  assert.ok(back, 'queued back to the original sender');
  assert.is(back!.from, '', 'with the null sender: never a bounce for a bounce');
  const forged = await sendRaw(
    fx.port,
    '',
    ['SRS0=AAAA=AA=victim.test=bob@wren.test'],
    plainMessage({ from: 'x@remote.test', to: 'x', subject: 'forged' }),
  );
  assert.match(forged.rcpt[0]!.lines[0]!, /^550 5\.1\.1 /);
});

test('mailbox filters: subject → folder, from → flag, header → discard', async () => {
  const carol = (await fx.store.accounts.get(accounts.carol!.id))!;
  await fx.store.accounts.update({
    ...carol,
    settings: {
      ...carol.settings,
      filters: [
        { field: 'subject', contains: 'INVOICE', action: 'folder', value: 'Archive' },
        { field: 'from', contains: 'ann@', action: 'flag', value: '\\Flagged' },
        { field: 'header', header: 'List-Id', contains: 'noisy.list', action: 'discard' },
      ],
    },
  });
  await send(['carol@wren.test'], 'your invoice 42');
  await send(['carol@wren.test'], 'list post', ['List-Id: <noisy.list.example>']);
  const archived = await withSubject('carol', 'your invoice 42', 'Archive');
  assert.is(archived.length, 1);
  assert.equal(archived[0]!.message.flags, ['\\Flagged']);
  assert.equal(await withSubject('carol', 'list post'), []);
  await fx.store.accounts.update({ ...carol, settings: { ...carol.settings, filters: [] } });
});

test('message.received events are written with the delivery: one per account, with folder and uid', async () => {
  await send(['devs@wren.test'], 'evented');
  const events = (await fx.store.events.list({ teamId, limit: 10_000 })).filter((e) => e.data.subject === 'evented');
  assert.is(events.length, 2);
  for (const e of events) {
    assert.is(e.type, 'message.received');
    const stored = await withSubject(e.accountId === accounts.alice!.id ? 'alice' : 'bob', 'evented');
    assert.is(e.data.uid, stored[0]!.message.uid);
    assert.is(e.data.folder, 'INBOX');
    assert.is(e.data.size, stored[0]!.message.size);
    assert.is(e.data.from, SENDER);
    assert.equal(e.data.to, ['devs@wren.test']);
    assert.is(e.data.spam_score, 0);
    assert.ok(typeof e.data.message_id === 'string');
  }
});

test('a 1,000-recipient message (800 accounts + 200 aliases of two) is stored once per account', async () => {
  const many: Account[] = [];
  for (let i = 0; i < 800; i++) many.push(await fx.store.accounts.create({ teamId, address: `u${i}@wren.test` }));
  for (let i = 0; i < 200; i++)
    await route(fx.store, `g${i}@wren.test`, {
      kind: 'alias',
      targets: [`u${i}@wren.test`, `u${799 - i}@wren.test`],
      teamId,
    });
  const rcpts = [...many.map((a) => a.address), ...Array.from({ length: 200 }, (_, i) => `g${i}@wren.test`)];
  const r = await send(rcpts, 'thousand');
  assert.ok(r.rcpt.every((x) => x.code === 250));
  assert.is(r.end!.code, 250, r.end!.text);
  for (const account of many) {
    const inbox = fx.store.folders.byName(account.id, 'INBOX')!;
    assert.is(inbox.exists, 1, account.address);
  }
  const events = (await fx.store.events.list({ teamId, limit: 100_000 })).filter((e) => e.data.subject === 'thousand');
  assert.is(events.length, 800);
});

test.run();
