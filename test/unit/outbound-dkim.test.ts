// Outbound DKIM signing (src/outbound/dkim.ts) takes keys imported once instead of mailauth importing
// the PEM for every message: the fields it writes must be byte for byte what mailauth's dkimSign
// writes (RSA PKCS#1 v1.5 and Ed25519 are deterministic), over every in-repo fixture message, and a
// receiver (mailauth's verifier, keys published on a loopback DNS server) must find them valid.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { authenticate, dkimSign } from 'mailauth';
import { createResolver } from '../../src/dns/resolver.ts';
import { dkimRecordValue, generateDkimKey } from '../../src/dns/dkim.ts';
import { dkimSignatures, SIGNED_HEADERS } from '../../src/outbound/dkim.ts';
import type { DkimKey } from '../../src/store/index.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { MIME_FIXTURES, SPAM_FIXTURES } from '../helpers/fixtures.ts';
import { loadMessages } from '../helpers/mime-check.ts';

const NOW = Date.UTC(2026, 11, 6, 17, 0, 0);
let keys: DkimKey[];

test.before(async () => {
  const made = [await generateDkimKey('rsa-sha256', 'r1', NOW), await generateDkimKey('ed25519-sha256', 'e1', NOW)];
  keys = made.map((k) => ({ ...k, active: true }));
});

/** The call the signer made before (mailauth's dkimSign with the same options). */
async function mailauthSignatures(raw: Buffer, domain: string, active: DkimKey[]): Promise<string> {
  const result = await dkimSign(raw, {
    // unused beside signatureData (dkim-signer.js), but required by mailauth's types
    ...{ signingDomain: domain, selector: active[0]!.selector, privateKey: active[0]!.privateKey },
    canonicalization: 'relaxed/relaxed',
    // mailauth's types say string[]; its code reads a colon-separated string (tools.js getSigningHeaderLines)
    headerList: SIGNED_HEADERS as unknown as string[],
    signTime: new Date(NOW),
    signatureData: active.map((k) => ({
      signingDomain: domain,
      selector: k.selector,
      privateKey: k.privateKey,
      algorithm: k.algorithm,
      canonicalization: 'relaxed/relaxed',
    })),
  });
  if (result.errors?.length) throw result.errors[0];
  return result.signatures.trim() ? result.signatures : '';
}

test('the same fields as mailauth dkimSign, RSA + Ed25519, over every fixture (CRLF and LF)', async () => {
  const samples = [...loadMessages(MIME_FIXTURES).samples, ...loadMessages(SPAM_FIXTURES).samples];
  let signed = 0;
  for (const s of samples) {
    for (const raw of [s.raw, Buffer.from(s.raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1')]) {
      const ours = await dkimSignatures(raw, 'a.test', keys, NOW);
      assert.is(ours, await mailauthSignatures(raw, 'a.test', keys), s.name);
      if (ours.match(/^DKIM-Signature:/gm)?.length === 2) signed++;
    }
  }
  assert.ok(signed > samples.length, `${signed} messages signed twice of ${samples.length * 2}`);
});

test('List-Unsubscribe and List-Unsubscribe-Post are signed (RFC 8058 §4), and fields off the list are not', async () => {
  const raw = Buffer.from(
    'From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\nList-Unsubscribe: <https://a.test/u/1>\r\n' +
      'List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\nX-Campaign: 7\r\n\r\nbody\r\n',
  );
  const signed = (await dkimSignatures(raw, 'a.test', keys, NOW)).replace(/\r\n[ \t]+/g, ' ');
  const fields = /\bh=([^;]+);/.exec(signed)![1]!.replace(/\s+/g, '').toLowerCase().split(':');
  assert.ok(fields.includes('list-unsubscribe-post'), fields.join(':'));
  assert.ok(fields.includes('list-unsubscribe'));
  assert.not.ok(fields.includes('x-campaign'));
});

test('inactive keys do not sign; a key of the wrong type is an error, as before', async () => {
  const raw = Buffer.from('From: a@a.test\r\nSubject: hi\r\n\r\nbody\r\n');
  assert.is(await dkimSignatures(raw, 'a.test', [{ ...keys[0]!, active: false }], NOW), '');
  const wrong = { ...keys[0]!, algorithm: 'ed25519-sha256' as const };
  let ours: unknown;
  let theirs: unknown;
  await dkimSignatures(raw, 'a.test', [wrong], NOW).catch((e) => (ours = e));
  await mailauthSignatures(raw, 'a.test', [wrong]).catch((e) => (theirs = e));
  assert.ok(ours && theirs);
  assert.is((ours as { err: { code: string } }).err.code, (theirs as { err: { code: string } }).err.code);
});

test('a receiver verifies both signatures against the published keys', async () => {
  const dns = await startDnsServer({
    'r1._domainkey.a.test': { TXT: [dkimRecordValue(keys[0]!)] },
    'e1._domainkey.a.test': { TXT: [dkimRecordValue(keys[1]!)] },
  });
  try {
    const raw = Buffer.from(
      'From: a@a.test\r\nTo: b@b.test\r\nSubject: hi\r\nDate: Sun, 6 Dec 2026 17:00:00 +0000\r\n\r\nbody\r\n',
    );
    const signed = Buffer.concat([Buffer.from(await dkimSignatures(raw, 'a.test', keys)), raw]);
    const result = await authenticate(signed, {
      ip: '192.0.2.1',
      sender: 'a@a.test',
      mta: 'mx.b.test',
      resolver: createResolver({ servers: dns.servers }).resolve,
      disableArc: true,
      disableBimi: true,
    });
    assert.equal(
      result.dkim.results.map((r) => [r.selector, r.status.result]),
      [
        ['r1', 'pass'],
        ['e1', 'pass'],
      ],
    );
  } finally {
    await dns.close();
  }
});

test.run();
