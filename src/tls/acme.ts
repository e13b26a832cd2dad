// ACME (RFC 8555) with HTTP-01: obtains and renews the certificates the server needs, one per target
// (the hostname; each verified hosted domain's client-facing names), into the certificate store.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { join } from 'node:path';
import acme from 'acme-client';
import type { Logger } from 'pino';
import type { Store } from '../store/index.ts';
import { CONFIG_DEFAULTS } from '../config/defaults.ts';
import type { CertificateStore } from './certificate-store.ts';

export interface AcmeTarget {
  /** Certificate file stem under data_dir/tls. */
  file: string;
  /** DNS names the certificate covers (the first is its subject). */
  names: string[];
}

export interface AcmeResult extends AcmeTarget {
  status: 'valid' | 'issued' | 'failed';
  notAfter?: Date;
  error?: string;
}

/** HTTP-01 key authorizations by token, served by challengeResponder while an order is open. */
export class AcmeChallenges {
  private readonly tokens = new Map<string, string>();
  set(token: string, keyAuthorization: string): void {
    this.tokens.set(token, keyAuthorization);
  }
  delete(token: string): void {
    this.tokens.delete(token);
  }
  get(token: string): string | undefined {
    return this.tokens.get(token);
  }
}

const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/**
 * A request handler for the HTTP-01 port (80): answers /.well-known/acme-challenge/<token>, hands
 * every other request to `fallback` (the HTTP app), or 404 without one.
 */
export function challengeResponder(challenges: AcmeChallenges, fallback?: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path.startsWith(CHALLENGE_PATH)) {
      const answer = challenges.get(path.slice(CHALLENGE_PATH.length));
      res.writeHead(answer ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(answer ?? 'not found');
      return;
    }
    if (fallback) return fallback(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  };
}

/** Client-facing names of a hosted domain that get a certificate (each a CNAME to the hostname). */
export const DOMAIN_LABELS = ['mta-sts', 'autoconfig', 'autodiscover'];

/** What the server holds certificates for: the hostname, and each verified domain's names. */
export async function acmeTargets(store: Store, hostname: string, labels = DOMAIN_LABELS): Promise<AcmeTarget[]> {
  const targets: AcmeTarget[] = [{ file: hostname.toLowerCase(), names: [hostname.toLowerCase()] }];
  for (const team of await store.teams.list()) {
    for (const domain of await store.domains.listForTeam(team.id)) {
      // An unverified domain's names do not point here yet: its challenges could only fail.
      if (domain.verifiedAt === null || labels.length === 0) continue;
      const names = labels.map((label) => `${label}.${domain.name}`);
      targets.push({ file: names[0]!, names });
    }
  }
  return targets;
}

/**
 * Options of createAcme:
 * - directoryUrl: the CA's directory (Let's Encrypt: acme.directory.letsencrypt.production).
 * - email: account contact, optional. The CA's terms of service are agreed to.
 * - certificates: where certificates are found (expiry) and installed.
 * - targets: what to hold (acmeTargets above, re-read on every run so new domains are picked up).
 * - challenges: the HTTP-01 tokens; serve them with challengeResponder on port 80.
 * - renewBeforeDays: renew a certificate with fewer days left (default 30).
 * - caCert: PEM trusted for the directory's HTTPS (a test CA such as pebble's), else the system's.
 * - selfCheck: fetch each challenge over HTTP before asking the CA to (default true; off in tests
 *   whose names only the CA's resolver knows).
 * - logger.
 */
export interface AcmeOptions {
  directoryUrl: string;
  email?: string;
  certificates: CertificateStore;
  targets: () => Promise<AcmeTarget[]>;
  challenges: AcmeChallenges;
  renewBeforeDays?: number;
  caCert?: string;
  selfCheck?: boolean;
  logger?: Logger;
}

export interface AcmeManager {
  /** Obtains what is missing or due; one run at a time (a second call joins the running one). */
  run(): Promise<AcmeResult[]>;
  /** Runs now and then every intervalMs (default 12 h). */
  start(intervalMs?: number): void;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
  /** Is a target missing a certificate, or does its certificate end within renewBeforeDays? */
  due(target: AcmeTarget, now?: number): boolean;
}

