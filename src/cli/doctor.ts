// `wrenmail doctor`: what an operator must fix for mail to flow and clients to connect. Checks every
// hosted domain's DNS records (through the running server's API, so with its resolver), that every
// configured listener answers, the certificates of the TLS listeners, and that the server's address
// has reverse DNS naming it. Exit 0 when nothing must be fixed (recommendations may remain), 2 when
// something must; 64/69/77 as the admin commands.
import { connect as connectTcp } from 'node:net';
import { connect as connectTls, type PeerCertificate } from 'node:tls';
import { domainToASCII } from 'node:url';
import type { Config } from '../config/schema.ts';
import { createResolver } from '../dns/resolver.ts';
import { parseListen } from '../listeners.ts';
import { apiCall, apiList } from '../client/api.ts';
import { reportFailure } from '../client/progress.ts';

export const DOCTOR_USAGE = `  doctor [--domain NAME] [--json]  check DNS records of every hosted domain (or one), open ports,
                                   TLS certificates and reverse DNS; prints what to fix,
                                   exit 2 while something must be fixed`;

export type Severity = 'ok' | 'fix' | 'recommend';

export interface Finding {
  /** "example.com" for a domain's records, "server" for the rest. */
  scope: string;
  check: string;
  severity: Severity;
  /** What was found, and for problems what to do. */
  detail: string;
}

interface Domain {
  id: string;
  domain: string;
}
interface RecordView {
  purpose: string;
  type: string;
  name: string;
  value: string;
  priority: number | null;
  required: boolean;
  status: string | null;
}

/** Certificates expiring sooner than this are to be renewed now. */
const RENEW_DAYS = 14;
const TIMEOUT_MS = 3000;

const LISTENERS: { setting: string; addresses: (c: Config) => string[]; tls: boolean }[] = [
  { setting: 'smtp.mx_listen', addresses: (c) => c.smtp.mx_listen, tls: false },
  { setting: 'smtp.submission_listen', addresses: (c) => c.smtp.submission_listen, tls: false },
  { setting: 'smtp.submissions_listen', addresses: (c) => c.smtp.submissions_listen, tls: true },
  { setting: 'imap.listen', addresses: (c) => c.imap.listen, tls: false },
  { setting: 'imap.tls_listen', addresses: (c) => c.imap.tls_listen, tls: true },
  { setting: 'pop3.listen', addresses: (c) => c.pop3.listen, tls: false },
  { setting: 'pop3.tls_listen', addresses: (c) => c.pop3.tls_listen, tls: true },
  { setting: 'http.listen', addresses: (c) => c.http.listen, tls: false },
];

const zoneLine = (r: RecordView): string =>
  `${r.name}. IN ${r.type} ${r.type === 'TXT' ? JSON.stringify(r.value) : `${r.priority ?? ''} ${r.value}.`.trim()}`;

/** One finding per record: published and matching, or the zone line to publish. */
export async function domainFindings(config: Config, only?: string): Promise<Finding[]> {
  let domains = await apiList<Domain>(config, '/api/v1/domains');
  if (only) {
    const wanted = domainToASCII(only.toLowerCase().replace(/\.$/, ''));
    domains = domains.filter((d) => d.domain === wanted);
    if (domains.length === 0)
      return [
        {
          scope: wanted || only,
          check: 'domain',
          severity: 'fix',
          detail: 'not hosted on this server (wrenmail domain add)',
        },
      ];
  }
  const findings: Finding[] = [];
  for (const domain of domains) {
    const { data } = await apiCall<RecordView[]>(config, 'GET', `/api/v1/domains/${domain.id}/dns-records?check=true`);
    for (const r of data) {
      const purpose = r.purpose.toUpperCase().replace(/_/g, '-');
      const check = `${purpose === r.type ? '' : `${purpose} `}${r.type} ${r.name}`;
      if (r.status === 'ok') findings.push({ scope: domain.domain, check, severity: 'ok', detail: 'published' });
      else {
        const what =
          r.status === 'mismatch' ? 'published but different' : r.status === 'error' ? 'lookup failed' : 'missing';
        findings.push({
          scope: domain.domain,
          check,
          severity: r.required ? 'fix' : 'recommend',
          detail: `${what}; publish: ${zoneLine(r)}`,
        });
      }
    }
  }
  return findings;
}

const reachable = (host: string): string => (host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host);

function probe(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port, timeout: TIMEOUT_MS });
    const done = (error?: string) => {
      socket.destroy();
      resolve(error);
    };
    socket.once('connect', () => done());
    socket.once('timeout', () => done('no answer'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

function peerCertificate(
  host: string,
  port: number,
  servername: string,
): Promise<{ cert: PeerCertificate; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host, port, servername, rejectUnauthorized: false, timeout: TIMEOUT_MS });
    socket.once('secureConnect', () => {
      const result = {
        cert: socket.getPeerCertificate(),
        authorized: socket.authorized,
        error: socket.authorizationError?.message,
      };
      socket.destroy();
      resolve(result);
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('no TLS handshake'));
    });
    socket.once('error', reject);
  });
}

