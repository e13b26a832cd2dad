// The Sending API: messages built from JSON, checked against the key's scope, DKIM-signed (verified
// here with mailauth against the published key), queued with their event and Sent copy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dkimVerify } from 'mailauth';
import { simpleParser } from 'mailparser';
import { dkimRecordValue, generateDkimKey } from '../../src/dns/dkim.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import type { Account, DkimKey } from '../../src/store/index.ts';
import type { QueueJob } from '../../src/store/queue.ts';
import { type ApiFixture, startApi } from '../helpers/api.ts';

let api: ApiFixture;
let alice: Account;
let bob: Account;
let aliceKey: string;
let dkim: DkimKey;

test.before(async () => {
  api = await startApi();
  await api.store.domains.create(api.teamId, 'wren.test');
  dkim = { ...(await generateDkimKey('ed25519-sha256', 'sel1')), active: true };
  await api.store.domains.update({ ...(await api.store.domains.get('wren.test'))!, dkim: [dkim] });
  alice = await api.store.accounts.create({ teamId: api.teamId, address: 'alice@wren.test', name: 'Alice' });
  bob = await api.store.accounts.create({ teamId: api.teamId, address: 'bob@wren.test' });
  aliceKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', alice.id);
});
test.after(() => api.close());

const jobsOf = async (messageId: string): Promise<QueueJob[]> =>
  (await api.store.queue.list({ limit: 10_000 })).jobs.filter((j) => `eml_${j.messageId}` === messageId);
