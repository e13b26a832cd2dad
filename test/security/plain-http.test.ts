// API keys and passwords must not cross a network in clear. Over plain HTTP, a request
// that carries credentials is refused unless its peer is in http.plain_credentials_from (default:
// loopback, 127.0.0.0/8 and ::1) or the operator opted in (http.allow_plain_credentials), as
// LOGINDISABLED does for IMAP. To exercise the refusal over real sockets, the server trusts only its
// own address (127.0.0.2/32) and the client connects from 127.0.0.3. Settings come through the
// environment (WRENMAIL_HTTP_…), as an operator would set them.
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { type Instance, startInstance } from '../helpers/instance.ts';

interface Answer {
  status: number;
  body: any;
}

/** One request from a chosen local address (fetch cannot pick its source address). */
function call(url: string, from: string, headers: Record<string, string> = {}): Promise<Answer> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, headers, rejectUnauthorized: false, timeout: 5000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function start(
  env: Record<string, string>,
): Promise<{ instance: Instance; key: string; http: string; https: string }> {
  const { http } = loadConfig(undefined, env);
  const instance = await startInstance({
    host: '127.0.0.2',
    overrides: { http: { ...http, listen: ['127.0.0.2:0'], tls_listen: ['127.0.0.2:0'] } },
  });
  const key = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
  return {
    instance,
    key,
    http: `http://127.0.0.2:${instance.port('http')}`,
    https: `https://127.0.0.2:${instance.port('https')}`,
  };
}

test('loopback is 127.0.0.0/8 and ::1 by default; plain credentials are off by default', () => {
  const { http } = configSchema.parse({});
  assert.is(http.allow_plain_credentials, false);
  assert.equal(http.plain_credentials_from, ['127.0.0.0/8', '::1/128']);
});

test('over plain HTTP from an untrusted address: credentials refused with the reason and the fix; HTTPS, trusted peers and credential-free requests pass', async () => {
  const s = await start({ WRENMAIL_HTTP_PLAIN_CREDENTIALS_FROM: '127.0.0.2/32' });
  try {
    const bearer = { authorization: `Bearer ${s.key}` };
    const refused = await call(`${s.http}/api/v1/domains`, '127.0.0.3', bearer);
    assert.is(refused.status, 403);
    assert.is(refused.body.ok, false);
    assert.is(refused.body.error.code, 'tls_required');
    assert.match(refused.body.error.message, /plain HTTP/);
    assert.match(refused.body.error.message, /HTTPS/);
    assert.match(refused.body.error.message, /http\.allow_plain_credentials/);
    // Basic on the compatibility API is a credential too
    const basic = await call(`${s.http}/api/principal`, '127.0.0.3', {
      authorization: `Basic ${Buffer.from(`admin:${s.key}`).toString('base64')}`,
    });
    assert.is(basic.status, 403);
    assert.is(basic.body.error.code, 'tls_required');
    // without credentials nothing changes
    assert.is((await call(`${s.http}/healthz`, '127.0.0.3')).status, 200);
    assert.is((await call(`${s.http}/api/v1/domains`, '127.0.0.3')).status, 401);
    // from a trusted network, and over HTTPS from anywhere, the same key works
    assert.is((await call(`${s.http}/api/v1/domains`, '127.0.0.2', bearer)).status, 200);
    assert.is((await call(`${s.https}/api/v1/domains`, '127.0.0.3', bearer)).status, 200);
  } finally {
    await s.instance.stop();
  }
});

test("the operator's opt-in (WRENMAIL_HTTP_ALLOW_PLAIN_CREDENTIALS=true) lets plain-HTTP credentials in from anywhere", async () => {
  const s = await start({
    WRENMAIL_HTTP_PLAIN_CREDENTIALS_FROM: '127.0.0.2/32',
    WRENMAIL_HTTP_ALLOW_PLAIN_CREDENTIALS: 'true',
  });
  try {
    assert.is((await call(`${s.http}/api/v1/domains`, '127.0.0.3', { authorization: `Bearer ${s.key}` })).status, 200);
  } finally {
    await s.instance.stop();
  }
});

test.run();
