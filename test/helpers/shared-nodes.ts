// Several Wren nodes in this process on one PostgreSQL database (`[store] shared = true`,
// docs/ARCHITECTURE.md §4.8), and the checks the shared-store tests make of them over SMTP and IMAP.
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startInstance, type Instance } from './instance.ts';

export const PASSWORD = 'correct horse battery';

/** A node on `host` (127.0.0.2 …) sharing the database at `url`; `overrides` merge into its config sections. */
export const sharedNode = (
  host: string,
  url: string,
  options: { dnsServers?: string[]; overrides?: Record<string, unknown> } = {},
): Promise<Instance> =>
  startInstance({
    host,
    dnsServers: options.dnsServers,
    overrides: {
      store: { engine: 'postgres', postgres_url: url, shared: true },
      smtp: { submission_listen: [], submissions_listen: [], messages_per_ip_per_minute: 100_000 },
      ...options.overrides,
    } as never,
  });

export const imapClient = (instance: Instance, user: string): ImapFlow =>
  new ImapFlow({
    host: instance.host,
    port: instance.port('imap'),
    secure: false,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: PASSWORD },
    logger: false,
  });

/** A client of the node's MX (port 25 role), one connection per message. */
export const mxTransport = (instance: Instance) =>
  nodemailer.createTransport({
    host: instance.host,
    port: instance.port('smtp-mx'),
    secure: false,
    ignoreTLS: true,
    pool: false,
  });

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

/** A call to the node's REST API with `key`: the status and the parsed body. */
export async function apiCall(
  instance: Instance,
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: any }> {
  const reply = await fetch(`http://${instance.host}:${instance.port('http')}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : null,
  });
  const text = await reply.text();
  return { status: reply.status, body: text ? JSON.parse(text) : null };
}