const rawOf = (job: QueueJob) => api.store.blobs.read(job.blob, job.size);
const resolver = async (name: string, type: string) => {
  if (type === 'TXT' && name === 'sel1._domainkey.wren.test') return [[dkimRecordValue(dkim)]];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

test('a message with an attachment, custom header and reply-to is built, DKIM-signed, queued and saved to Sent', async () => {
  const pdf = Buffer.from('%PDF-1.4 pretend document\n');
  const reply = await api.call('POST', '/emails/send', {
    key: aliceKey,
    body: {
      from: { email: 'alice@wren.test', name: 'Alice Liddell' },
      to: { email: 'carol@elsewhere.test', name: 'Carol' },
      cc: ['dave@elsewhere.test'],
      bcc: [{ email: 'erin@other.test' }],
      subject: 'Quarterly report ✓',
      text_body: 'See attached.',
      html_body: '<p>See <b>attached</b>.</p>',
      reply_to: { email: 'replies@wren.test' },
      custom_headers: { 'X-Campaign': 'q3' },
      attachments: [{ filename: 'report.pdf', content: pdf.toString('base64'), type: 'application/pdf' }],
      in_reply_to: '<earlier@elsewhere.test>',
    },
  });
  assert.is(reply.status, 200, reply.text);
  assert.match(reply.body.data.message_id, /^eml_[0-9a-z]{26}$/);
  assert.is(reply.body.data.status, 'queued');
  const jobs = await jobsOf(reply.body.data.message_id);
  assert.equal(jobs.map((j) => j.domain).sort(), ['elsewhere.test', 'other.test']);
  assert.equal(jobs.flatMap((j) => j.recipients.map((r) => r.address)).sort(), [
    'carol@elsewhere.test',
    'dave@elsewhere.test',
    'erin@other.test',
  ]);
  assert.is(jobs[0]!.from, 'alice@wren.test');
  assert.is(jobs[0]!.accountId, alice.id);

  const raw = await rawOf(jobs[0]!);
  const verified = await dkimVerify(raw, { resolver: resolver as never });
  assert.is(verified.results[0]?.status.result, 'pass', JSON.stringify(verified.results[0]?.status));
  assert.is(verified.results[0]?.signingDomain, 'wren.test');
  const parsed = await simpleParser(raw);
  assert.is(parsed.subject, 'Quarterly report ✓');
  assert.is(parsed.headers.get('x-campaign'), 'q3');
  assert.is(parsed.replyTo?.value[0]?.address, 'replies@wren.test');
  assert.is(parsed.inReplyTo, '<earlier@elsewhere.test>');
  assert.not.ok(parsed.headers.has('bcc'), 'Bcc is not in the message');
  assert.is(parsed.attachments[0]?.filename, 'report.pdf');
  assert.ok(parsed.attachments[0]!.content.equals(pdf));
  assert.match(parsed.html as string, /<b>attached<\/b>/);

  const events = await api.store.events.list({ accountId: alice.id });
  assert.ok(
    events.some((e) => e.type === 'message.queued' && `eml_${e.data.message_id}` === reply.body.data.message_id),
  );
  const sent = api.store.folders.bySpecialUse(alice.id, '\\Sent')!;
  const [copy] = await api.store.messages.list(sent.id);
  assert.ok(copy, 'a Sent copy');
  assert.ok((await api.store.read(copy!)).toString().includes('Subject: =?UTF-8?'));
});

test("header injection and bad input are refused; senders outside the key's scope are 403", async () => {
  const base = { from: 'alice@wren.test', to: 'carol@elsewhere.test', subject: 'x', text_body: 'x' };
  const bad = [
    { ...base, subject: 'hi\r\nBcc: victim@elsewhere.test' },
    { ...base, custom_headers: { 'X-Evil': 'a\r\nBcc: victim@elsewhere.test' } },
    { ...base, custom_headers: { 'X-Evil\r\nBcc': 'a' } },
    { ...base, custom_headers: { Bcc: 'victim@elsewhere.test' } },
    { ...base, from: { email: 'alice@wren.test', name: 'A\nBcc: v@x.test' } },
    { ...base, to: 'not an address' },
    { ...base, text_body: undefined },
    { ...base, attachments: [{ filename: 'run.exe', content: 'AAAA' }] },
    { ...base, to: Array.from({ length: 51 }, (_, i) => `r${i}@elsewhere.test`) },
  ];
  for (const body of bad) {
    const reply = await api.call('POST', '/emails/send', { key: aliceKey, body });
    assert.is(reply.status, 400, JSON.stringify(body));
  }
  assert.is(
    (await api.call('POST', '/emails/send', { key: aliceKey, body: { ...base, from: 'bob@wren.test' } })).status,
    403,
  );
  assert.is(
    (await api.call('POST', '/emails/send', { key: aliceKey, body: { ...base, return_path: 'bounces@foreign.test' } }))
      .status,
    403,
  );
  assert.is((await api.call('POST', '/emails/send', { body: { ...base, from: 'ceo@foreign.test' } })).status, 403);
  const asBob = await api.call('POST', '/emails/send', {
    body: { ...base, from: 'bob@wren.test', return_path: 'bounces+x@wren.test' },
  });
  assert.is(asBob.status, 200, 'a root key sends as any address of a team domain');
  const [job] = await jobsOf(asBob.body.data.message_id);
  assert.is(job!.from, 'bounces+x@wren.test', 'return_path is the envelope sender');
  assert.is(job!.accountId, bob.id);
  const readOnly = await api.makeKey(['mailbox.read'], api.teamId, 'mailbox', alice.id);
  assert.is((await api.call('POST', '/emails/send', { key: readOnly, body: base })).status, 403);
});

test('batch of 100 with 3 invalid items: 97 queued, 3 errors with their index', async () => {
  const sendKey = await api.makeKey(PRESETS.send_only!, api.teamId, 'sending');
  const messages: unknown[] = Array.from({ length: 100 }, (_, i) => ({
    from: 'alice@wren.test',
    to: `r${i}@elsewhere.test`,
    subject: `batch ${i}`,
    text_body: `n ${i}`,
  }));
  messages[7] = { from: 'alice@wren.test', to: 'r7@elsewhere.test', subject: 'no body' };
  messages[42] = { from: 'mallory@foreign.test', to: 'r42@elsewhere.test', subject: 'spoof', text_body: 'x' };
  messages[99] = { from: 'alice@wren.test', to: 'r99@elsewhere.test', subject: 'x\nBcc: y@z.test', text_body: 'x' };
  const before = (await api.store.queue.list({ limit: 10_000 })).jobs.length;
  const reply = await api.call('POST', '/emails/send/batch', { key: sendKey, body: { messages } });
  assert.is(reply.status, 200, reply.text);
  assert.equal(reply.body.data.summary, { total: 100, queued: 97, failed: 3 });
  const failed = reply.body.data.results.filter((r: any) => r.status === 'failed');
  assert.equal(
    failed.map((r: any) => [r.index, r.error.code]),
    [
      [7, 'invalid_parameter'],
      [42, 'insufficient_permissions'],
      [99, 'invalid_parameter'],
    ],
  );
  assert.ok(
    reply.body.data.results.filter((r: any) => r.status === 'queued').every((r: any) => /^eml_/.test(r.message_id)),
  );
  assert.is((await api.store.queue.list({ limit: 10_000 })).jobs.length - before, 97);

  const allBad = await api.call('POST', '/emails/send/batch', {
    key: sendKey,
    body: { messages: [messages[7], messages[42]] },
  });
  assert.is(allBad.status, 422);
  assert.is(
    (await api.call('POST', '/emails/send/batch', { key: sendKey, body: { messages: Array(101).fill(messages[0]) } }))
      .status,
    400,
  );
});

test('Idempotency-Key: the same send twice queues once and replays the reply', async () => {
  const body = { from: 'alice@wren.test', to: 'carol@elsewhere.test', subject: 'once', text_body: 'only once' };
  const headers = { 'idempotency-key': 'send-once-1' };
  const first = await api.call('POST', '/emails/send', { key: aliceKey, body, headers });
  const second = await api.call('POST', '/emails/send', { key: aliceKey, body, headers });
  assert.is(first.status, 200);
  assert.is(second.text, first.text);
  assert.is(second.headers.get('idempotent-replayed'), 'true');
  assert.is((await jobsOf(first.body.data.message_id)).length, 1);
  const other = await api.call('POST', '/emails/send', {
    key: aliceKey,
    body: { ...body, subject: 'different' },
    headers,
  });
  assert.is(other.status, 409);
});

test.run();
