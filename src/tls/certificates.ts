import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';

export interface KeyPair { key: string; cert: string }

export interface TlsSettings { cert: string; key: string }

/**
 * The server certificate: the configured PEM files, or else a self-signed one for the hostname,
 * made at first start and kept in the data folder so clients can pin it across restarts.
 */
export async function loadCertificate(settings: TlsSettings, dataDir: string, hostname: string): Promise<KeyPair & { selfSigned: boolean }> {
  if (settings.cert || settings.key) {
    if (!settings.cert || !settings.key) throw new Error('tls.cert and tls.key must be set together');
    return { cert: readFileSync(settings.cert, 'utf8'), key: readFileSync(settings.key, 'utf8'), selfSigned: false };
  }
  const dir = join(dataDir, 'tls');
  const certPath = join(dir, 'self-signed.crt');
  const keyPath = join(dir, 'self-signed.key');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    if (new X509Certificate(cert).checkHost(hostname)) return { cert, key: readFileSync(keyPath, 'utf8'), selfSigned: true };
  }
  const pair = await makeSelfSigned(hostname);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(keyPath, pair.key, { mode: 0o600 });
  writeFileSync(certPath, pair.cert, { mode: 0o644 });
  return { ...pair, selfSigned: true };
}

export async function makeSelfSigned(hostname: string, days = 3650): Promise<KeyPair> {
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
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }, { type: 7, ip: '127.0.0.1' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export const secureContext = (pair: KeyPair): SecureContext => createSecureContext({ key: pair.key, cert: pair.cert });
