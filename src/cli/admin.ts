// The admin commands (`wrenmail domain|mailbox|key|queue …`): each is one or two calls to the
// running server's management API with the bootstrap root key. Human output by default, the API's
// `data` as JSON with --json. Exit codes: 0 done; 1 the API refused (its message is printed);
// 2 `domain verify` found records missing; 64 usage; 69 server unreachable; 77 key refused.
import { randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { domainPublicId } from '../store/public-ids.ts';
import type { Config } from '../config/schema.ts';
import { ApiCallError, ApiUnreachableError, apiCall, apiList, apiRequest } from '../client/api.ts';
import { bytes, parseBytes, table, when } from '../client/format.ts';

/** Options the admin commands take (main.ts parses them with its own). */
export const ADMIN_OPTIONS = {
  json: { type: 'boolean' },
  password: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  quota: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  permissions: { type: 'string' },
  status: { type: 'string' },
  domain: { type: 'string' },
} as const;

export type AdminValues = {
  [K in keyof typeof ADMIN_OPTIONS]?: (typeof ADMIN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string;
};

export const ADMIN_COMMANDS = ['domain', 'mailbox', 'key', 'queue', 'admin'];

export const ADMIN_USAGE = `  domain add NAME                  host a domain (a DKIM key is made with it)
  domain list
  domain dns NAME                  the DNS records to publish (BIND zone lines)
  domain verify NAME               look the records up; exit 2 while some are missing
  mailbox add EMAIL [--password P | --password-stdin] [--quota 5G] [--name "Full Name"]
                                   without a password, one is generated and printed once
  mailbox list [--domain NAME]
  mailbox passwd EMAIL [--password P | --password-stdin]
  mailbox suspend EMAIL            no logins, inbound mail deferred (450 4.2.1)
  mailbox resume EMAIL
  key create NAME (--role ROLE | --permissions a.read,b.*)
                                   the secret is printed once
  key list
  key revoke KEY_ID
  queue list [--status queued|done|cancelled] [--domain NAME]
  admin passwd [--password P | --password-stdin]
                                   the web console's admin password (/admin); without one,
                                   one is generated and printed once; old console sessions end

  --json                           print the API's data as JSON (for scripts)`;

class UsageError extends Error {}

interface Domain {
  id: string;
  domain: string;
  verification_status: string;
  mailbox_count: number;
  created_at: string;
}
interface Mailbox {
  id: string;
  email: string;
  display_name: string | null;
  status: string;
  used_bytes: number;
  quota_bytes: number;
  created_at: string;
}
interface Key {
  id: string;
  name: string;
  type: string;
  role: string | null;
  permissions: string[];
  key_prefix: string;
  status: string;
  last_used_at: string | null;
  secret?: string;
}
interface Check {
  purpose: string;
  type: string;
  name: string;
  value: string;
  required: boolean;
  status: string;
}
interface Job {
  id: string;
  status: string;
  from: string;
  domain: string;
  attempts: number;
  next_attempt_at: string | null;
  recipients: { address: string; status: string; response: string | null }[];
}

type Handler = (args: string[]) => Promise<number>;

/** Runs one admin command; every failure becomes a message on stderr and an exit code. */
export async function runAdmin(config: Config, command: string, args: string[], values: AdminValues): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  const json = (data: unknown) => out(`${JSON.stringify(data, null, 2)}\n`);
  const print = (data: unknown, human: () => string) => (values.json ? json(data) : out(human()));
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UsageError(`${command} needs ${what}`);
    return value;
  };

  // A domain's public id follows from its name, so no listing is needed.
  const domainByName = async (name: string): Promise<Domain> => {
    const ascii = domainToASCII(name.toLowerCase().replace(/\.$/, ''));
    try {
      return (await apiCall<Domain>(config, 'GET', `/api/v1/domains/${domainPublicId(ascii)}`)).data;
    } catch (err) {
      if (err instanceof ApiCallError && err.code === 'not_found')
        throw new ApiCallError(404, 'not_found', `no domain ${ascii || name} on this server`);
      throw err;
    }
  };
  const mailboxByEmail = async (email: string): Promise<Mailbox> => {
    const wanted = email.toLowerCase();
    const found = (await apiList<Mailbox>(config, '/api/v1/mailboxes')).find((m) => m.email === wanted);
    if (!found) throw new ApiCallError(404, 'not_found', `no mailbox ${wanted} on this server`);
    return found;
  };
  const newPassword = async (): Promise<string | undefined> => {
    if (values.password !== undefined && values['password-stdin'])
      throw new UsageError('give --password or --password-stdin, not both');
    if (!values['password-stdin']) return values.password;
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  };
  const mailboxState =
    (action: 'suspend' | 'resume'): Handler =>
    async ([email]) => {
      const mailbox = await mailboxByEmail(need(email, 'an EMAIL'));
      const { data } = await apiCall<Mailbox>(config, 'POST', `/api/v1/mailboxes/${mailbox.id}/${action}`);
      print(data, () => `${data.email} is ${data.status}\n`);
      return 0;
    };

  const commands: Record<string, Record<string, Handler>> = {
    domain: {
      add: async ([name]) => {
        const { data } = await apiCall<Domain>(config, 'POST', '/api/v1/domains', {
          domain: need(name, 'a domain NAME'),
        });
        print(
          data,
          () =>
            `added ${data.domain} (${data.id}); publish its records (wrenmail domain dns ${data.domain}), then run wrenmail domain verify ${data.domain}\n`,
        );
        return 0;
      },
      list: async () => {
        const domains = await apiList<Domain>(config, '/api/v1/domains');
        print(domains, () =>
          table(
            ['DOMAIN', 'STATUS', 'MAILBOXES', 'CREATED', 'ID'],
            domains.map((d) => [d.domain, d.verification_status, String(d.mailbox_count), when(d.created_at), d.id]),
          ),
        );
        return 0;
      },
      dns: async ([name]) => {
        const domain = await domainByName(need(name, 'a domain NAME'));
        if (values.json) json((await apiCall<Check[]>(config, 'GET', `/api/v1/domains/${domain.id}/dns-records`)).data);
        else out(await (await apiRequest(config, 'GET', `/api/v1/domains/${domain.id}/zone-file`)).text());
        return 0;
      },
      verify: async ([name]) => {
        const domain = await domainByName(need(name, 'a domain NAME'));
        const { data } = await apiCall<{ status: string; checks: Check[] }>(
          config,
          'POST',
          `/api/v1/domains/${domain.id}/verify`,
        );
        print(
          data,
          () =>
            `${domain.domain}: ${data.status}\n${table(
              ['RECORD', 'TYPE', 'NAME', 'STATUS', 'REQUIRED'],
              data.checks.map((c) => [c.purpose, c.type, c.name, c.status, c.required ? 'yes' : 'no']),
            )}`,
        );
        return data.status === 'verified' ? 0 : 2;
      },
    },
    mailbox: {
      add: async ([email]) => {
        const quota = values.quota === undefined ? undefined : parseBytes(values.quota);
        if (values.quota !== undefined && quota === undefined)
          throw new UsageError(`--quota ${values.quota}: expected bytes, or a size such as 500M or 5G`);
        const password = await newPassword();
        const { data } = await apiCall<{
          mailbox: Mailbox;
          credential: { password: string | null; server: string; imap_port: number; smtp_port: number };
        }>(config, 'POST', '/api/v1/mailboxes', {
          email: need(email, 'an EMAIL'),
          password,
          quota_bytes: quota,
          display_name: values.name,
        });
        print(data, () => {
          const { mailbox, credential } = data;
          const lines = [
            `added ${mailbox.email} (${mailbox.id})`,
            `IMAP ${credential.server}:${credential.imap_port}, SMTP ${credential.server}:${credential.smtp_port}, user ${mailbox.email}`,
          ];
          if (credential.password) lines.push(`password: ${credential.password}  (shown once)`);
          return `${lines.join('\n')}\n`;
        });
        return 0;
      },
      list: async () => {
        const domain = values.domain?.toLowerCase();
        const mailboxes = (await apiList<Mailbox>(config, '/api/v1/mailboxes')).filter(
          (m) => !domain || m.email.endsWith(`@${domain}`),
        );
        print(mailboxes, () =>
          table(
            ['EMAIL', 'STATUS', 'USED', 'QUOTA', 'NAME', 'ID'],
            mailboxes.map((m) => [
              m.email,
              m.status,
              bytes(m.used_bytes),
              m.quota_bytes ? bytes(m.quota_bytes) : 'unlimited',
              m.display_name ?? '-',
              m.id,
            ]),
          ),
        );
        return 0;
      },
      passwd: async ([email]) => {
        const mailbox = await mailboxByEmail(need(email, 'an EMAIL'));
        const given = await newPassword();
        const password = given ?? randomBytes(18).toString('base64url');
        const { data } = await apiCall<unknown>(config, 'PUT', `/api/v1/mailboxes/${mailbox.id}/password`, {
          password,
        });
        print(
          given ? data : { ...(data as object), password },
          () => `password of ${mailbox.email} changed${given ? '' : `\npassword: ${password}  (shown once)`}\n`,
        );
        return 0;
      },
      suspend: mailboxState('suspend'),
      resume: mailboxState('resume'),
    },
    key: {
      create: async ([name]) => {
        if (values.role !== undefined && values.permissions !== undefined)
          throw new UsageError('give --role or --permissions, not both');
        const permissions = values.permissions
          ?.split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        const { data } = await apiCall<Key>(config, 'POST', '/api/v1/api-keys', {
          name: need(name, 'a key NAME'),
          role: values.role,
          permissions,
        });
        print(
          data,
          () =>
            `created ${data.id} (${data.role ?? data.permissions.join(',')})\nsecret: ${data.secret}  (shown once)\n`,
        );
        return 0;
      },
      list: async () => {
        const keys = await apiList<Key>(config, '/api/v1/api-keys');
        print(keys, () =>
          table(
            ['ID', 'NAME', 'TYPE', 'ACCESS', 'STATUS', 'LAST USED'],
            keys.map((k) => [k.id, k.name, k.type, k.role ?? k.permissions.join(','), k.status, when(k.last_used_at)]),
          ),
        );
        return 0;
      },
      revoke: async ([id]) => {
        const { data } = await apiCall<Key>(
          config,
          'DELETE',
          `/api/v1/api-keys/${encodeURIComponent(need(id, 'a KEY_ID'))}`,
        );
        print(data, () => `${data.id} (${data.name}) is ${data.status}\n`);
        return 0;
      },
    },
    admin: {
      passwd: async () => {
        const given = await newPassword();
        const password = given ?? randomBytes(18).toString('base64url');
        const { data } = await apiCall<{ updated_at: string }>(config, 'PUT', '/api/v1/admin/password', { password });
        print(
          given ? data : { ...data, password },
          () => `admin password set: log in at /admin${given ? '' : `\npassword: ${password}  (shown once)`}\n`,
        );
        return 0;
      },
    },
    queue: {
      list: async () => {
        const query = new URLSearchParams();
        if (values.status) query.set('status', values.status);
        if (values.domain) query.set('domain', values.domain);
        const jobs = await apiList<Job>(config, `/api/v1/queue/messages${query.size ? `?${query}` : ''}`);
        const rows = jobs.map((j) => {
          const waiting = j.recipients.filter((r) => r.status === 'queued' || r.status === 'deferred');
          const last = j.recipients.find((r) => r.response)?.response ?? '-';
          return [
            j.id,
            j.status,
            j.from || '<>',
            `${j.domain} (${waiting.length}/${j.recipients.length} waiting)`,
            String(j.attempts),
            when(j.next_attempt_at),
            last,
          ];
        });
        print(jobs, () => table(['ID', 'STATUS', 'FROM', 'TO DOMAIN', 'TRIES', 'NEXT TRY', 'LAST REPLY'], rows));
        return 0;
      },
    },
  };

  try {
    const [sub, ...rest] = args;
    const handler = sub ? commands[command]?.[sub] : undefined;
    if (!handler)
      throw new UsageError(
        `${command} ${sub ?? ''}: expected one of ${Object.keys(commands[command] ?? {})
          .map((s) => `${command} ${s}`)
          .join(', ')}`.replace(' :', ':'),
      );
    if (rest.length > 1) throw new UsageError(`unexpected ${rest.slice(1).join(' ')}`);
    return await handler(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`wrenmail: ${err.message}\n\n${ADMIN_USAGE}\n`);
      return 64; // EX_USAGE
    }
    if (err instanceof ApiCallError) {
      process.stderr.write(`wrenmail: ${err.message} (${err.code})\n`);
      return err.status === 401 || err.status === 403 ? 77 : 1; // EX_NOPERM for a refused key
    }
    if (err instanceof ApiUnreachableError) {
      process.stderr.write(`wrenmail: ${err.message}\n`);
      return 69; // EX_UNAVAILABLE
    }
    throw err;
  }
}
