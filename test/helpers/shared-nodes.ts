// Several Wren nodes in this process on one PostgreSQL database (`[store] shared = true`,
// docs/ARCHITECTURE.md §4.8), and the checks the shared-store tests make of them over SMTP and IMAP.
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { ImapFlow } from 'imapflow';
import type { Account } from '../../src/store/index.ts';
import { type Reply, request } from './api.ts';
import { bootstrapKey, startInstance, type Instance } from './instance.ts';
import { testDatabase } from './store.ts';

export const PASSWORD = 'correct horse battery';

interface NodeOptions {
  dnsServers?: string[];
  /** Whole sections: an `smtp` one replaces the SMTP defaults below (`smtp: {}`: startInstance's own). */
  overrides?: Record<string, unknown>;
}

/** A node on `host` (127.0.0.2 …) sharing the database at `url`; `overrides` merge into its config sections. */
export const sharedNode = (host: string, url: string, options: NodeOptions = {}): Promise<Instance> =>
  startInstance({
    host,
    dnsServers: options.dnsServers,
    overrides: {
      store: { engine: 'postgres', postgres_url: url, shared: true },
      smtp: { submission_listen: [], submissions_listen: [], messages_per_ip_per_minute: 100_000 },
      ...options.overrides,
    } as never,
  });

export interface SharedNodes {
  /** The database they share. */
  url: string;
  /** The first two nodes (127.0.0.2 and 127.0.0.3 by default). */
  a: Instance;
  b: Instance;
  /** The nodes of `hosts`, in that order. */
  nodes: Instance[];
  /** The accounts made on the first node, in the order of `accounts`. */
  accounts: Account[];
  /** The operator's root key, the one the first node wrote at bootstrap. */
  readonly rootKey: string;
  /** One more node on the same database with the same options, stopped with the others. */
  node(host: string): Promise<Instance>;
  /** Stops every node started. */
  stop(): Promise<void>;
}

/**
 * Nodes on `hosts` sharing a fresh database named `database` in this process's private PostgreSQL
 * cluster, each a sharedNode with `options`. The first starts alone and gets `accounts` (with
 * `password`), so the others start on a database another node has written; they then start at once.
 * When a node fails to start, those started are stopped before the error is thrown.
 */
export async function startSharedNodes(
  database: string,
  options: {
    hosts?: string[];
    dnsServers?: string[];
    /** As sharedNode's, or made for each node's host. */
    overrides?: NodeOptions['overrides'] | ((host: string) => NodeOptions['overrides']);
    accounts?: string[];
    password?: string;
  } = {},
): Promise<SharedNodes> {
  const url = await testDatabase(database);
  const running = new Set<Instance>();
  const { dnsServers, overrides } = options;
  const node = async (host: string): Promise<Instance> => {
    const instance = await sharedNode(host, url, {
      dnsServers,
      overrides: typeof overrides === 'function' ? overrides(host) : overrides,
    });
    running.add(instance);
    return instance;
  };
  const stop = async (): Promise<void> => {
    const stopping = [...running];
    running.clear();
    await Promise.all(stopping.map((instance) => instance.stop()));
  };
  const [first, ...rest] = options.hosts ?? ['127.0.0.2', '127.0.0.3'];
  try {
    const a = await node(first!);
    const accounts: Account[] = [];
    for (const address of options.accounts ?? [])
      accounts.push(await a.addAccount(address, options.password ?? PASSWORD));
    const others = await Promise.allSettled(rest.map(node));
    const failed = others.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    let rootKey: string | undefined;
    const nodes = [a, ...others.map((result) => (result as PromiseFulfilledResult<Instance>).value)];
    return {
      url,
      a,
      b: nodes[1]!,
      nodes,
      accounts,
      get rootKey() {
        rootKey ??= bootstrapKey(a);
        return rootKey;
      },
      node,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

/** A mail client's connection to the node's `listener`: STARTTLS (any certificate), `user` with PASSWORD. */
const clientOf = (instance: Pick<Instance, 'host' | 'port'>, listener: string, user: string) => ({
  host: instance.host,
  port: instance.port(listener),
  secure: false,
  tls: { rejectUnauthorized: false },
  auth: { user, pass: PASSWORD },
});

export const imapClient = (instance: Pick<Instance, 'host' | 'port'>, user: string): ImapFlow =>
  new ImapFlow({ ...clientOf(instance, 'imap', user), logger: false });

/** A client of the node's MX (port 25 role), one connection per message; `options` add to it (timeouts). */
export const mxTransport = (instance: Instance, options: SMTPTransport.Options = {}) =>
  nodemailer.createTransport({
    host: instance.host,
    port: instance.port('smtp-mx'),
    secure: false,
    ignoreTLS: true,
    pool: false,
    ...options,
  });

/** A client of the node's submission port, one connection per message; `options` add to it. */
export const submissionTransport = (instance: Instance, user: string, options: SMTPTransport.Options = {}) =>
  nodemailer.createTransport({ ...clientOf(instance, 'smtp-submission', user), pool: false, ...options });

/**
 * `clients` SMTP clients at once, client c on `nodes[c % nodes.length]`, each sending `perClient`
 * messages to `to` one after another (Message-ID `<tag-c-n@elsewhere.test>`); the replies.
 */
export async function deliverThrough(
  nodes: Instance[],
  clients: number,
  perClient: number,
  to: string[],
  tag: string,
): Promise<string[]> {
  const replies = await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = mxTransport(nodes[c % nodes.length]!);
      const out: string[] = [];
      for (let n = 0; n < perClient; n++) {
        const info = await client.sendMail({
          from: 'sender@elsewhere.test',
          to,
          subject: `${tag} ${c}.${n}`,
          messageId: `<${tag}-${c}-${n}@elsewhere.test>`,
          text: `message ${n} of client ${c}\n`,
        });
        out.push(info.response);
      }
      client.close();
      return out;
    }),
  );
  return replies.flat();
}