export function createAcme(options: AcmeOptions): AcmeManager {
  const { certificates, challenges } = options;
  const renewMs = (options.renewBeforeDays ?? CONFIG_DEFAULTS.tls.acme_renew_before_days) * 86_400_000;
  const log = options.logger;
  if (options.caCert) acme.axios.defaults.httpsAgent = new Agent({ ca: options.caCert });
  let running: Promise<AcmeResult[]> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const accountKey = async (): Promise<Buffer> => {
    const path = join(certificates.dir, 'acme-account.key');
    if (existsSync(path)) return readFileSync(path);
    const key = await acme.crypto.createPrivateKey();
    writeFileSync(path, key, { mode: 0o600 });
    return key;
  };

  const due = (target: AcmeTarget, now = Date.now()): boolean =>
    target.names.some((name) => {
      const held = certificates.find(name);
      return !held || held.notAfter.getTime() - now < renewMs || held.notBefore.getTime() > now;
    });

  let account: Promise<acme.Client> | undefined;
  const accountClient = (): Promise<acme.Client> =>
    (account ??= (async () => {
      const client = new acme.Client({ directoryUrl: options.directoryUrl, accountKey: await accountKey() });
      await client.createAccount({
        termsOfServiceAgreed: true,
        ...(options.email ? { contact: [`mailto:${options.email}`] } : {}),
      });
      return client;
    })().catch((err: unknown) => {
      account = undefined;
      throw err;
    }));

  // The RFC 8555 steps by hand rather than client.auto(): auto() and acme.crypto parse the CSR with
  // @peculiar/x509, which fails here ("Cannot get schema") because mailauth pulls in a second
  // @peculiar/asn1-schema. node-forge builds the CSR and nothing parses it back.
  async function obtain(target: AcmeTarget): Promise<AcmeResult> {
    const client = await accountClient();
    const order = await client.createOrder({ identifiers: target.names.map((value) => ({ type: 'dns', value })) });
    for (const authz of await client.getAuthorizations(order)) {
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === 'http-01');
      if (!challenge) throw new Error(`no http-01 challenge for ${authz.identifier.value}`);
      challenges.set(challenge.token, await client.getChallengeKeyAuthorization(challenge));
      try {
        if (options.selfCheck !== false) await client.verifyChallenge(authz, challenge);
        await client.completeChallenge(challenge);
        await client.waitForValidStatus(challenge);
      } finally {
        challenges.delete(challenge.token);
      }
    }
    const [key, csr] = await acme.forge.createCsr(
      { commonName: target.names[0]!, altNames: target.names },
      await acme.crypto.createPrivateKey(),
    );
    const cert = await client.getCertificate(await client.finalizeOrder(order, csr));
    await certificates.install(target.file, { key: key.toString(), cert });
    const installed = certificates.find(target.names[0]!);
    log?.info({ names: target.names, notAfter: installed?.notAfter }, 'ACME certificate installed');
    return { ...target, status: 'issued', notAfter: installed?.notAfter };
  }

  async function runOnce(): Promise<AcmeResult[]> {
    const results: AcmeResult[] = [];
    for (const target of await options.targets()) {
      if (!due(target)) {
        results.push({ ...target, status: 'valid', notAfter: certificates.find(target.names[0]!)?.notAfter });
        continue;
      }
      try {
        results.push(await obtain(target));
      } catch (err) {
        // One target's failure (a name not pointing here yet) must not hold up the others.
        log?.warn({ err, names: target.names }, 'ACME order failed');
        results.push({ ...target, status: 'failed', error: (err as Error).message });
      }
    }
    return results;
  }

  const run = (): Promise<AcmeResult[]> => (running ??= runOnce().finally(() => (running = undefined)));
  const runLogged = () => void run().catch((err: Error) => log?.error({ err }, 'ACME run failed'));

  return {
    run,
    due,
    start(intervalMs = 12 * 3_600_000) {
      if (timer) return;
      runLogged();
      timer = setInterval(runLogged, intervalMs).unref();
    },
    async stop() {
      clearInterval(timer);
      timer = undefined;
      await running?.catch(() => undefined);
    },
  };
}
