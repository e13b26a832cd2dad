// Failures of a shared store (`[store] shared = true`, docs/ARCHITECTURE.md §4.8): two `wrenmail`
// processes on one PostgreSQL database (a private cluster), SMTP clients delivering through both.
// kill -9 of one node mid-load: every message that got a 250 is stored exactly once, the other node keeps
// accepting and takes over the queue job the dead node had leased once the lease expires. A PostgreSQL
// restart mid-load: clients get 4xx / NO while it is down, never a lost acknowledged message, and the
// nodes recover by themselves (§4.4).
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import type { ImapFlow } from 'imapflow';
import pg from 'pg';
import { createRootKey } from '../../src/bootstrap.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { Store } from '../../src/store/index.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { startSink, waitFor, type Sink } from '../helpers/outbound.ts';
import { RawClient } from '../helpers/imap.ts';
import { imapClient, PASSWORD } from '../helpers/shared-nodes.ts';
import { startPostgres, type PostgresCluster } from '../helpers/postgres.ts';
import { SmtpClient } from '../helpers/smtp.ts';
import { startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const MAILBOX = 'ann@example.test';
const LEASE_SECONDS = 3;
let cluster: PostgresCluster;
let dns: TestDnsServer;
let sink: Sink;
let apiKey: string;
const dirs: ReturnType<typeof tempDir>[] = [];
const running = new Set<ServerProcess>();

interface Node {
  host: string;
  process: ServerProcess;
  port(name: string): number;
}

test.before(async () => {
  cluster = await startPostgres();
  dns = await startDnsServer({
    'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] },
    'mx.sink.test': { A: ['127.0.0.1'] },
  });
  // The first outbound attempt hangs before its DATA reply (the node holding it is killed meanwhile).
  sink = await startSink({ tls: false, delayMs: (attempt) => (attempt === 1 ? 60_000 : 0) });
  const store = await Store.open('', { postgresUrl: cluster.url, shared: true });
  const team = await store.teams.create('example.test');
  await store.domains.create(team.id, 'example.test');
  await store.accounts.create({ teamId: team.id, address: MAILBOX, passwordHash: await hashPassword(PASSWORD) });
  apiKey = await createRootKey(store, team.id, 'test');
  await store.close();
});

test.after(async () => {
  for (const server of running) server.child.kill('SIGKILL');
  await Promise.all([...running].map((server) => server.exited));
  await Promise.all([sink?.close(), dns?.close()]);
  cluster?.stop();
  for (const dir of dirs) dir.remove();
});

/** `http`: with the API listening (the read test asks it). */
async function startNode(host: string, http = false): Promise<Node> {
  const dir = tempDir('wren-node-');
  dirs.push(dir);
  const listen = `${host}:0`;
  const server = await startServerProcess({
    WRENMAIL_DATA_DIR: join(dir.path, 'data'),
    WRENMAIL_HOSTNAME: 'mail.example.test',
    WRENMAIL_SERVER_SHUTDOWN_TIMEOUT_MS: '3000',
    WRENMAIL_STORE_ENGINE: 'postgres',
    WRENMAIL_STORE_POSTGRES_URL: cluster.url,
    WRENMAIL_STORE_SHARED: 'true',
    WRENMAIL_STORE_LEASE_SECONDS: String(LEASE_SECONDS),
    WRENMAIL_SMTP_MX_LISTEN: listen,
    WRENMAIL_SMTP_SUBMISSION_LISTEN: listen,
    WRENMAIL_SMTP_SUBMISSIONS_LISTEN: '',
    WRENMAIL_SMTP_MESSAGES_PER_IP_PER_MINUTE: '100000',
    WRENMAIL_IMAP_LISTEN: listen,
    WRENMAIL_IMAP_TLS_LISTEN: '',
    WRENMAIL_IMAP_ALLOW_PLAIN_AUTH_LOOPBACK: 'true', // the raw session below logs in without STARTTLS
    WRENMAIL_POP3_LISTEN: '',
    WRENMAIL_POP3_TLS_LISTEN: '',
    WRENMAIL_HTTP_LISTEN: http ? listen : '',
    WRENMAIL_DNS_SERVERS: dns.servers[0]!,
    WRENMAIL_OUTBOUND_SMTP_PORT: String(sink.port),
    WRENMAIL_OUTBOUND_LOCAL_ADDRESS: host,
    WRENMAIL_OUTBOUND_POLL_INTERVAL_SECONDS: '1',
  });
  running.add(server);
  void server.exited.then(() => running.delete(server));
  return {
    host,
    process: server,
    port(name) {
      const port = server.ports.get(name);
      if (!port) throw new Error(`no ${name} listener (have ${[...server.ports.keys()].join(', ')})`);
      return port;
    },
  };
}

const transport = (node: Node, listener = 'smtp-mx', auth?: { user: string; pass: string }) =>
  nodemailer.createTransport({
    host: node.host,
    port: node.port(listener),
    secure: false,
    tls: { rejectUnauthorized: false },
    ...(auth ? { auth } : { ignoreTLS: true }),
    pool: false,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 15_000,
  });

const imap = (node: Node): ImapFlow => imapClient(node, MAILBOX);

/** Message-ID → how many times INBOX holds it, read over IMAP on `node`. */
async function storedIds(node: Node): Promise<Map<string, number>> {
  const client = imap(node);
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const counts = new Map<string, number>();
      for await (const message of client.fetch('1:*', { envelope: true })) {
        const id = message.envelope!.messageId!;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

interface Load {
  /** Message-IDs that got a 250, with when. */
  acked: Map<string, number>;
  /** Replies or errors of the transactions that did not. */
  failed: { at: number; code?: number; error: string }[];
  done: Promise<void>;
}

/**
 * `clients` SMTP clients, each sending up to `perClient` messages one after another (a new connection
 * each) to `node(client)` until `until()`; a failed message is not sent again (its Message-ID may be
 * stored without a 250, as RFC 5321 §6.1 allows), the next one follows after `pauseMs`.
 */
function deliver(tag: string, clients: number, perClient: number, node: (client: number) => Node, pauseMs = 100): Load {
  const acked = new Map<string, number>();
  const failed: Load['failed'] = [];
  const done = Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let n = 0; n < perClient; n++) {
        const messageId = `<${tag}-${c}-${n}@elsewhere.test>`;
        const smtp = transport(node(c));
        try {
          const info = await smtp.sendMail({
            from: 'sender@elsewhere.test',
            to: MAILBOX,
            subject: `${tag} ${c}.${n}`,
            messageId,
            text: `message ${n} of client ${c}\n`,
          });
          if (info.response.startsWith('250 ')) acked.set(messageId, Date.now());
          else failed.push({ at: Date.now(), error: info.response });
        } catch (err) {
          const e = err as Error & { responseCode?: number };
          failed.push({ at: Date.now(), code: e.responseCode, error: e.message });
          await new Promise((r) => setTimeout(r, pauseMs));
        } finally {
          smtp.close();
        }
      }
    }),
  ).then(() => {});
  return { acked, failed, done };
}