/** Listeners answer; TLS listeners present a trusted certificate for the hostname that is not about to expire. */
export async function listenerFindings(config: Config): Promise<Finding[]> {
  const findings: Finding[] = [];
  const offset = config.server.unprivileged_port_offset;
  for (const listener of LISTENERS) {
    for (const address of listener.addresses(config)) {
      const { host: bound, port } = parseListen(address);
      const host = reachable(bound);
      const check = `port ${address} (${listener.setting})`;
      if (port === 0) {
        findings.push({
          scope: 'server',
          check,
          severity: 'recommend',
          detail: 'port 0 is chosen anew at every start: clients cannot find it; set a fixed port',
        });
        continue;
      }
      const refused = await probe(host, port);
      if (refused) {
        const moved = port < 1024 && offset > 0 && !(await probe(host, port + offset));
        findings.push({
          scope: 'server',
          check,
          severity: 'fix',
          detail: moved
            ? `closed (${refused}), but ${port + offset} is open: the server lacked the privilege for ${port}; grant CAP_NET_BIND_SERVICE (systemd AmbientCapabilities) and restart`
            : `closed (${refused}): is the server running, and is a firewall in the way?`,
        });
        continue;
      }
      findings.push({ scope: 'server', check, severity: 'ok', detail: 'open' });
      if (!listener.tls) continue;
      const tlsCheck = `certificate on ${address}`;
      try {
        const { cert, authorized, error } = await peerCertificate(host, port, config.hostname);
        const days = Math.floor((new Date(cert.valid_to).getTime() - Date.now()) / 86_400_000);
        const expiry = `expires ${new Date(cert.valid_to).toISOString().slice(0, 10)} (${days} days)`;
        if (days < 0)
          findings.push({
            scope: 'server',
            check: tlsCheck,
            severity: 'fix',
            detail: `expired ${-days} days ago: renew it (tls.cert, tls.key) and send SIGHUP or restart`,
          });
        else if (!authorized)
          findings.push({
            scope: 'server',
            check: tlsCheck,
            severity: 'fix',
            detail: `not trusted for ${config.hostname} (${error}); ${expiry}: install a certificate from a public CA (tls.cert, tls.key)`,
          });
        else if (days < RENEW_DAYS)
          findings.push({ scope: 'server', check: tlsCheck, severity: 'fix', detail: `${expiry}: renew it now` });
        else
          findings.push({
            scope: 'server',
            check: tlsCheck,
            severity: 'ok',
            detail: `trusted for ${config.hostname}, ${expiry}`,
          });
      } catch (err) {
        findings.push({
          scope: 'server',
          check: tlsCheck,
          severity: 'fix',
          detail: `TLS handshake failed: ${(err as Error).message}`,
        });
      }
    }
  }
  return findings;
}

/** The hostname resolves, and each of its addresses (and outbound.local_address) has a PTR naming it. */
export async function reverseDnsFindings(config: Config): Promise<Finding[]> {
  const resolver = createResolver({ servers: config.dns.servers, timeoutMs: config.dns.timeout_ms });
  const hostname = config.hostname.toLowerCase().replace(/\.$/, '');
  const findings: Finding[] = [];
  let addresses: string[];
  try {
    addresses = [...(await resolver.a(hostname)), ...(await resolver.aaaa(hostname))];
  } catch (err) {
    return [
      {
        scope: 'server',
        check: `A ${hostname}`,
        severity: 'fix',
        detail: `lookup failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      },
    ];
  }
  if (addresses.length === 0)
    return [
      {
        scope: 'server',
        check: `A ${hostname}`,
        severity: 'fix',
        detail: `${hostname} has no A or AAAA record: publish one with this server's public address`,
      },
    ];
  findings.push({ scope: 'server', check: `A ${hostname}`, severity: 'ok', detail: addresses.join(', ') });
  if (config.outbound.local_address && !addresses.includes(config.outbound.local_address))
    addresses.push(config.outbound.local_address);
  for (const address of addresses) {
    const check = `PTR ${address}`;
    try {
      const names = (await resolver.ptr(address)).map((n) => n.toLowerCase().replace(/\.$/, ''));
      if (names.includes(hostname)) findings.push({ scope: 'server', check, severity: 'ok', detail: hostname });
      else
        findings.push({
          scope: 'server',
          check,
          severity: 'fix',
          detail: `${names.length ? `names ${names.join(', ')}` : 'missing'}; receivers distrust mail from it: ask the address's provider to set its reverse DNS to ${hostname}`,
        });
    } catch (err) {
      findings.push({
        scope: 'server',
        check,
        severity: 'fix',
        detail: `lookup failed (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      });
    }
  }
  return findings;
}

const MARK: { [S in Severity]: string } = { ok: 'ok ', fix: 'FIX', recommend: 'rec' };

export async function runDoctor(
  config: Config,
  args: string[],
  values: { domain?: string; json?: boolean },
): Promise<number> {
  try {
    if (args.length) {
      process.stderr.write(`wrenmail: unexpected ${args.join(' ')}\n\n${DOCTOR_USAGE}\n`);
      return 64;
    }
    const findings = [
      ...(await domainFindings(config, values.domain)),
      ...(await listenerFindings(config)),
      ...(await reverseDnsFindings(config)),
    ];
    const fixes = findings.filter((f) => f.severity === 'fix').length;
    const recommendations = findings.filter((f) => f.severity === 'recommend').length;
    if (values.json) process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
    else {
      const lines: string[] = [];
      let scope = '';
      for (const f of findings) {
        if (f.scope !== scope) lines.push(`${lines.length ? '\n' : ''}${(scope = f.scope)}`);
        lines.push(`  ${MARK[f.severity]}  ${f.check}: ${f.detail}`);
      }
      const domains = [
        ...new Set(findings.filter((f) => f.severity !== 'ok' && f.scope !== 'server').map((f) => f.scope)),
      ];
      if (domains.length)
        lines.push('', ...domains.map((d) => `all records of ${d} as a zone fragment: wrenmail domain dns ${d}`));
      lines.push(
        '',
        fixes
          ? `${fixes} to fix, ${recommendations} recommended`
          : `nothing to fix${recommendations ? `, ${recommendations} recommended` : ''}`,
      );
      process.stdout.write(`${lines.join('\n')}\n`);
    }
    return fixes ? 2 : 0;
  } catch (err) {
    return reportFailure(err, `usage:\n${DOCTOR_USAGE}`);
  }
}
