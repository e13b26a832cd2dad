import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { configSchema, type Config } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import type { Account } from '../../src/store/index.ts';
import { TEST_ENGINE, testDatabase } from './store.ts';
import { tempDir } from './tmp.ts';

export interface Instance {
  server: RunningServer;
  config: Config;
  host: string;
  port(name: string): number;
  /** A team (the bootstrap one), a hosted domain and an account with a password. */
  addAccount(address: string, password: string): Promise<Account>;
  stop(): Promise<void>;
}

/**
 * A whole Wren Mail server in this process, every listener on `host` with a free port, data in a
 * temp dir: what two-instance tests (127.0.0.2 ↔ 127.0.0.3) and client tests start.
 */
export async function startInstance(
  options: {
    host?: string;
    hostname?: string;
    dnsServers?: string[];
    overrides?: Partial<Record<keyof Config, unknown>>;
  } = {},
): Promise<Instance> {
  const host = options.host ?? '127.0.0.1';
  const dir = tempDir('wrenmail-instance-');
  const any = [`${host}:0`];
  const base: Record<string, unknown> = {
    hostname: options.hostname ?? 'mail.example.test',
    data_dir: join(dir.path, 'data'),
    server: { log_level: process.env.TEST_LOG_LEVEL ?? 'silent', shutdown_timeout_ms: 3000 },
    smtp: { mx_listen: any, submission_listen: any, submissions_listen: any },
    imap: { listen: any, tls_listen: any },
    pop3: { listen: any, tls_listen: any },
    http: { listen: any },
    dns: { servers: options.dnsServers ?? [] },
    // The suites test/run.ts runs on both engines put the instance's store where TEST_STORE_ENGINE says.
    ...(TEST_ENGINE === 'postgres'
      ? { store: { engine: 'postgres', postgres_url: await testDatabase(dir.path) } }
      : {}),
  };
  // Overrides merge into a section (an `imap: {…}` override keeps the free-port listeners: without
  // them a test would bind the real port 143 and collide with any other test doing the same).
  for (const [name, value] of Object.entries(options.overrides ?? {})) {
    const section = base[name];
    base[name] = isSection(section) && isSection(value) ? { ...section, ...value } : value;
  }
  const config = configSchema.parse(base);
  const logger = createLogger(config.server.log_level);
  const server = await startServer(config, logger);
  return {
    server,
    config,
    host,
    port(name) {
      const listener = server.listeners.find((l) => l.name === name);
      if (!listener) throw new Error(`no ${name} listener (have ${server.listeners.map((l) => l.name).join(', ')})`);
      return listener.port;
    },
    async addAccount(address, password) {
      const store = server.store;
      const [team] = await store.teams.list();
      const domain = address.split('@')[1]!;
      if (!(await store.domains.get(domain))) await store.domains.create(team!.id, domain);
      return store.accounts.create({ teamId: team!.id, address, passwordHash: await hashPassword(password) });
    },
    async stop() {
      await server.close();
      dir.remove();
    },
  };
}

const isSection = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The root API key the instance wrote at its first start (the operator's, of the bootstrap team). */
export const bootstrapKey = (instance: Instance): string =>
  readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();

/** What the `wrenmail` commands need to reach this instance's API as its operator. */
export function cliEnv(instance: Instance): Record<string, string> {
  return {
    WRENMAIL_DATA_DIR: instance.config.data_dir,
    WRENMAIL_API_URL: `http://127.0.0.1:${instance.port('http')}`,
    WRENMAIL_API_KEY: bootstrapKey(instance),
  };
}

/** One message to the instance's MX through nodemailer, on a connection of its own (STARTTLS, any certificate). */
export async function sendToMx(instance: Instance, mail: SendMailOptions): Promise<SMTPTransport.SentMessageInfo> {
  const transport = nodemailer.createTransport({
    host: instance.host,
    port: instance.port('smtp-mx'),
    secure: false,
    tls: { rejectUnauthorized: false },
  });
  try {
    return await transport.sendMail(mail);
  } finally {
    transport.close();
  }
}

/** Runs `session` on an imapflow client logged in to the instance over IMAPS (any certificate), then logs out. */
export async function withImap<T>(
  instance: Instance,
  user: string,
  pass: string,
  session: (client: ImapFlow) => Promise<T>,
): Promise<T> {
  const client = new ImapFlow({
    host: instance.host,
    port: instance.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
  });
  await client.connect();
  try {
    return await session(client);
  } finally {
    await client.logout();
  }
}