/** Every acknowledged message stored exactly once, none stored twice. */
function assertStoredOnce(stored: Map<string, number>, acked: Iterable<string>): void {
  const twice = [...stored].filter(([, n]) => n > 1).map(([id]) => id);
  assert.equal(twice, [], 'no message stored twice');
  const lost = [...acked].filter((id) => !stored.has(id));
  assert.equal(lost, [], 'every message that got a 250 is stored');
}

test('kill -9 of one node mid-load: nothing acknowledged is lost, the other keeps accepting and takes over its leased job', async () => {
  const nodes = [await startNode('127.0.0.2'), await startNode('127.0.0.3')];
  // An outbound message whose attempt hangs at the destination: some node leases the job and holds it.
  const submit = transport(nodes[0]!, 'smtp-submission', { user: MAILBOX, pass: PASSWORD });
  const queued = await submit.sendMail({
    from: MAILBOX,
    to: 'far@sink.test',
    subject: 'leased when its node dies',
    messageId: '<outbound-1@example.test>',
    text: 'hello\n',
  });
  submit.close();
  assert.match(queued.response, /^250 /);
  await waitFor(() => sink.attempts >= 1, 20_000, 'the first outbound attempt');
  const db = new pg.Client({ connectionString: cluster.url });
  await db.connect();
  const { rows } = await db.query<{ owner: string }>("SELECT owner FROM leases WHERE name LIKE 'queue/%'");
  await db.end();
  assert.is(rows.length, 1, 'the job is leased');
  const holder = nodes.findIndex((n) => rows[0]!.owner.split('/')[1] === String(n.process.child.pid));
  assert.ok(holder >= 0, `the lease owner ${rows[0]!.owner} is one of the nodes`);
  const [victim, survivor] = [nodes[holder]!, nodes[1 - holder]!];

  // 12 clients, half on each node; once the victim is dead its clients go on through the survivor.
  let killedAt = Infinity;
  const load = deliver('kill', 12, 15, (c) => (c % 2 && Date.now() < killedAt ? victim : survivor));
  await waitFor(() => load.acked.size >= 40, 60_000, '40 acknowledged messages');
  victim.process.child.kill('SIGKILL');
  killedAt = Date.now();
  await victim.process.exited;
  await load.done;

  const after = [...load.acked.values()].filter((at) => at > killedAt).length;
  console.log(
    `kill -9: ${load.acked.size} acknowledged (${after} after the kill), ${load.failed.length} failed: ` +
      [...new Set(load.failed.map((f) => f.code ?? f.error))].join('; '),
  );
  assert.ok(after >= 20, `the survivor keeps accepting (${after} acknowledged after the kill)`);
  assertStoredOnce(await storedIds(survivor), load.acked.keys());

  // The dead node's lease expires and the survivor delivers the job, once.
  const delivered = await waitFor(
    () => sink.messages.find((m) => m.remoteAddress === survivor.host),
    LEASE_SECONDS * 1000 + 15_000,
    'the survivor delivering the leased job',
  );
  assert.match(delivered.raw.toString(), /Message-ID: <outbound-1@example\.test>/i);
  await new Promise((r) => setTimeout(r, 2000));
  assert.is(sink.messages.filter((m) => m.remoteAddress === survivor.host).length, 1, 'delivered once');
  await survivor.process.stop();
});

