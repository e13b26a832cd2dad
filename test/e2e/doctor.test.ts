// `wrenmail doctor` against a running server whose resolver asks a test DNS server on loopback: one
// domain published completely, one without DKIM and DMARC; listeners on fixed ports; a certificate
// trusted through NODE_EXTRA_CA_CERTS (or not); reverse DNS right or wrong.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePortOn } from '../helpers/ports.ts';
import { join } from 'node:path';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { makeSelfSigned } from '../../src/tls/certificates.ts';
import { reverseName, startDnsServer, type TestDnsServer, type Zone } from '../helpers/dns-server.ts';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { runCli } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOSTNAME = 'mail.example.test';
let dns: TestDnsServer;
let server: Instance;
let env: Record<string, string>;
const dir = tempDir('wrenmail-doctor-');
const certFile = join(dir.path, 'cert.pem');

interface RecordView {
  purpose: string;
  type: string;
  name: string;
  value: string;
  priority: number | null;
}

/** A port free right now on an address no other test listens on, so it stays closed. */
const CLOSED_HOST = '127.0.0.78';
const freePort = (): Promise<number> => freePortOn(CLOSED_HOST);

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${env.WRENMAIL_API_URL}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${env.WRENMAIL_API_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status}`);
  return ((await response.json()) as { data: T }).data;
}

/** Publishes a domain's records in the test zone, all but the purposes left out. */
async function publish(zone: Zone, domain: string, leaveOut: string[]): Promise<void> {
  const { id } = await api<{ id: string }>('POST', '/domains', { domain });
  for (const r of await api<RecordView[]>('GET', `/domains/${id}/dns-records`)) {
    if (leaveOut.includes(r.purpose) || r.type === 'SRV') continue; // the test DNS server has no SRV
    const owner = (zone[r.name] ??= {});
    if (r.type === 'MX') (owner.MX ??= []).push({ exchange: r.value, priority: r.priority! });
    else if (r.type === 'TXT') (owner.TXT ??= []).push(r.value);
    else if (r.type === 'CNAME') owner.CNAME = r.value;
  }
}

test.before(async () => {
  dns = await startDnsServer({ [HOSTNAME]: { A: ['127.0.0.1'] }, [reverseName('127.0.0.1')]: { PTR: [HOSTNAME] } });
  const pair = await makeSelfSigned(HOSTNAME);
  writeFileSync(certFile, pair.cert);
  writeFileSync(join(dir.path, 'key.pem'), pair.key);
  // Every listener on a port the kernel picks; the doctor is then told the ports it got (picking free
  // ports first and binding them later raced with other tests).
  server = await startInstance({
    hostname: HOSTNAME,
    dnsServers: dns.servers,
    overrides: { tls: { cert: certFile, key: join(dir.path, 'key.pem') } },
  });
  env = {
    WRENMAIL_HOSTNAME: HOSTNAME,
    WRENMAIL_DATA_DIR: server.config.data_dir,
    WRENMAIL_DNS_SERVERS: dns.servers.join(','),
    WRENMAIL_API_URL: `http://127.0.0.1:${server.port('http')}`,
    WRENMAIL_API_KEY: readFileSync(bootstrapKeyPath(server.config.data_dir), 'utf8').trim(),
    NODE_EXTRA_CA_CERTS: certFile,
  };
  for (const listener of server.server.listeners) {
    env[`WRENMAIL_${listener.setting.replace('.', '_').toUpperCase()}`] = `${listener.host}:${listener.port}`;
  }
  const zone = dns.zone;
  await publish(zone, 'good.example', []);
  await publish(zone, 'bad.example', ['dkim', 'dmarc']);
});

test.after(async () => {
  await server?.stop();
  await dns?.close();
  dir.remove();
});

test('a domain published completely on a sound server: nothing to fix, exit 0', async () => {
  const run = await runCli(['doctor', '--domain', 'good.example'], env);
  assert.is(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /ok {3}DKIM TXT \S+\._domainkey\.good\.example: published/);
  assert.match(run.stdout, /ok {3}DMARC TXT _dmarc\.good\.example: published/);
  assert.match(run.stdout, /ok {3}MTA-STS TXT _mta-sts\.good\.example: published/);
  assert.match(run.stdout, /ok {3}port 127\.0\.0\.1:\d+ \(imap\.tls_listen\): open/);
  assert.match(run.stdout, /ok {3}certificate on 127\.0\.0\.1:\d+: trusted for mail\.example\.test, expires/);
  assert.match(run.stdout, /ok {3}PTR 127\.0\.0\.1: mail\.example\.test/);
  assert.match(run.stdout, /nothing to fix/);
  assert.not.match(run.stdout, /FIX/);
});

test('missing DKIM and DMARC are named with the records to publish, exit 2', async () => {
  const run = await runCli(['doctor', '--domain', 'bad.example'], env);
  assert.is(run.code, 2, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /FIX {2}DKIM TXT \S+\._domainkey\.bad\.example: missing; publish: \S+\._domainkey\.bad\.example\. IN TXT "v=DKIM1; k=rsa; p=/,
  );
  assert.match(
    run.stdout,
    /FIX {2}DMARC TXT _dmarc\.bad\.example: missing; publish: _dmarc\.bad\.example\. IN TXT "v=DMARC1;/,
  );
  assert.match(run.stdout, /ok {3}MX bad\.example: published/);
  assert.match(run.stdout, /zone fragment: wrenmail domain dns bad\.example/);
  assert.match(run.stdout, /2 to fix/);
  const all = await runCli(['doctor', '--json'], env);
  assert.is(all.code, 2);
  const findings = JSON.parse(all.stdout) as { scope: string; check: string; severity: string }[];
  assert.equal(
    findings.filter((f) => f.severity === 'fix').map((f) => `${f.scope} ${f.check.split(' ')[0]}`),
    ['bad.example DKIM', 'bad.example DMARC'],
  );
});

test('an untrusted certificate and a PTR naming another host must be fixed', async () => {
  const { NODE_EXTRA_CA_CERTS: _trusted, ...untrusting } = env;
  const ptr = reverseName('127.0.0.1');
  dns.zone[ptr] = { PTR: ['vps-127-0-0-1.provider.example'] };
  try {
    const run = await runCli(['doctor', '--domain', 'good.example'], untrusting);
    assert.is(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stdout, /FIX {2}certificate on 127\.0\.0\.1:\d+: not trusted for mail\.example\.test/);
    assert.match(
      run.stdout,
      /FIX {2}PTR 127\.0\.0\.1: names vps-127-0-0-1\.provider\.example; .*set its reverse DNS to mail\.example\.test/,
    );
  } finally {
    dns.zone[ptr] = { PTR: [HOSTNAME] };
  }
});

test('a stopped listener is reported closed', async () => {
  const port = await freePort();
  const run = await runCli(['doctor', '--domain', 'good.example'], {
    ...env,
    WRENMAIL_POP3_LISTEN: `${CLOSED_HOST}:${port}`,
  });
  assert.is(run.code, 2);
  assert.match(
    run.stdout,
    new RegExp(`FIX  port 127\\.0\\.0\\.78:${port} \\(pop3\\.listen\\): closed \\(ECONNREFUSED\\)`),
  );
});

test.run();