/** The Message-IDs deliverThrough sends, sorted. */
export const sentIds = (tag: string, clients: number, perClient: number): string[] =>
  Array.from(
    { length: clients * perClient },
    (_, i) => `<${tag}-${Math.floor(i / perClient)}-${i % perClient}@elsewhere.test>`,
  ).sort();

/**
 * Over IMAP on every node: `user`'s INBOX holds exactly `expected` (each once), UIDs strictly
 * increasing, UIDNEXT above them and the same on every node.
 */
export async function assertInboxOnEveryNode(nodes: Instance[], user: string, expected: string[]): Promise<void> {
  const uidNext: number[] = [];
  for (const instance of nodes) {
    const client = imapClient(instance, user);
    await client.connect();
    try {
      const status = await client.status('INBOX', { uidNext: true, messages: true });
      if (!status) throw new Error('no STATUS');
      const lock = await client.getMailboxLock('INBOX');
      try {
        const ids: string[] = [];
        const uids: number[] = [];
        for await (const message of client.fetch('1:*', { envelope: true, uid: true })) {
          ids.push(message.envelope!.messageId!);
          uids.push(message.uid);
        }
        assert.equal([...ids].sort(), expected, `${user} on ${instance.host}: every message exactly once`);
        for (let i = 1; i < uids.length; i++) assert.ok(uids[i]! > uids[i - 1]!, `UIDs strictly increasing (${uids})`);
        assert.is(status.messages, expected.length);
        assert.ok(status.uidNext! > uids.at(-1)!, 'UIDNEXT above every UID');
        uidNext.push(status.uidNext!);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  }
  assert.equal(new Set(uidNext).size, 1, `${user}: one UIDNEXT on every node (${uidNext})`);
}

/**
 * IMAP IDLE on `watcher` in `user`'s INBOX; a message delivered through `via`'s MX is announced
 * (EXISTS) within a second of its 250. Returns the milliseconds it took.
 */
export async function idleSeesDelivery(watcher: Instance, via: Instance, user: string): Promise<number> {
  const client = imapClient(watcher, user);
  await client.connect();
  try {
    const opened = await client.mailboxOpen('INBOX');
    const before = opened.exists;
    const seen = new Promise<{ count: number; at: number }>((resolve) =>
      client.on('exists', (data: { count: number }) => resolve({ count: data.count, at: Date.now() })),
    );
    void client.idle();
    await new Promise((r) => setTimeout(r, 200)); // IDLE is under way
    const transport = mxTransport(via);
    const info = await transport.sendMail({
      from: 'sender@elsewhere.test',
      to: user,
      subject: `seen from ${via.host}`,
      text: 'hello\n',
    });
    const sentAt = Date.now();
    transport.close();
    assert.match(info.response, /^250 /);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no EXISTS on ${watcher.host} within a second`)), 1000);
    });
    const { count, at } = await Promise.race([seen, timeout]).finally(() => clearTimeout(timer));
    assert.is(count, before + 1);
    assert.ok(at - sentAt < 1000, `announced ${at - sentAt} ms after the 250`);
    return at - sentAt;
  } finally {
    await client.logout();
  }
}

/** A call to the node's REST API with `key` (null: none): the status, the headers and the parsed body. */
export const apiCall = (
  instance: Instance,
  key: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<Reply> =>
  request(
    `http://${instance.host}:${instance.port('http')}/api/v1${path}`,
    method,
    key ? { authorization: `Bearer ${key}` } : {},
    { body },
  );
