// Package tls implements the server's certificates: files from the config or a self-signed one made at
// first start and kept in the data directory (this file), per-name selection by SNI with reload on
// SIGHUP (certificate-store.ts), and ACME HTTP-01 orders and renewals (acme.ts). Invariant: every TLS
// listener reads from one CertificateStore, so a reload reaches new handshakes everywhere while open
// connections keep theirs. May import store and base.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import selfsigned from 'selfsigned';

export interface KeyPair {
  key: string;
  cert: string;
}

export interface TlsSettings {
  cert: string;
  key: string;
}

/** Every name a self-signed certificate carries: the hostname, `localhost`, loopback and `altNames` (names and IPs), once each. */
export function selfSignedNames(hostname: string, altNames: string[] = []): string[] {
  const names = [hostname, 'localhost', '127.0.0.1', '::1', ...altNames]
    .map((n) =>
      n
        .trim()
        .toLowerCase()
        .replace(/^\[|\]$/g, ''),
    )
    .filter(Boolean);
  return [...new Set(names)];
}

const covers = (cert: X509Certificate, name: string): boolean =>
  isIP(name) ? cert.checkIP(name) !== undefined : cert.checkHost(name) !== undefined;

/**
 * The server certificate: the configured PEM files, or else a self-signed one for the hostname and
 * `altNames` (the addresses the listeners are configured on), made at first start and kept in the
 * data folder so clients can pin it across restarts; made again when a configured name is missing.
 */
export async function loadCertificate(
  settings: TlsSettings,
  dataDir: string,
  hostname: string,
  altNames: string[] = [],
): Promise<KeyPair & { selfSigned: boolean }> {
  if (settings.cert || settings.key) {
    if (!settings.cert || !settings.key) throw new Error('tls.cert and tls.key must be set together');
    return { cert: readFileSync(settings.cert, 'utf8'), key: readFileSync(settings.key, 'utf8'), selfSigned: false };
  }
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'self-signed.crt');
  const keyPath = join(dir, 'self-signed.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const x509 = new X509Certificate(cert);
    if (selfSignedNames(hostname, altNames).every((name) => covers(x509, name)))
      return { cert, key: readFileSync(keyPath, 'utf8'), selfSigned: true };
  }
  const pair = await makeSelfSigned(hostname, altNames);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  writeFileSync(certPath, pair.cert, { mode: 0o644 });
  return { ...pair, selfSigned: true };
}

/** A self-signed pair for `hostname` whose SANs are selfSignedNames(hostname, altNames) (DNS names and IPs). */
export async function makeSelfSigned(hostname: string, altNames: string[] = [], days = 3650): Promise<KeyPair> {
  const now = new Date();
  const pems = await selfsigned.generate([{ name: 'commonName', value: hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + days * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      // RFC 5280 §4.2.1.6: dNSName (2) for names, iPAddress (7) for addresses.
      {
        name: 'subjectAltName',
        altNames: selfSignedNames(hostname, altNames).map((n) =>
          isIP(n) ? { type: 7, ip: n } : { type: 2, value: n },
        ),
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export const secureContext = (pair: KeyPair): SecureContext => createSecureContext({ key: pair.key, cert: pair.cert });
