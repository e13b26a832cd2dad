// Events on two Wren nodes sharing one PostgreSQL database (`[store] shared = true`, docs/ARCHITECTURE.md
// §4.8): deliveries through SMTP on both nodes at once; an SSE client moves from node to node with
// Last-Event-ID and gets every event once, in order; a webhook gets each event once though both nodes
// run a dispatcher; Bayes training on one node is what the other classifies with. Always on PostgreSQL (a private cluster), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/security/permissions.ts';
import { Webhooks } from '../../src/store/webhooks.ts';
import { storeKey } from '../helpers/api.ts';
import { openSse, type SseClient, type SseFrame, startReceiver, type Receiver } from '../helpers/events.ts';
import type { Instance } from '../helpers/instance.ts';
import { apiCall, mxTransport, type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

const ANN = 'ann@example.test';
let shared: SharedNodes;
let a: Instance;
let b: Instance;
let key: string;
let root: string;
let receiver: Receiver;

test.before(async () => {
  shared = await startSharedNodes('shared-events', {
    overrides: {
      webhooks: { allow_http: true, allow_private_addresses: true },
      spam: { bayes_min_spam: 1, bayes_min_ham: 1 },
    },
    accounts: [ANN],
  });
  ({ a, b } = shared);
  const ann = shared.accounts[0]!;
  key = await storeKey(a.server.store, {
    teamId: ann.teamId,
    type: 'mailbox',
    permissions: PRESETS['mailbox:full']!,
    accountId: ann.id,
  });
  root = await storeKey(a.server.store, { teamId: ann.teamId, type: 'root', permissions: ['spam.train', 'spam.test'] });
  receiver = await startReceiver();
  const now = Date.now();
  await new Webhooks(a.server.store.kv, a.server.store.notifier).save({
    id: 'shared-events',
    teamId: ann.teamId,
    url: receiver.url,
    description: '',
    eventTypes: ['message.received'],
    accountIds: [],
    secret: `whsec_${Buffer.from('shared events secret').toString('base64')}`,
    enabled: true,
    failing: false,
    failingSince: null,
    createdAt: now,
    updatedAt: now,
  });
});
test.after(async () => {
  await Promise.all([shared?.stop(), receiver?.close()]);
});

const events = (instance: Instance): string => `http://${instance.host}:${instance.port('http')}/api/v1/mailbox/events`;

/** `count` messages to ann from 8 SMTP clients at once, alternating between the nodes; resolves with their subjects. */
async function deliver(prefix: string, count: number): Promise<string[]> {
  const subjects = Array.from({ length: count }, (_, i) => `${prefix} ${i}`);
  const clients = 8;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const transport = mxTransport(c % 2 ? b : a);
      for (let i = c; i < count; i += clients) {
        const info = await transport.sendMail({
          from: 'sender@elsewhere.test',
          to: ANN,
          subject: subjects[i]!,
          text: `${subjects[i]}\n`,
        });
        assert.match(info.response, /^250 /);
      }
      transport.close();
    }),
  );
  return subjects;
}

const seq = (frame: SseFrame): number => parseInt(frame.id!.slice(4), 16);

/** Waits until the stream has `count` frames, then closes it (the client goes away mid-stream). */
async function readThenLeave(sse: SseClient, count: number): Promise<SseFrame[]> {
  await sse.waitFor(count, 15_000);
  sse.close();
  return [...sse.frames];
}

test('SSE moves between nodes with Last-Event-ID under deliveries on both: every event once, in order', async () => {
  const first = await openSse(events(a), key);
  assert.is(first.status, 200);
  const load1 = deliver('one', 48);
  const seenA = await readThenLeave(first, 12);
  const seenB0 = await openSse(events(b), key, { 'last-event-id': seenA.at(-1)!.id! });
  const load2 = load1.then(async (one) => [...one, ...(await deliver('two', 48))]);
  const seenB = await readThenLeave(seenB0, 40);
  const last = await openSse(events(a), key, { 'last-event-id': seenB.at(-1)!.id! });
  const subjects = await load2;
  const rest = await last.waitFor(subjects.length - seenA.length - seenB.length, 15_000);
  await new Promise((r) => setTimeout(r, 300)); // any duplicate would come now
  last.close();

  const frames = [...seenA, ...seenB, ...last.frames];
  assert.is(rest.length, last.frames.length);
  const got = frames.map((f) => f.data.message?.subject as string);
  assert.equal([...got].sort(), [...subjects].sort(), 'every delivery exactly once across the three streams');
  for (let i = 1; i < frames.length; i++)
    assert.ok(seq(frames[i]!) > seq(frames[i - 1]!), `ids increase: ${frames[i - 1]!.id} then ${frames[i]!.id}`);
  // Each node's own log agrees: the ids are the commit order both nodes read back.
  const replay = await openSse(events(b), key, { 'last-event-id': 'evt_000000000000' });
  await replay.waitFor(frames.length, 15_000);
  replay.close();
  assert.equal(
    replay.frames.map((f) => f.id),
    frames.map((f) => f.id),
  );
});

test('webhooks: each event posted exactly once though both nodes run a dispatcher', async () => {
  const received = await receiver.waitFor(96, 20_000);
  await new Promise((r) => setTimeout(r, 1500)); // a second post of any delivery would come now
  const ids = receiver.received.map((r) => JSON.parse(r.body).id as string);
  assert.is(new Set(ids).size, ids.length, `no event posted twice (${ids.length} posts)`);
  assert.is(ids.length, 96, 'every delivery posted');
  assert.ok(received.length === 96);
});

/** POST to a node's API with the root key; the reply's data. */
async function post(instance: Instance, path: string, message: string): Promise<any> {
  const reply = await apiCall(instance, root, 'POST', path, { message });
  assert.is(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.data;
}

const mail = (subject: string, body: string): string =>
  `From: <x@elsewhere.test>\r\nTo: <ann@example.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@elsewhere.test>\r\n\r\n${body}\r\n`;

test("Bayes: training on node A changes node B's classification within a second; training on both at once loses nothing", async () => {
  // Words enough for Bayes' full strength (20 clues: a verdict on fewer is pulled toward unsure).
  const pitch =
    'zorblax quxxo discount pharmacy pills cheap meds order today best prices shipped fast worldwide no prescription needed save money online now limited offer';
  const spammy = mail('zorblax pills offer', pitch);
  // B loads its model now (untrained: Bayes abstains), so a stale copy would be kept.
  assert.is((await post(b, '/spam/classify', spammy)).bayes_probability, null);
  await post(a, '/spam/train/spam', spammy);
  await post(a, '/spam/train/ham', mail('minutes of the meeting', 'agenda budget review minutes'));
  const trained = Date.now();
  let probability: number | null = null;
  while (Date.now() - trained < 1000 && probability === null)
    probability = (await post(b, '/spam/classify', spammy)).bayes_probability;
  assert.ok(probability !== null && probability > 0.9, `node B classifies with A's training (${probability})`);

  // 10 messages trained through each node at once: every one counted once, on both nodes.
  await Promise.all(
    [a, b].map(async (instance, n) => {
      for (let i = 0; i < 10; i++) await post(instance, '/spam/train/spam', mail(`offer ${n} ${i}`, `spam ${n} ${i}`));
    }),
  );
  await new Promise((r) => setTimeout(r, 300));
  const again = mail('zorblax pills offer', pitch);
  for (const instance of [a, b])
    assert.equal((await post(instance, '/spam/train/spam', again)).totals, { spam: 21, ham: 1 }, instance.host);
});

test.run();
