// Per-name certificates for SNI: every `<name>.crt` + `<name>.key` pair under data_dir/tls (operator
// files and ACME's), indexed by the DNS names the certificate covers. reload() (SIGHUP, ACME) swaps
// the whole index at once: new handshakes get the new certificates, open connections keep theirs.
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { loadCertificate, type KeyPair, type TlsSettings } from './certificates.ts';
import type { SniCallback, TlsSource } from './source.ts';

/** The self-signed fallback loadCertificate keeps in the same folder: never chosen by name. */
const SELF_SIGNED = 'self-signed';

export interface CertificateInfo {
  /** File stem under the folder (`mail.example.com` for mail.example.com.crt). */
  file: string;
  names: string[];
  notBefore: Date;
  notAfter: Date;
  issuer: string;
}

interface Entry extends CertificateInfo {
  pair: KeyPair;
  context: SecureContext;
}

/**
 * Options of CertificateStore.open:
 * - dataDir: certificates live in dataDir/tls (created 0700).
 * - hostname: the default certificate is the one for it (the server's own name).
 * - settings: config `tls.cert`/`tls.key`; when set they are the default (re-read on reload).
 * - logger: bad files are logged and skipped, never fatal on reload.
 */
export interface CertificateStoreOptions {
  dataDir: string;
  hostname: string;
  settings?: TlsSettings;
  /** More names (and IPs) the self-signed fallback carries: the hosts the listeners are configured on. */
  altNames?: string[];
  logger?: Logger;
}

const lower = (name: string): string => name.trim().toLowerCase().replace(/\.$/, '');

function namesOf(cert: X509Certificate): string[] {
  const san = (cert.subjectAltName ?? '')
    .split(', ')
    .filter((part) => part.startsWith('DNS:'))
    .map((part) => lower(part.slice(4)));
  if (san.length) return san;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [lower(cn)] : [];
}

function entryOf(file: string, pair: KeyPair): Entry {
  const x509 = new X509Certificate(pair.cert);
  return {
    file,
    names: namesOf(x509),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
    issuer: x509.issuer,
    pair,
    // Throws when the key does not belong to the certificate: such a pair is skipped.
    context: createSecureContext(pair),
  };
}

export class CertificateStore implements TlsSource {
  readonly dir: string;
  private readonly options: CertificateStoreOptions;
  private readonly events = new EventEmitter();
  private byName = new Map<string, Entry>();
  private fallback!: Entry;
  private current!: Entry;

  private constructor(options: CertificateStoreOptions) {
    this.options = options;
    this.dir = join(options.dataDir, 'tls');
    this.events.setMaxListeners(0);
  }

  static async open(options: CertificateStoreOptions): Promise<CertificateStore> {
    const store = new CertificateStore(options);
    mkdirSync(store.dir, { recursive: true, mode: 0o700 });
    await store.reload();
    return store;
  }

  /** The default certificate: for clients without SNI or asking for a name no certificate covers. */
  get key(): string {
    return this.current.pair.key;
  }

  get cert(): string {
    return this.current.pair.cert;
  }

  get defaultCertificate(): CertificateInfo {
    return info(this.current);
  }

  readonly SNICallback: SniCallback = (servername, cb) => cb(null, this.contextFor(servername));

  onChange(listener: () => void): () => void {
    this.events.on('change', listener);
    return () => this.events.off('change', listener);
  }

  contextFor(servername: string): SecureContext {
    return this.lookup(servername)?.context ?? this.current.context;
  }

  /** The certificate that covers `name` (exact, then a one-label wildcard), if any. */
  find(name: string): CertificateInfo | undefined {
    const entry = this.lookup(name);
    return entry && info(entry);
  }

  list(): CertificateInfo[] {
    return [...new Set(this.byName.values())].map(info);
  }

