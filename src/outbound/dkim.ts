// DKIM signing of outgoing mail with the sending domain's keys: every active key signs, so a domain
// with an RSA and an Ed25519 key sends both signatures (RFC 8463 §4: receivers that lack Ed25519 use
// the RSA one). mailauth's signer canonicalises and hashes; its last step, which imports the PEM key
// for every message (more CPU than the RSA signature itself with OpenSSL 3), is done here with keys
// imported once (KeyCache). The fields written are byte for byte mailauth's dkimSign's
// (test/unit/outbound-dkim.test.ts).
import { createHash, createPrivateKey, sign, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { DkimKey, Store } from '../store/index.ts';

interface SignatureData {
  signingDomain: string;
  selector: string;
  privateKey: string;
  algorithm: DkimKey['algorithm'];
  canonicalization: string;
}
interface SignerState {
  headers: { parsed: unknown[] } | false;
  headerList: unknown;
  signTime: Date;
  expires: unknown;
  bodyHashes: Map<string, { hash: string | null }>;
  signatureData: SignatureData[];
  signatureHeaders: string[];
  errors: unknown[];
}
// mailauth's signer pieces (CommonJS, untyped below the package's entry point).
const require = createRequire(import.meta.url);
const { DkimSigner } = require('mailauth/lib/dkim/dkim-signer.js') as {
  DkimSigner: new (options: object) => SignerState;
};
const { generateCanonicalizedHeader } = require('mailauth/lib/dkim/header/index.js') as {
  generateCanonicalizedHeader(
    type: string,
    lines: unknown,
    options: object,
  ): { canonicalizedHeader: Buffer; dkimHeaderOpts: Record<string, unknown> };
};
const { getSigningHeaderLines, formatSignatureHeaderLine, writeToStream } = require('mailauth/lib/tools.js') as {
  writeToStream(stream: SignerState, input: Buffer): Promise<void>;
  getSigningHeaderLines(parsed: unknown[], fieldNames: unknown): unknown;
  formatSignatureHeaderLine(type: string, values: Record<string, unknown>, folded: boolean): string;
};

/** Private keys imported once per PEM; a handful of domains' keys, so a plain bound is enough. */
const keyObjects = new Map<string, KeyObject>();
const KEY_CACHE_MAX = 1000;
function keyObject(pem: string): KeyObject {
  let key = keyObjects.get(pem);
  if (!key) {
    key = createPrivateKey({ key: pem, format: 'pem' });
    if (keyObjects.size >= KEY_CACHE_MAX) keyObjects.clear();
    keyObjects.set(pem, key);
  }
  return key;
}

/** mailauth's DkimSigner with its last step (dkim-signer.js finalize) taking imported keys. */
class ImportedKeySigner extends (DkimSigner as new (options: object) => SignerState) {
  async finalize(): Promise<void> {
    if (!this.headers) return;
    for (const data of this.signatureData) {
      try {
        const key = keyObject(data.privateKey);
        const signAlgo = data.algorithm.split('-')[0]!;
        if (key.asymmetricKeyType !== signAlgo)
          throw Object.assign(new Error(`Invalid key type: "${key.asymmetricKeyType}" (expecting "${signAlgo}")`), {
            code: 'EINVALIDTYPE',
          });
        const { canonicalizedHeader, dkimHeaderOpts } = generateCanonicalizedHeader(
          'DKIM',
          getSigningHeaderLines(this.headers.parsed, this.headerList),
          {
            ...data,
            instance: false,
            algorithm: data.algorithm,
            signTime: this.signTime,
            expires: this.expires,
            bodyHash: this.bodyHashes.get('relaxed:sha256:')?.hash ?? null,
          },
        );
        // Ed25519 signs the SHA-256 of the header (RFC 8463 §3), RSA the header with SHA-256.
        dkimHeaderOpts.b = (
          signAlgo === 'rsa'
            ? sign(data.algorithm, canonicalizedHeader, key)
            : sign(null, createHash('sha256').update(canonicalizedHeader).digest(), key)
        ).toString('base64');
        this.signatureHeaders.push(formatSignatureHeaderLine('DKIM', dkimHeaderOpts, true));
      } catch (err) {
        this.errors.push({ selector: data.selector, signingDomain: data.signingDomain, err });
      }
    }
  }
}

/**
 * Fields signed, after RFC 6376 §5.4.1, and List-Unsubscribe-Post, which RFC 8058 §4 requires a DKIM
 * signature to cover (mailauth's default list lacks it). mailauth takes the list colon-separated: an
 * array is ignored in favour of its default.
 */
export const SIGNED_HEADERS = [
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'in-reply-to',
  'references',
  'list-id',
  'list-unsubscribe',
  'list-unsubscribe-post',
].join(':');

/** Returns the signature fields (CRLF-terminated) for `raw` signed by `domain` with `keys`, or "" when none. */
export async function dkimSignatures(raw: Buffer, domain: string, keys: DkimKey[], now = Date.now()): Promise<string> {
  const active = keys.filter((k) => k.active);
  if (active.length === 0) return '';
  const signer = new ImportedKeySigner({
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS,
    signTime: new Date(now),
    signatureData: active.map(
      (k): SignatureData => ({
        signingDomain: domain,
        selector: k.selector,
        privateKey: k.privateKey,
        algorithm: k.algorithm,
        canonicalization: 'relaxed/relaxed',
      }),
    ),
  });
  await writeToStream(signer, raw);
  if (signer.errors.length) throw signer.errors[0]!;
  const signatures = `${signer.signatureHeaders.join('\r\n')}\r\n`;
  return signatures.trim() ? signatures : '';
}

/** Signs with the keys of `domain` when it is hosted here and has active keys; otherwise returns raw unchanged. */
export async function signForDomain(store: Store, raw: Buffer, domain: string): Promise<Buffer> {
  const hosted = await store.domains.get(domain);
  if (!hosted) return raw;
  const signatures = await dkimSignatures(raw, hosted.name, hosted.dkim);
  return signatures ? Buffer.concat([Buffer.from(signatures), raw]) : raw;
}