test('a PostgreSQL restart mid-load: 4xx / NO while it is down, nothing acknowledged lost, the nodes recover', async () => {
  const nodes = [await startNode('127.0.0.2'), await startNode('127.0.0.3')];
  const session = imap(nodes[0]!);
  await session.connect();
  await session.mailboxOpen('INBOX');

  const load = deliver('restart', 12, 40, (c) => nodes[c % 2]!, 200);
  await waitFor(() => load.acked.size >= 30, 60_000, '30 acknowledged messages');
  const restarted = cluster.restart(3000);
  // While the database is away: an APPEND on a logged-in session is refused with NO, not lost.
  await new Promise((r) => setTimeout(r, 1000));
  const appended = await session
    .append('INBOX', Buffer.from('Subject: while down\r\nMessage-ID: <append-down@example.test>\r\n\r\nhi\r\n'))
    .then(
      () => 'OK',
      (err: Error & { responseStatus?: string }) => err.responseStatus ?? err.message,
    );
  await restarted;
  const backAt = Date.now();
  await load.done;

  console.log(
    `PostgreSQL restart: ${load.acked.size} acknowledged, ${load.failed.length} failed: ` +
      [...new Set(load.failed.map((f) => f.code ?? f.error))].join('; ') +
      `; APPEND while down: ${appended}`,
  );
  const notTemporary = load.failed.filter((f) => !(f.code && f.code >= 400 && f.code < 500));
  assert.equal(notTemporary, [], 'every refusal is a 4xx reply');
  assert.ok(load.failed.length > 0, 'the restart was seen by the clients');
  assert.ok(appended === 'OK' || appended === 'NO', `APPEND while down: ${appended}`);
  // Recovered by themselves: both nodes accept again after the database is back.
  assert.ok(
    [...load.acked.values()].filter((at) => at > backAt).length >= 10,
    'deliveries succeed again after the restart',
  );
  const fresh = deliver('after', 2, 3, (c) => nodes[c]!);
  await fresh.done;
  assert.is(fresh.acked.size, 6, `both nodes deliver after the restart: ${JSON.stringify(fresh.failed)}`);
  for (const node of nodes) {
    const stored = await storedIds(node);
    assertStoredOnce(stored, [...load.acked.keys(), ...fresh.acked.keys()]);
    if (appended === 'OK') assert.ok(stored.has('<append-down@example.test>'));
  }
  await session.logout().catch(() => {});
  await Promise.all(nodes.map((n) => n.process.stop()));
});

