// The MTA-STS policy endpoint: Host routing, per-domain mode, 404s, parsed by mailauth's policy parser
// (the one our own outbound MTA-STS uses), and served over HTTPS with the mta-sts.<domain>
// certificate chosen by SNI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { parsePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { createHttpApp } from '../../src/http/app.ts';
import { policyId, policyText } from '../../src/dns/mta-sts.ts';
import { CertificateStore } from '../../src/tls/certificate-store.ts';
import { makeSelfSigned } from '../../src/tls/certificates.ts';
import { tlsServerOptions } from '../../src/tls/source.ts';
import { startApi, type ApiFixture } from '../helpers/api.ts';
import { tempDir } from '../helpers/tmp.ts';

let f: ApiFixture;
const dir = tempDir('wren-mta-sts-');
let https: Server;
let httpsPort = 0;

interface Reply {
  status: number;
  type: string;
  body: string;
  peer?: string;
}

function get(host: string, options: { method?: string; path?: string; tls?: boolean } = {}): Promise<Reply> {
  const port = options.tls ? httpsPort : Number(new URL(f.base).port);
  const request = options.tls ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/.well-known/mta-sts.txt',
        method: options.method ?? 'GET',
        headers: { host },
        ...(options.tls ? { servername: host.split(':')[0], rejectUnauthorized: false } : {}),
      },
      (res) => {
        const peer = options.tls ? ((res.socket as TLSSocket).getPeerCertificate().subject?.CN as string) : undefined;
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, peer }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test.before(async () => {
  f = await startApi({
    mtaSts: { modeFor: (d) => (d.name === 'strict.test' ? 'enforce' : undefined), maxAgeSeconds: 86_400 },
  });
  await f.store.domains.create(f.teamId, 'example.test');
  await f.store.domains.create(f.teamId, 'strict.test');

  mkdirSync(join(dir.path, 'tls'));
  const pair = await makeSelfSigned('mta-sts.example.test');
  writeFileSync(join(dir.path, 'tls', 'mta-sts.example.test.crt'), pair.cert);
  writeFileSync(join(dir.path, 'tls', 'mta-sts.example.test.key'), pair.key);
  const certs = await CertificateStore.open({ dataDir: dir.path, hostname: 'mail.wren.test' });
  const app = createHttpApp({
    store: f.store,
    logger: pino({ level: 'silent' }),
    ready: () => true,
    hostname: 'mail.wren.test',
  });
  https = createHttpsServer(tlsServerOptions(certs), app.callback());
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  httpsPort = (https.address() as { port: number }).port;
});

test.after(async () => {
  await new Promise((r) => https.close(r));
  https.closeAllConnections();
  await f.close();
  dir.remove();
});

test('a hosted domain gets STSv1 in testing mode by default, mx the hostname, as text/plain', async () => {
  const r = await get('mta-sts.example.test');
  assert.is(r.status, 200);
  assert.match(r.type, /^text\/plain/);
  assert.is(r.body, 'version: STSv1\r\nmode: testing\r\nmx: mail.wren.test\r\nmax_age: 86400\r\n');
  const policy = parsePolicy(r.body);
  assert.is(policy.mode, 'testing');
  assert.equal(policy.mx, ['mail.wren.test']);
  assert.is(policy.maxAge, 86_400);
});

test('a domain’s own mode wins; mailauth accepts our MX under it and refuses another', async () => {
  const r = await get('MTA-STS.Strict.Test:8443');
  assert.is(r.status, 200);
  const policy = parsePolicy(r.body);
  assert.is(policy.mode, 'enforce');
  assert.ok(validateMx('mail.wren.test', policy).valid);
  assert.not.ok(validateMx('mx.elsewhere.test', policy).valid);
});

test('unknown domains, other hosts, other methods: 404', async () => {
  assert.is((await get('mta-sts.unknown.test')).status, 404);
  assert.is((await get('example.test')).status, 404);
  assert.is((await get('mta-sts.')).status, 404);
  assert.is((await get('mta-sts.example.test', { method: 'POST' })).status, 404);
  // Other paths on the mta-sts host are not the policy.
  assert.is.not(
    (await get('mta-sts.example.test', { path: '/.well-known/mta-sts.txt.bak' })).body.startsWith('version'),
    true,
  );
});

test('over HTTPS the mta-sts.<domain> certificate is chosen by SNI', async () => {
  const r = await get('mta-sts.example.test', { tls: true });
  assert.is(r.status, 200);
  assert.is(r.peer, 'mta-sts.example.test');
  assert.match(r.body, /^version: STSv1\r\n/);
  assert.is(
    (await get('mta-sts.strict.test', { tls: true })).peer,
    'mail.wren.test',
    'no certificate for it: the default',
  );
});

test('the policy id changes with the policy text', () => {
  const a = policyId(policyText('testing', 'mail.wren.test', 604_800));
  assert.is(a, policyId(policyText('testing', 'mail.wren.test', 604_800)));
  assert.is.not(a, policyId(policyText('enforce', 'mail.wren.test', 604_800)));
  assert.match(a, /^[0-9a-f]{20}$/);
});

test.run();
