// The SSE mailbox stream over real sockets: mail arriving over SMTP shows up as a frame within a
// second; a reconnect with Last-Event-ID gets exactly the missed events, in order, then live ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PRESETS } from '../../src/security/permissions.ts';
import { startEventsFixture, type EventsFixture } from '../helpers/events-fixture.ts';
import { openSse } from '../helpers/events.ts';

let fx: EventsFixture;
let aliceKey: string;
let url: string;

test.before(async () => {
  fx = await startEventsFixture(false);
  aliceKey = await fx.api.makeKey(PRESETS['mailbox:full']!, fx.api.teamId, 'mailbox', fx.alice.id);
  url = `${fx.api.base}/mailbox/events`;
});
test.after(() => fx.close());

test('message.received arrives within a second of the SMTP 250, with the summary and body snapshot', async () => {
  const sse = await openSse(`${url}?ping=10`, aliceKey);
  assert.is(sse.status, 200);
  assert.match(sse.headers.get('content-type')!, /^text\/event-stream/);
  assert.is(await fx.mail('bob@wren.test', 'not for alice'), 250);
  assert.is(await fx.mail('alice@wren.test', 'live one', 'Body of the live message.'), 250);
  const accepted = Date.now();
  const [frame] = await sse.waitFor(1, 1000);
  assert.ok(frame!.at - accepted < 1000, `frame ${frame!.at - accepted} ms after the 250`);
  assert.is(frame!.event, 'message.received');
  assert.match(frame!.id!, /^evt_[0-9a-f]{12}$/);
  assert.is(frame!.data.id, frame!.id);
  assert.is(frame!.data.mailbox_id, `mbx_${fx.alice.id}`);
  assert.is(frame!.data.message.subject, 'live one');
  assert.equal(frame!.data.message.from, [{ name: 'Carol', email: 'carol@sender.test' }]);
  assert.is(frame!.data.message.folder, 'INBOX');
  assert.match(frame!.data.message.body.text, /Body of the live message\./);
  assert.is(frame!.data.message.body.truncated, false);
  await new Promise((r) => setTimeout(r, 100));
  assert.is(sse.frames.length, 1, "bob's mail is not in alice's stream");
  sse.close();
});

test('reconnect with Last-Event-ID: exactly the missed events, in order, then live, no duplicates', async () => {
  const first = await openSse(url, aliceKey);
  assert.is(await fx.mail('alice@wren.test', 'before disconnect'), 250);
  const [seen] = await first.waitFor(1);
  first.close();
  for (const n of [1, 2, 3]) assert.is(await fx.mail('alice@wren.test', `missed ${n}`), 250);
  assert.is(await fx.mail('bob@wren.test', 'bob missed'), 250);

  const again = await openSse(url, aliceKey, { 'last-event-id': seen!.id! });
  const replayed = await again.waitFor(3);
  assert.equal(
    replayed.map((f) => f.data.message.subject),
    ['missed 1', 'missed 2', 'missed 3'],
  );
  assert.is(await fx.mail('alice@wren.test', 'live after replay'), 250);
  const all = await again.waitFor(4);
  assert.is(all[3]!.data.message.subject, 'live after replay');
  const seqs = all.map((f) => parseInt(f.id!.slice(4), 16));
  assert.equal(
    seqs,
    [...seqs].sort((a, b) => a - b),
  );
  assert.ok(seqs[0]! > parseInt(seen!.id!.slice(4), 16));
  await new Promise((r) => setTimeout(r, 100));
  assert.is(again.frames.length, 4, 'no duplicates');
  again.close();

  // The query parameter works the same way.
  const byQuery = await openSse(`${url}?last_event_id=${seen!.id}`, aliceKey);
  assert.equal(
    (await byQuery.waitFor(4)).map((f) => f.data.message.subject),
    ['missed 1', 'missed 2', 'missed 3', 'live after replay'],
  );
  byQuery.close();
});

test('event_types filter, root keys with mailbox_id, mailbox keys confined to their mailbox', async () => {
  const delivered = await openSse(`${url}?event_types=message.delivered`, aliceKey);
  const root = await openSse(`${url}?mailbox_id=mbx_${fx.bob.id}`, fx.api.rootKey);
  assert.is(root.status, 200);
  assert.is(await fx.mail('bob@wren.test', 'for bob via root'), 250);
  const [frame] = await root.waitFor(1);
  assert.is(frame!.data.message.subject, 'for bob via root');
  assert.is(delivered.frames.length, 0);
  delivered.close();
  root.close();

  const foreign = await openSse(`${url}?mailbox_id=mbx_${fx.bob.id}`, aliceKey);
  assert.is(foreign.status, 403);
  const sendOnly = await fx.api.makeKey(PRESETS.send_only!, fx.api.teamId, 'sending');
  assert.is((await openSse(url, sendOnly)).status, 403);
  assert.is((await openSse(`${url}?ping=5`, aliceKey)).status, 400);
  assert.is((await openSse(`${url}?close_after=10`, aliceKey)).status, 400);
  assert.is((await openSse(`${url}?event_types=message.nope`, aliceKey)).status, 400);
  assert.is((await openSse(url, aliceKey, { 'last-event-id': 'garbage' })).status, 400);
});

test('at most 5 streams per key: the sixth is 429; closing one frees a slot', async () => {
  const streams = [];
  for (let i = 0; i < 5; i++) streams.push(await openSse(url, aliceKey));
  assert.ok(streams.every((s) => s.status === 200));
  const sixth = await openSse(url, aliceKey);
  assert.is(sixth.status, 429);
  assert.is(sixth.headers.get('retry-after'), '30');
  streams.pop()!.close();
  await new Promise((r) => setTimeout(r, 100));
  const again = await openSse(url, aliceKey);
  assert.is(again.status, 200);
  again.close();
  for (const s of streams) s.close();
  // The server frees a slot when it sees the socket close: wait until it has seen these (a probe
  // stream opens), so the next test's streams do not race them; at most the probe is left closing.
  for (let tries = 0; ; tries++) {
    const probe = await openSse(url, aliceKey);
    probe.close();
    if (probe.status === 200 || tries === 50) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('a Last-Event-ID older than the retained log gets sync_required, then live events', async () => {
  const first = await openSse(url, aliceKey);
  assert.is(await fx.mail('alice@wren.test', 'soon pruned'), 250);
  const [old] = await first.waitFor(1);
  first.close();
  assert.is(await fx.mail('alice@wren.test', 'pruned too'), 250);
  await fx.api.store.events.prune(Date.now() + 1);
  const sse = await openSse(url, aliceKey, { 'last-event-id': old!.id! });
  const [sync] = await sse.waitFor(1);
  assert.is(sync!.event, 'sync_required');
  assert.is(await fx.mail('alice@wren.test', 'after sync'), 250);
  const [, live] = await sse.waitFor(2);
  assert.is(live!.data.message.subject, 'after sync');
  sse.close();
});

test.run();
