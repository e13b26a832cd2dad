// Mailbox API reads while another session expunges the message (RFC 2180 4.1 for IMAP; here the same
// store): each route reads the record and then its content (index, search fields, bytes), and the
// expunge frees the blob. The expunge is made to land exactly between the two, the moment the route
// first touches the content, so the race is deterministic. The answer is the whole message or a
// clean 404, never a 500 ("blob … is missing chunks" / "has no index").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createReportCollector } from '../../src/reports/collector.ts';
import { judgementOfMove, learnJudgement } from '../../src/spam/feedback.ts';
import type { Account } from '../../src/store/index.ts';
import { Reports } from '../../src/store/reports.ts';
import type { ApiFixture } from '../helpers/api.ts';
import { startMailboxFixture, type MailboxFixture } from '../helpers/mailbox-api.ts';
import { dmarcXml, dmarcZipMail } from '../helpers/reports.ts';
import { makeMessage } from '../helpers/tmp.ts';

let fixture: MailboxFixture;
let api: ApiFixture;
let alice: Account;
let aliceKey: string;

test.before(async () => {
  fixture = await startMailboxFixture();
  ({ api, alice, aliceKey } = fixture);
});
test.after(() => fixture.close());

const inbox = () => api.store.folders.byName(alice.id, 'INBOX')!;
const CONTENT_READS = ['read', 'structures', 'searchFields', 'headerFields'] as const;

/**
 * The next time anything reads message content from the store, another session's expunge of `uid`
 * commits first (what IMAP EXPUNGE does). Resolves once the expunge has happened.
 */
function expungeBeforeNextContentRead(folderId: number, uid: number): Promise<void> {
  const blobs = api.store.blobs as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const originals = CONTENT_READS.map((name) => [name, blobs[name]!] as const);
  return new Promise((resolve, reject) => {
    setTimeout(() => reject(new Error('nothing read the message content within 10 s')), 10_000).unref();
    for (const [name, original] of originals) {
      blobs[name] = async (...args: unknown[]) => {
        for (const [n, o] of originals) blobs[n] = o; // once
        await api.store.messages.expunge(folderId, [uid]).then(() => resolve(), reject);
        return original.apply(api.store.blobs, args);
      };
    }
  });
}

/** A message in Alice's INBOX: its API id and UID. */
async function delivered(raw: Buffer): Promise<{ id: string; uid: number }> {
  await api.store.deliver(raw, [{ folder: inbox() }]);
  const list = (await api.call('GET', '/mailbox/messages', { key: aliceKey })).body.data as {
    id: string;
    uid: number;
  }[];
  return list[0]!;
}

const withAttachment = (subject: string): Buffer =>
  Buffer.from(
    `From: Dana <dana@sender.test>\r\nTo: alice@wren.test\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n' +
      '--b1\r\nContent-Type: application/octet-stream; name="x.bin"\r\nContent-Disposition: attachment; filename="x.bin"\r\n' +
      `Content-Transfer-Encoding: base64\r\n\r\n${Buffer.from(`payload of ${subject}`).toString('base64')}\r\n--b1--\r\n`,
  );

for (const route of [
  {
    name: 'raw download',
    path: (id: string) => `/mailbox/messages/${id}/raw`,
    check: (text: string, raw: Buffer) => assert.is(text, raw.toString()),
  },
  {
    name: 'message view',
    path: (id: string) => `/mailbox/messages/${id}`,
    check: (text: string) => assert.match(JSON.parse(text).data.body.text, /See attached/),
  },
  {
    name: 'attachment',
    path: (id: string) => `/mailbox/messages/${id}/attachments/0`,
    check: (text: string, _: Buffer, subject: string) => assert.is(text, `payload of ${subject}`),
  },
  {
    name: 'thread',
    path: (id: string) => `/mailbox/threads/${id}`,
    check: (text: string) => assert.is(JSON.parse(text).data.messages.length, 1),
  },
  {
    name: 'search',
    path: () => '/mailbox/search?q=attached',
    check: (text: string) => assert.is(JSON.parse(text).data.length, 1),
  },
]) {
  test(`${route.name}: an expunge between the record and its content gives the whole message, not a 500`, async () => {
    const subject = `race ${route.name}`;
    const raw = withAttachment(subject);
    const { id, uid } = await delivered(raw);
    const expunged = expungeBeforeNextContentRead(inbox().id, uid);
    const reply = await api.call('GET', route.path(id), { key: aliceKey });
    await expunged;
    assert.is(await api.store.messages.get(inbox().id, uid), undefined, 'the message is gone from the store');
    assert.is(reply.status, 200, reply.text);
    route.check(reply.text, raw, subject);
    // Once it is gone, the same request is a clean 404 (search: no hit).
    const after = await api.call('GET', route.path(id), { key: aliceKey });
    if (route.name === 'search') assert.is(after.body.data.length, 0);
    else assert.is(after.status, 404, after.text);
  });
}

test('batch get: an expunge between the records and their content still answers for every id', async () => {
  const raw = withAttachment('race batch');
  const { id, uid } = await delivered(raw);
  const expunged = expungeBeforeNextContentRead(inbox().id, uid);
  const reply = await api.call('POST', '/mailbox/messages/batch', {
    key: aliceKey,
    body: { action: 'get', ids: [id], max_body_chars: 100 },
  });
  await expunged;
  assert.is(reply.status, 200, reply.text);
  assert.is(reply.body.data.results[0].ok, true, reply.text);
  assert.match(reply.body.data.results[0].body.text, /See attached/);
});

test('the report collector reads a report expunged right after delivery from its snapshot', async () => {
  await api.store.domains.create(api.teamId, 'reported.test');
  const reports = new Reports(api.store.kv);
  const collector = createReportCollector({ store: api.store, reports });
  try {
    const raw = dmarcZipMail('alice@wren.test', dmarcXml({ domain: 'reported.test', reportId: 'race-1' }));
    const expunged = expungeBeforeNextContentRead(inbox().id, inbox().uidNext);
    // The event inbound delivery writes with the message (src/inbound/deliver.ts), which the collector watches.
    await api.store.deliver(raw, [{ folder: inbox() }], {
      events: (stored) =>
        stored.map(({ folder, message }) => ({
          type: 'message.received',
          teamId: api.teamId,
          accountId: alice.id,
          data: { folder: folder.name, uid: message.uid },
        })),
    });
    await expunged;
    await collector.idle();
    const kept = await reports.list('dmarc', api.teamId);
    assert.ok(
      kept.some((r) => r.report.reportId === 'race-1'),
      'the report was read and kept',
    );
  } finally {
    await collector.stop();
  }
});

test('spam feedback trains from a message expunged right after it was moved to Junk', async () => {
  const junk = api.store.folders.bySpecialUse(alice.id, '\\Junk')!;
  const { uid } = await delivered(makeMessage({ subject: 'cheap pills race', body: 'buy cheap pills now\r\n' }));
  const { to } = await api.store.messages.copy(inbox().id, [uid], junk.id, true);
  const expunged = expungeBeforeNextContentRead(junk.id, to[0]!);
  const trained = await learnJudgement(api.store, judgementOfMove(alice.id, inbox(), junk, to)!);
  await expunged;
  assert.is(trained, 1);
});

test.run();
