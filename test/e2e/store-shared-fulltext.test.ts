// The full-text index (docs/ARCHITECTURE.md §4.9) on two Wren nodes sharing one PostgreSQL database
// (`[store] shared = true`, §4.8): deliveries through both nodes into one folder, enough for runs to be
// built (RUN_MIN), more deliveries and an EXPUNGE on the other node; IMAP SEARCH TEXT/BODY on every node,
// and on a node started afterwards (it reads the runs as stored), must give exactly the UIDs a
// brute-force substring check over the fetched messages gives (RFC 3501 6.4.4).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ImapFlow } from 'imapflow';
import pg from 'pg';
import { RUN_MIN } from '../../src/store/fulltext.ts';
import type { Instance } from '../helpers/instance.ts';
import { imapClient, type SharedNodes, startSharedNodes } from '../helpers/shared-nodes.ts';

const USER = 'ann@example.test';
const NEEDLES = ['alpha3', 'beta1', 'gamma12', 'subject 7', 'common', 'lta4', 'nowhere'];
let shared: SharedNodes;
let a: Instance;
let b: Instance;
const clients: ImapFlow[] = [];

test.before(async () => {
  // `smtp: {}`: the SMTP listeners and limits as startInstance has them (the messages go in through the store).
  shared = await startSharedNodes('shared-fulltext', { overrides: { smtp: {} }, accounts: [USER] });
  ({ a, b } = shared);
});
test.after(async () => {
  for (const client of clients) await client.logout().catch(() => {});
  await shared?.stop();
});

async function imap(instance: Instance): Promise<ImapFlow> {
  const client = imapClient(instance, USER);
  await client.connect();
  await client.mailboxOpen('INBOX');
  clients.push(client);
  return client;
}

/** Message `n`: words whose substrings overlap across messages ("alpha3" is in alpha3, alpha30, alpha31…). */
const message = (n: number) =>
  Buffer.from(
    `From: sender${n % 5}@elsewhere.test\r\nTo: ${USER}\r\nSubject: subject ${n % 11} delta${n % 17}\r\n\r\n` +
      `alpha${n % 37} beta${n % 3} gamma${n % 19} common\r\n`,
  );

let delivered = 0;
/** `count` messages, alternately through each of `through`, two at a time in flight per node. */
async function deliver(through: Instance[], count: number): Promise<void> {
  const numbers = Array.from({ length: count }, () => ++delivered);
  await Promise.all(
    through.flatMap((instance, i) =>
      [0, 1].map(async (lane) => {
        const store = instance.server.store;
        const account = (await store.accounts.byAddress(USER))!;
        const inbox = store.folders.byName(account.id, 'INBOX')!;
        for (let k = i * 2 + lane; k < numbers.length; k += through.length * 2)
          await store.deliver(message(numbers[k]!), [{ folder: inbox, flags: [] }]);
      }),
    ),
  );
}

/** What SEARCH must answer, from the messages as fetched: case-insensitive substring of the whole message or its body. */
async function expected(client: ImapFlow): Promise<Map<string, string>> {
  const texts: { uid: number; whole: string; body: string }[] = [];
  for await (const m of client.fetch('1:*', { uid: true, source: true })) {
    const whole = m.source!.toString('latin1').toLowerCase();
    texts.push({ uid: m.uid, whole, body: whole.slice(whole.indexOf('\r\n\r\n') + 4) });
  }
  texts.sort((x, y) => x.uid - y.uid);
  const out = new Map<string, string>();
  for (const needle of NEEDLES) {
    out.set(
      `text ${needle}`,
      texts
        .filter((t) => t.whole.includes(needle))
        .map((t) => t.uid)
        .join(' '),
    );
    out.set(
      `body ${needle}`,
      texts
        .filter((t) => t.body.includes(needle))
        .map((t) => t.uid)
        .join(' '),
    );
  }
  return out;
}

async function answers(client: ImapFlow): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const needle of NEEDLES) {
    out.set(`text ${needle}`, ((await client.search({ text: needle }, { uid: true })) || []).join(' '));
    out.set(`body ${needle}`, ((await client.search({ body: needle }, { uid: true })) || []).join(' '));
  }
  return out;
}

/**
 * A fresh SELECT: the session's view is the folder as the node's store has it now, whatever it was
 * told while selected (that sessions are told of every message is `e2e/store-shared-nodes`' test).
 */