  /**
   * Re-reads the folder (and the configured files). A bad pair is skipped with a log line; a bad
   * configured default throws and leaves everything as it was.
   */
  async reload(): Promise<{ loaded: number; skipped: string[] }> {
    const skipped: string[] = [];
    const entries: Entry[] = [];
    const files = new Set(readdirSync(this.dir));
    for (const file of files) {
      const stem = file.endsWith('.crt') ? file.slice(0, -4) : null;
      if (!stem || stem === SELF_SIGNED || !files.has(`${stem}.key`)) continue;
      try {
        entries.push(
          entryOf(stem, {
            cert: readFileSync(join(this.dir, file), 'utf8'),
            key: readFileSync(join(this.dir, `${stem}.key`), 'utf8'),
          }),
        );
      } catch (err) {
        skipped.push(stem);
        this.options.logger?.error({ err, file: stem }, 'skipping a certificate that does not load');
      }
    }
    const now = Date.now();
    const byName = new Map<string, Entry>();
    // Per name: a certificate valid now beats one that is not; then the one that lasts longer.
    const better = (a: Entry, b: Entry) => {
      const va = a.notBefore.getTime() <= now && now < a.notAfter.getTime();
      const vb = b.notBefore.getTime() <= now && now < b.notAfter.getTime();
      return va !== vb ? va : a.notAfter > b.notAfter;
    };
    for (const entry of entries) {
      for (const name of entry.names) {
        const held = byName.get(name);
        if (!held || better(entry, held)) byName.set(name, entry);
      }
    }
    const hostname = lower(this.options.hostname);
    const settings = this.options.settings;
    let fallback: Entry;
    if (settings?.cert || settings?.key) {
      fallback = entryOf('configured', await loadCertificate(settings, this.options.dataDir, hostname));
    } else {
      fallback =
        this.fallback ??
        entryOf(
          SELF_SIGNED,
          await loadCertificate({ cert: '', key: '' }, this.options.dataDir, hostname, this.options.altNames),
        );
    }
    this.byName = byName;
    this.fallback = fallback;
    this.current = settings?.cert ? fallback : (lookupIn(byName, hostname) ?? fallback);
    this.events.emit('change');
    return { loaded: entries.length, skipped };
  }

  /** Writes a pair as `<file>.crt`/`.key` (key 0600; each file replaced atomically), then reloads. */
  async install(file: string, pair: KeyPair): Promise<void> {
    if (!/^[a-z0-9*][a-z0-9.*-]*$/i.test(file) || file === SELF_SIGNED)
      throw new Error(`bad certificate file name ${file}`);
    entryOf(file, pair); // refuse a pair that does not load before replacing a good one
    const write = (name: string, data: string, mode: number) => {
      const tmp = join(this.dir, `.${name}.tmp`);
      writeFileSync(tmp, data, { mode });
      renameSync(tmp, join(this.dir, name));
    };
    write(`${file}.key`, pair.key, 0o600);
    write(`${file}.crt`, pair.cert, 0o644);
    await this.reload();
  }

  private lookup(name: string): Entry | undefined {
    return lookupIn(this.byName, lower(name));
  }
}

function lookupIn(byName: Map<string, Entry>, name: string): Entry | undefined {
  const dot = name.indexOf('.');
  return byName.get(name) ?? (dot > 0 ? byName.get(`*${name.slice(dot)}`) : undefined);
}

const info = (e: Entry): CertificateInfo => ({
  file: e.file,
  names: e.names,
  notBefore: e.notBefore,
  notAfter: e.notAfter,
  issuer: e.issuer,
});

/** Reloads the certificates on SIGHUP (after an operator or certbot replaced files); returns the unsubscribe. */
export function reloadOnSighup(certificates: CertificateStore, logger?: Logger): () => void {
  const onHup = () => {
    certificates.reload().then(
      (result) => logger?.info(result, 'certificates reloaded'),
      (err: Error) => logger?.error({ err }, 'certificate reload failed; the previous certificates stay in use'),
    );
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
