// Three Wren nodes on one PostgreSQL database (`[store] shared = true`, docs/ARCHITECTURE.md §4.8,
// issue 20: "two and three nodes"): SMTP clients deliver to the same folders through all three, IMAP
// IDLE on one sees the other two's deliveries, and three queue runners deliver each outbound message
// once. Always on PostgreSQL (a private cluster, test/helpers/postgres.ts), whatever the suite engine.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Instance } from '../helpers/instance.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { startSink, waitFor, type Sink } from '../helpers/outbound.ts';
import {
  assertInboxOnEveryNode,
  deliverThrough,
  idleSeesDelivery,
  type SharedNodes,
  sentIds,
  startSharedNodes,
  submissionTransport,
} from '../helpers/shared-nodes.ts';

const MAILBOXES = ['ann@example.test', 'bob@example.test'];
let dns: TestDnsServer;
let sink: Sink;
let shared: SharedNodes;
let nodes: Instance[] = [];

test.before(async () => {
  dns = await startDnsServer({
    'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] },
    'mx.sink.test': { A: ['127.0.0.1'] },
  });
  sink = await startSink({ tls: false });
  shared = await startSharedNodes('shared-three', {
    hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4'],
    dnsServers: dns.servers,
    overrides: (host) => ({
      // Submission on, for the outbound test; each node's runner polls every second.
      smtp: { submissions_listen: [], messages_per_ip_per_minute: 100_000 },
      outbound: { smtp_port: sink.port, local_address: host, poll_interval_seconds: 1 },
    }),
    accounts: MAILBOXES,
  });
  nodes = shared.nodes;
});
test.after(async () => {
  await shared?.stop();
  await Promise.all([sink?.close(), dns?.close()]);
});

test('21 SMTP clients deliver to two mailboxes through three nodes: each stored once, UIDs increasing, one UIDNEXT', async () => {
  const started = Date.now();
  const replies = await deliverThrough(nodes, 21, 6, MAILBOXES, 'three');
  assert.is(
    replies.filter((r) => r.startsWith('250 ')).length,
    126,
    replies.find((r) => !r.startsWith('250 ')),
  );
  console.log(`126 messages × 2 mailboxes through three nodes: ${Date.now() - started} ms`);
  for (const user of MAILBOXES) await assertInboxOnEveryNode(nodes, user, sentIds('three', 21, 6));
});

test('IMAP IDLE on one node announces deliveries made on each of the other two within a second', async () => {
  const [a, b, c] = nodes as [Instance, Instance, Instance];
  const took = [await idleSeesDelivery(a, b, MAILBOXES[0]!), await idleSeesDelivery(a, c, MAILBOXES[0]!)];
  console.log(`IDLE on ${a.host}: EXISTS ${took.join(' ms, ')} ms after the 250 on ${b.host}, ${c.host}`);
});

test('three queue runners: each message submitted through any node reaches the destination exactly once', async () => {
  const ids = await Promise.all(
    nodes.map(async (node, n) => {
      const transport = submissionTransport(node, MAILBOXES[0]!);
      const sent: string[] = [];
      for (let i = 0; i < 8; i++) {
        const messageId = `<out-${n}-${i}@example.test>`;
        const info = await transport.sendMail({
          from: MAILBOXES[0],
          to: `far${i}@sink.test`,
          subject: `outbound ${n}.${i}`,
          messageId,
          text: 'hello\n',
        });
        assert.match(info.response, /^250 /);
        sent.push(messageId);
      }
      transport.close();
      return sent;
    }),
  );
  const expected = ids.flat().sort();
  const received = (): string[] =>
    sink.messages.map((m) => /^Message-ID:\s*(<[^>]+>)/im.exec(m.raw.toString('latin1'))?.[1] ?? '?');
  await waitFor(() => new Set(received()).size >= expected.length, 30_000, `${expected.length} messages at the sink`);
  // Every runner polls each second: give them three more polls to deliver anything twice.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(received().sort(), expected, 'each message once');
  const senders = new Set(sink.messages.map((m) => m.remoteAddress));
  console.log(`${expected.length} outbound messages, delivered once each, from ${[...senders].join(', ')}`);
});

test.run();
