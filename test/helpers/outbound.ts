// Fixtures for the sending tests: DKIM keys with their DNS records, a sending account, a local
// delivery callback into INBOX, and an SMTP sink (smtp-server) whose replies a test scripts.
import { generateKeyPairSync } from 'node:crypto';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { DeliverLocal } from '../../src/outbound/queue-runner.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import type { Account, DkimKey, Store } from '../../src/store/index.ts';
import type { KeyPair } from '../../src/tls/certificates.ts';
import type { Zone } from './dns-server.ts';
import { testCertificate } from './smtp.ts';

export function makeDkimKeys(): DkimKey[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ed = generateKeyPairSync('ed25519');
  const pem = (k: typeof rsa.privateKey) => k.export({ type: 'pkcs8', format: 'pem' }) as string;
  const der = (k: typeof rsa.publicKey) => k.export({ type: 'spki', format: 'der' });
  return [
    {
      selector: 'rsa1',
      algorithm: 'rsa-sha256',
      privateKey: pem(rsa.privateKey),
      publicKey: der(rsa.publicKey).toString('base64'),
      createdAt: Date.now(),
      active: true,
    },
    // RFC 8463: the Ed25519 p= is the raw 32-byte key, the tail of its SPKI encoding.
    {
      selector: 'ed1',
      algorithm: 'ed25519-sha256',
      privateKey: pem(ed.privateKey),
      publicKey: der(ed.publicKey).subarray(-32).toString('base64'),
      createdAt: Date.now(),
      active: true,
    },
  ];
}

export function dkimZone(domain: string, keys: DkimKey[]): Zone {
  const zone: Zone = {};
  for (const k of keys)
    zone[`${k.selector}._domainkey.${domain}`] = {
      TXT: [`v=DKIM1; k=${k.algorithm.startsWith('rsa') ? 'rsa' : 'ed25519'}; p=${k.publicKey}`],
    };
  return zone;
}

/** A hosted domain (with DKIM keys when given) and an account with a password. */
export async function sendingAccount(
  store: Store,
  address: string,
  password: string,
  dkim: DkimKey[] = [],
): Promise<Account> {
  const domain = address.slice(address.indexOf('@') + 1);
  let hosted = await store.domains.get(domain);
  if (!hosted) {
    const team = await store.teams.create(domain);
    hosted = await store.domains.create(team.id, domain);
    if (dkim.length) await store.domains.update({ ...hosted, dkim });
  }
  return store.accounts.create({ teamId: hosted.teamId, address, passwordHash: await hashPassword(password) });
}

/** deliverLocal for tests: straight into each recipient's INBOX; unknown recipients are a 550. */
export function inboxDelivery(store: Store): DeliverLocal {
  return async (raw, envelope) => {
    for (const rcpt of envelope.to) {
      const account = await store.accounts.byAddress(rcpt);
      const inbox = account && store.folders.byName(account.id, 'INBOX');
      if (!inbox) throw Object.assign(new Error('550 5.1.1 No such user here'), { responseCode: 550 });
      await store.deliver(raw, [{ folder: inbox }]);
    }
  };
}

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  user: string | null;
  /** The sending client's address (a node's outbound.local_address). */
  remoteAddress: string;
}

export interface Sink {
  port: number;
  messages: SinkMessage[];
  /** Transactions seen (also those refused). */
  attempts: number;
  /** SMTP connections accepted. */
  connections: number;
  close(): Promise<void>;
}

export interface SinkOptions {
  host?: string;
  port?: number;
  /** Refuse a recipient: return e.g. [550, '5.1.1 No such user']; null accepts. */
  rcpt?: (address: string, attempt: number) => [number, string] | null;
  /** Answer to the end of DATA; null accepts. `attempt` counts transactions from 1. */
  data?: (attempt: number) => [number, string] | null;
  /** Require AUTH with these credentials (after STARTTLS). */
  auth?: { user: string; pass: string };
  /** Milliseconds to wait before answering DATA (for in-flight tests), or per transaction (from 1). */
  delayMs?: number | ((attempt: number) => number);
  /** Certificate offered with STARTTLS (default the shared test certificate); false offers no STARTTLS. */
  tls?: KeyPair | false;
}

const reply = ([code, text]: [number, string]) => Object.assign(new Error(text), { responseCode: code });

/** A scriptable SMTP receiver with STARTTLS (the shared test certificate). */
export async function startSink(options: SinkOptions = {}): Promise<Sink> {
  const messages: SinkMessage[] = [];
  const state = { attempts: 0, connections: 0 };
  const tls = options.tls ?? (await testCertificate());
  const disabledCommands = [...(options.auth ? [] : ['AUTH']), ...(tls ? [] : ['STARTTLS'])];
  const serverOptions: SMTPServerOptions = {
    ...(tls ? { key: tls.key, cert: tls.cert } : {}),
    logger: false,
    disableReverseLookup: true,
    authOptional: !options.auth,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands,
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      const ok = auth.username === options.auth?.user && auth.password === options.auth?.pass;
      callback(ok ? null : reply([535, 'Authentication failed']), ok ? { user: auth.username } : undefined);
    },
    onMailFrom(_address, _session, callback) {
      state.attempts++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      const refusal = options.rcpt?.(address.address, state.attempts);
      callback(refusal ? reply(refusal) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const answer = () => {
          const refusal = options.data?.(state.attempts);
          if (refusal) return callback(reply(refusal));
          messages.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
            secure: !!session.secure,
            user: (session.user as string | undefined) ?? null,
            remoteAddress: session.remoteAddress,
          });
          callback(null, 'Ok: stored');
        };
        const delay = typeof options.delayMs === 'function' ? options.delayMs(state.attempts) : options.delayMs;
        if (delay)
          setTimeout(answer, delay).unref(); // a client that is gone leaves no timer behind
        else answer();
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on('error', () => undefined);
  const port = await new Promise<number>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    port,
    messages,
    get attempts() {
      return state.attempts;
    },
    get connections() {
      return state.connections;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