test('reads while PostgreSQL is down: IMAP NO [UNAVAILABLE], SMTP 451 4.3.0, API 503, MAIL FROM still taken; served again after', async () => {
  const node = await startNode('127.0.0.2', true);
  const mail = transport(node);
  const info = await mail.sendMail({
    from: 'sender@elsewhere.test',
    to: MAILBOX,
    subject: 'read while down',
    messageId: '<read-down@elsewhere.test>',
    text: 'hello\n',
  });
  mail.close();
  assert.match(info.response, /^250 /);
  const imapSession = await RawClient.connect(node.port('imap'), false, undefined, node.host);
  const login = await imapSession.command('l', `LOGIN ${MAILBOX} "${PASSWORD}"`);
  assert.match(login, /^l OK/m, login);
  const selected = await imapSession.command('s', 'SELECT INBOX');
  const last = Number(/^\* (\d+) EXISTS/m.exec(selected)![1]);
  const { client: smtp } = await SmtpClient.connect(node.port('smtp-mx'), node.host);
  assert.is((await smtp.command('EHLO client.elsewhere.test')).code, 250);
  assert.is((await smtp.command('MAIL FROM:<sender@elsewhere.test>')).code, 250);
  const api = (path: string) =>
    fetch(`http://${node.host}:${node.port('http')}/api/v1${path}`, { headers: { authorization: `Bearer ${apiKey}` } });

  const restarted = cluster.restart(5000);
  await waitFor(
    () => {
      const probe = new pg.Client({ connectionString: cluster.url });
      probe.on('error', () => {}); // cut by the shutdown
      return probe.connect().then(
        () => probe.end().then(() => false),
        () => true,
      );
    },
    20_000,
    'PostgreSQL to stop',
  );
  // Reads that memory cannot answer: the message's body, an address never looked up, the mailbox list.
  const fetched = await imapSession.command('f', `FETCH ${last} BODY.PEEK[]`, 10_000);
  const rcpt = await smtp.command('RCPT TO:<nobody@example.test>');
  // The message rate the database cannot count: this node's own count decides, MAIL FROM is not refused.
  const { client: second } = await SmtpClient.connect(node.port('smtp-mx'), node.host);
  await second.command('EHLO other.elsewhere.test');
  const mailFrom = await second.command('MAIL FROM:<sender@elsewhere.test>');
  second.close();
  const listed = await api('/mailboxes');
  const body = (await listed.json()) as { error?: { code: string } };
  await restarted; // before any assertion: a failed one must not leave the cluster half restarted
  assert.match(fetched, /^f NO \[UNAVAILABLE\] /m, fetched);
  assert.is(rcpt.code, 451, rcpt.text);
  assert.match(rcpt.text, /^4\.3\.0 /);
  assert.is(mailFrom.code, 250, `MAIL FROM while the database is down: ${mailFrom.code} ${mailFrom.text}`);
  assert.is(listed.status, 503, JSON.stringify(body));
  assert.is(body.error?.code, 'service_unavailable');
  assert.ok(listed.headers.get('retry-after'));

  // Back by itself: the same session reads the body, the API lists the mailbox.
  await waitFor(
    async () => /^f2 OK/m.test(await imapSession.command('f2', `FETCH ${last} BODY.PEEK[]`)),
    20_000,
    'FETCH again',
  );
  await waitFor(async () => (await api('/mailboxes')).status === 200, 20_000, 'the API again');
  imapSession.close();
  smtp.close();
  await node.process.stop();
});

test.run();