async function reselect(client: ImapFlow): Promise<void> {
  await client.mailboxClose();
  await client.mailboxOpen('INBOX');
}

/**
 * The folder's runs as the database holds them (`fr/` rows: first, last, count heads) do not overlap,
 * and every live message up to the last run's last UID lies in one: what a node that reads them finds.
 */
async function storedRunsCover(live: number[], step: string): Promise<void> {
  const client = new pg.Client({ connectionString: shared.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ value: Buffer }>(
      "SELECT value FROM kv WHERE substring(key FROM 1 FOR 3) = 'fr/'::bytea ORDER BY key",
    );
    const runs = rows.map(({ value }) => [value.readUInt32LE(0), value.readUInt32LE(4)] as const);
    for (let i = 1; i < runs.length; i++)
      assert.ok(runs[i]![0] > runs[i - 1]![1], `${step}: stored runs overlap: ${JSON.stringify(runs)}`);
    const last = runs.at(-1)?.[1] ?? 0;
    const outside = live.filter((uid) => uid <= last && !runs.some(([f, l]) => f <= uid && uid <= l));
    assert.is(outside.join(' '), '', `${step}: live messages in no stored run ${JSON.stringify(runs)}`);
  } finally {
    await client.end();
  }
}

/** Every node answers every needle as the brute-force check over the messages it fetches does, and all fetch the same. */
async function sameEverywhere(on: ImapFlow[], step: string): Promise<void> {
  await reselect(on[0]!);
  const want = await expected(on[0]!);
  assert.ok(want.get('text common')!.split(' ').length > RUN_MIN, 'enough messages for runs');
  await storedRunsCover(want.get('text common')!.split(' ').map(Number), step);
  for (const [i, client] of on.entries()) {
    await reselect(client);
    const fetched = await expected(client);
    const [mine, theirs] = [fetched, want].map((m) => new Set(m.get('text common')!.split(' ')));
    const differ = [...mine!]
      .filter((u) => !theirs!.has(u))
      .concat([...theirs!].filter((u) => !mine!.has(u)))
      .join(' ');
    assert.is(differ, '', `${step}: node ${i} has the same messages (node 0 has ${theirs!.size}, it ${mine!.size})`);
    const got = await answers(client);
    for (const [query, uids] of want) assert.is(got.get(query), uids, `${step}: node ${i}, SEARCH ${query}`);
  }
}

/** Delivers as `deliver` does while both sessions search on (a search indexes a tail of RUN_MIN or more). */
async function deliverSearching(through: Instance[], count: number, on: ImapFlow[]): Promise<void> {
  let done = false;
  const searching = on.map(async (client) => {
    while (!done) await client.search({ text: 'common' }, { uid: true });
  });
  await deliver(through, count).finally(() => {
    done = true;
  });
  await Promise.all(searching);
}

/** Lets the background run builds of both nodes finish (they start after the commits). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1500));

test('deliveries through both nodes, more through B, an EXPUNGE on B: SEARCH agrees with the texts on both nodes and on a node started later', async () => {
  const [onA, onB] = [await imap(a), await imap(b)];
  await deliverSearching([a, b], 2 * RUN_MIN + 100, [onA, onB]);
  await sameEverywhere([onA, onB], 'after deliveries through both');
  await settle();
  await sameEverywhere([onA, onB], 'after the builds');
  await deliver([b], RUN_MIN + 60); // A holds runs in memory; B builds new ones
  await settle();
  await sameEverywhere([onA, onB], 'after deliveries through B');
  await deliver([a], RUN_MIN + 30);
  await settle();
  await sameEverywhere([onB, onA], 'after deliveries through A');
  // Most of the oldest messages go (runs left more than half empty are rewritten), through B.
  const first = (await onB.search({ all: true }, { uid: true })) || [];
  assert.ok(
    await onB.messageDelete(
      first.slice(0, 2 * RUN_MIN).filter((uid) => uid % 4 !== 0),
      { uid: true },
    ),
  );
  await settle();
  await sameEverywhere([onA, onB], 'after an EXPUNGE through B');
  await deliverSearching([b, a], 3 * RUN_MIN, [onA, onB]);
  await settle();
  const c = await shared.node('127.0.0.4'); // reads the runs as the database has them
  await sameEverywhere([onA, onB, await imap(c)], 'on a node started afterwards');
});

test.run();
