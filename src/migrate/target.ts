// Package migrate implements `wrenmail import` (IMAP, mbox, Maildir) and `export maildir`: resumable and
// idempotent (a second run copies nothing twice). This file is a mailbox of the running server as those
// commands reach it: over its own IMAP (the CLI cannot open the store while the server holds its lock),
// logged in with a mailbox key minted through the API for this run and revoked at the end, or with the
// mailbox's password. Never opens the store. May import services, pipelines, foundation and base.
import { isIP } from 'node:net';
import { ImapFlow, type ListResponse } from 'imapflow';
import type { Config } from '../config/schema.ts';
import { apiCall, apiList } from '../client/api.ts';
import { parseListen } from '../listeners.ts';
import { messageIdOf, messageKey, TargetIndex } from './identity.ts';

export interface TargetOptions {
  /** The mailbox's address. */
  mailbox: string;
  /** Log in with this password instead of minting a mailbox key. */
  password?: string;
  /** "host:port" of an implicit-TLS IMAP listener; default: imap.tls_listen (port as the server bound it). */
  imapAddress?: string;
}

export interface Target {
  client: ImapFlow;
  /** Folders as the target lists them (path with "/" as the delimiter). */
  folders(): Promise<ListResponse[]>;
  /** Creates the folder (and its parents) unless it is there. */
  ensureFolder(path: string): Promise<void>;
  /**
   * The target folder's messages by identity: all of them, or (`since`, while the folder's
   * UIDVALIDITY is still that one) those from `since.uid` on; `resumed` says which.
   */
  index(
    path: string,
    since?: { uidValidity: string; uid: number },
  ): Promise<{ index: TargetIndex; uidValidity: string; uidNext: number; resumed: boolean }>;
  append(path: string, raw: Buffer, flags: string[], internalDate: Date): Promise<{ uid?: number }>;
  close(): Promise<void>;
}

interface Mailbox {
  id: string;
  email: string;
}
interface MintedKey {
  api_key: { public_id: string };
  imap_smtp_credentials: { password: string; imap_port: number };
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

/** Where this server's IMAPS listener is reached from here (a wildcard bind means this machine). */
function imapsAddress(
  config: Config,
  boundPort: number | undefined,
  override: string | undefined,
): { host: string; port: number } {
  if (override) return parseListen(override);
  const [address] = config.imap.tls_listen;
  if (!address) throw new Error('imap.tls_listen is empty: give --target-imap HOST:PORT');
  const { host, port } = parseListen(address);
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  if (!boundPort && port === 0)
    throw new Error('imap.tls_listen has port 0 (chosen at start): give --target-imap HOST:PORT');
  return { host: reachable, port: boundPort ?? port };
}

export async function openTarget(config: Config, options: TargetOptions): Promise<Target> {
  const email = options.mailbox.toLowerCase();
  let password = options.password;
  let revoke = async (): Promise<void> => {};
  let boundPort: number | undefined;
  if (password === undefined) {
    const mailbox = (await apiList<Mailbox>(config, '/api/v1/mailboxes')).find((m) => m.email === email);
    if (!mailbox) throw new Error(`no mailbox ${email} on this server`);
    const { data } = await apiCall<MintedKey>(config, 'POST', `/api/v1/mailboxes/${mailbox.id}/keys`, {
      app_name: 'wrenmail import/export',
    });
    password = data.imap_smtp_credentials.password;
    boundPort = data.imap_smtp_credentials.imap_port;
    revoke = async () => {
      await apiCall(config, 'DELETE', `/api/v1/mailboxes/${mailbox.id}/keys/${data.api_key.public_id}`);
    };
  }
  const { host, port } = imapsAddress(config, boundPort, options.imapAddress);
  // This server on this machine: nobody sits in between, and its certificate may be self-signed.
  const local = LOOPBACK.test(host);
  const client = new ImapFlow({
    host,
    port,
    secure: true,
    tls: { rejectUnauthorized: !local, servername: isIP(host) ? config.hostname : host },
    auth: { user: email, pass: password },
    logger: false,
  });
  client.on('error', () => {}); // surfaces as the failing command's rejection
  try {
    await client.connect();
  } catch (err) {
    await revoke().catch(() => {});
    throw err;
  }

  let known: Set<string> | undefined;
  const folders = () => client.list();
  return {
    client,
    folders,
    async ensureFolder(path) {
      known ??= new Set((await folders()).map((f) => f.path));
      if (known.has(path)) return;
      await client.mailboxCreate(path);
      known.add(path);
    },
    async index(path, since) {
      const box = await client.mailboxOpen(path, { readOnly: true });
      const resumed = since !== undefined && since.uidValidity === String(box.uidValidity);
      const fromUid = resumed ? since.uid : 1;
      const index = new TargetIndex();
      if (box.exists > 0 && fromUid < box.uidNext) {
        for await (const m of client.fetch(
          `${fromUid}:*`,
          { uid: true, internalDate: true, size: true, headers: ['message-id'] },
          { uid: true },
        )) {
          if (m.uid < fromUid) continue; // "N:*" includes the last message even below N
          index.add(messageKey(messageIdOf(m.headers ?? Buffer.alloc(0)), new Date(m.internalDate!), m.size!), m.uid);
        }
      }
      await client.mailboxClose();
      return { index, uidValidity: String(box.uidValidity), uidNext: box.uidNext, resumed };
    },
    async append(path, raw, flags, internalDate) {
      const result = await client.append(path, raw, flags, internalDate);
      if (!result) throw new Error(`APPEND to ${path} failed`);
      return { uid: result.uid };
    },
    async close() {
      await client.logout().catch(() => client.close());
      await revoke();
    },
  };
}
