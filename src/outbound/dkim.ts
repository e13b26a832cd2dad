// DKIM signing of outgoing mail with the sending domain's keys: every active key signs, so a domain
// with an RSA and an Ed25519 key sends both signatures (receivers that lack Ed25519 use the RSA one).
import { dkimSign } from 'mailauth';
import type { DkimKey, Store } from '../store/index.ts';

/** Fields signed (and over-signed where a second copy would change meaning), after RFC 6376 §5.4.1. */
const SIGNED_HEADERS = [
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
];

/** Returns the signature fields (CRLF-terminated) for `raw` signed by `domain` with `keys`, or "" when none. */
export async function dkimSignatures(raw: Buffer, domain: string, keys: DkimKey[], now = Date.now()): Promise<string> {
  const active = keys.filter((k) => k.active);
  if (active.length === 0) return '';
  const result = await dkimSign(raw, {
    signingDomain: domain,
    selector: active[0]!.selector,
    privateKey: active[0]!.privateKey,
    canonicalization: 'relaxed/relaxed',
    headerList: SIGNED_HEADERS,
    signTime: new Date(now),
    signatureData: active.map((k) => ({
      signingDomain: domain,
      selector: k.selector,
      privateKey: k.privateKey,
      algorithm: k.algorithm,
      canonicalization: 'relaxed/relaxed',
    })),
  });
  if (result.errors?.length) throw result.errors[0]!;
  return result.signatures.trim() ? result.signatures : '';
}

/** Signs with the keys of `domain` when it is hosted here and has active keys; otherwise returns raw unchanged. */
export async function signForDomain(store: Store, raw: Buffer, domain: string): Promise<Buffer> {
  const hosted = await store.domains.get(domain);
  if (!hosted) return raw;
  const signatures = await dkimSignatures(raw, hosted.name, hosted.dkim);
  return signatures ? Buffer.concat([Buffer.from(signatures), raw]) : raw;
}
