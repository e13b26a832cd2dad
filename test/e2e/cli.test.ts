// The admin commands as an operator runs them: `node src/main.ts domain|mailbox|key|queue …` against
// a real `wrenmail serve` process, through its API with the bootstrap key. Human output, --json,
// the API's error messages and the exit codes.
import { createServer } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import nodemailer from 'nodemailer';
import { wrenmail, type CliResult } from '../helpers/cli.ts';
import { startServerProcess, type ServerProcess } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const dir = tempDir('wrenmail-cli-');
const env: Record<string, string> = {
  WRENMAIL_DATA_DIR: `${dir.path}/data`,
  WRENMAIL_HOSTNAME: 'mail.example.test',
  WRENMAIL_HTTP_LISTEN: '127.0.0.1:0',
  WRENMAIL_SMTP_MX_LISTEN: '',
  WRENMAIL_SMTP_SUBMISSION_LISTEN: '127.0.0.1:0',
  WRENMAIL_SMTP_SUBMISSIONS_LISTEN: '',
  WRENMAIL_IMAP_LISTEN: '',
  WRENMAIL_IMAP_TLS_LISTEN: '127.0.0.1:0',
  WRENMAIL_POP3_LISTEN: '',
  WRENMAIL_POP3_TLS_LISTEN: '',
  // nothing answers there: outbound mail stays queued, verification finds nothing
  WRENMAIL_DNS_SERVERS: '127.0.0.1:9',
  WRENMAIL_DNS_TIMEOUT_MS: '300',
};
let server: ServerProcess;
let cliEnv: Record<string, string>;

const run = (args: string[], stdin?: string, extra: Record<string, string> = {}): Promise<CliResult> =>
  wrenmail(args, { ...cliEnv, ...extra }, stdin);
const succeeds = async (args: string[], stdin?: string, extra?: Record<string, string>): Promise<string> => {
  const result = await run(args, stdin, extra);
  assert.is(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
};
const json = async (args: string[]): Promise<any> => JSON.parse(await succeeds([...args, '--json']));
const failsWith = async (args: string[], code: number, stderr: RegExp, extra?: Record<string, string>) => {
  const result = await run(args, undefined, extra);
  assert.is(result.code, code, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
  assert.match(result.stderr, stderr, args.join(' '));
};

/** Can this user log in on the submission port (STARTTLS, AUTH)? */
async function canLogin(user: string, pass: string): Promise<boolean> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.get('smtp-submission')!,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
  });
  try {
    return await transport.verify().then(
      () => true,
      () => false,
    );
  } finally {
    transport.close();
  }
}

test.before(async () => {
  server = await startServerProcess(env);
  cliEnv = { ...env, WRENMAIL_HTTP_LISTEN: `127.0.0.1:${server.ports.get('http')}` };
});
test.after(async () => {
  await server.stop();
  dir.remove();
});

test("domain add, list, dns, verify; the API's errors with exit 1", async () => {
  assert.match(
    await succeeds(['domain', 'add', 'Example.TEST']),
    /^added example\.test \(dom_[0-9a-z]{26}\); publish its records/,
  );
  await failsWith(
    ['domain', 'add', 'example.test'],
    1,
    /^wrenmail: example\.test is already hosted here \(conflict\)\n$/,
  );
  await failsWith(['domain', 'add', 'not a domain'], 1, /expected a domain name.*\(invalid_parameter\)/);

  const listed = await succeeds(['domain', 'list']);
  assert.match(listed, /^DOMAIN\s+STATUS\s+MAILBOXES\s+CREATED\s+ID\n/);
  assert.match(listed, /\nexample\.test\s+pending\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s+dom_/);
  const domains = await json(['domain', 'list']);
  assert.equal(
    domains.map((d: { domain: string }) => d.domain),
    ['example.test'],
  );

  const zone = await succeeds(['domain', 'dns', 'example.test']);
  assert.match(zone, /^example\.test\.\tIN\tMX\t10 mail\.example\.test\.$/m);
  assert.match(zone, /_domainkey\.example\.test\.\tIN\tTXT\t/);
  const records = await json(['domain', 'dns', 'example.test.']);
  assert.ok(
    records.some((r: { purpose: string; value: string }) => r.purpose === 'spf' && r.value === 'v=spf1 mx -all'),
  );
  await failsWith(
    ['domain', 'dns', 'unknown.test'],
    1,
    /^wrenmail: no domain unknown\.test on this server \(not_found\)/,
  );

  const verify = await run(['domain', 'verify', 'example.test']);
  assert.is(verify.code, 2, 'not verified while the records are missing');
  assert.match(verify.stdout, /^example\.test: failed\nRECORD\s+TYPE\s+NAME\s+STATUS\s+REQUIRED\n/);
  assert.match(verify.stdout, /\nmx\s+MX\s+example\.test\s+\w+\s+yes\n/);
});

test('mailbox add (password from stdin or generated), list, passwd, suspend, resume: the logins follow', async () => {
  const added = await succeeds(
    ['mailbox', 'add', 'ann@example.test', '--password-stdin', '--quota', '5M', '--name', 'Ann Example'],
    'correct horse battery\nignored\n',
  );
  assert.match(
    added,
    /^added ann@example\.test \(mbx_[0-9a-z]{26}\)\nIMAP mail\.example\.test:\d+, SMTP mail\.example\.test:\d+, user ann@example\.test\n$/,
  );
  assert.ok(await canLogin('ann@example.test', 'correct horse battery'));

  const generated = await json(['mailbox', 'add', 'bob@example.test']);
  assert.match(generated.credential.password, /^[A-Za-z0-9_-]{24}$/);
  assert.ok(await canLogin('bob@example.test', generated.credential.password));
  const human = await succeeds(['mailbox', 'add', 'cy@example.test']);
  const shown = /\npassword: (\S+) {2}\(shown once\)\n$/.exec(human);
  assert.ok(shown, human);
  assert.ok(await canLogin('cy@example.test', shown![1]!));

  await failsWith(['mailbox', 'add', 'ann@example.test'], 1, /ann@example\.test is taken \(conflict\)/);
  await failsWith(
    ['mailbox', 'add', 'x@elsewhere.test'],
    1,
    /elsewhere\.test is not a domain of this team \(validation_error\)/,
  );
  await failsWith(
    ['mailbox', 'add', 'x@example.test', '--password', 'short'],
    1,
    /^wrenmail: password: .*\(invalid_parameter\)/,
  );
  await failsWith(['mailbox', 'add', 'x@example.test', '--quota', 'lots'], 64, /--quota lots: expected bytes/);

  const list = await succeeds(['mailbox', 'list']);
  assert.match(list, /^EMAIL\s+STATUS\s+USED\s+QUOTA\s+NAME\s+ID\n/);
  assert.match(list, /\nann@example\.test\s+active\s+0 B\s+5\.0 MiB\s+Ann Example\s+mbx_/);
  assert.match(list, /\nbob@example\.test\s+active\s+0 B\s+unlimited\s+-\s+mbx_/);
  assert.equal((await json(['mailbox', 'list', '--domain', 'example.test'])).length, 3);
  assert.equal(await json(['mailbox', 'list', '--domain', 'other.test']), []);

  assert.match(
    await succeeds(['mailbox', 'passwd', 'ann@example.test', '--password-stdin'], 'a new password 123\n'),
    /^password of ann@example\.test changed\n$/,
  );
  assert.not.ok(await canLogin('ann@example.test', 'correct horse battery'));
  assert.ok(await canLogin('ann@example.test', 'a new password 123'));
  const reset = /password: (\S+)/.exec(await succeeds(['mailbox', 'passwd', 'bob@example.test']));
  assert.ok(await canLogin('bob@example.test', reset![1]!), 'a generated password is printed and works');
  await failsWith(
    ['mailbox', 'passwd', 'nobody@example.test', '--password', 'whatever123'],
    1,
    /no mailbox nobody@example\.test on this server \(not_found\)/,
  );

  assert.is(await succeeds(['mailbox', 'suspend', 'ann@example.test']), 'ann@example.test is suspended\n');
  assert.not.ok(await canLogin('ann@example.test', 'a new password 123'), 'no login while suspended');
  assert.match(await succeeds(['mailbox', 'list']), /\nann@example\.test\s+suspended/);
  assert.is((await json(['mailbox', 'resume', 'ann@example.test'])).status, 'active');
  assert.ok(await canLogin('ann@example.test', 'a new password 123'));
});

test('key create, list, revoke; a narrower key is refused (77) where it lacks the permission', async () => {
  const created = await succeeds(['key', 'create', 'ci', '--role', 'root:readonly']);
  const match = /^created (key_\S+) \(root:readonly\)\nsecret: (wm_root_[A-Za-z0-9]{32}) {2}\(shown once\)\n$/.exec(
    created,
  );
  assert.ok(match, created);
  const [, id, secret] = match!;
  const asCi = { WRENMAIL_API_KEY: secret! };
  assert.match(await succeeds(['domain', 'list'], undefined, asCi), /example\.test/);
  await failsWith(
    ['domain', 'add', 'other.test'],
    77,
    /lacks the domain\.create permission \(insufficient_permissions\)/,
    asCi,
  );

  const scoped = await json(['key', 'create', 'dns-bot', '--permissions', 'domain.read, domain.verify']);
  assert.equal(scoped.permissions, ['domain.read', 'domain.verify']);
  const list = await succeeds(['key', 'list']);
  assert.match(list, /^ID\s+NAME\s+TYPE\s+ACCESS\s+STATUS\s+LAST USED\n/);
  assert.match(list, new RegExp(`\\n${id}\\s+ci\\s+root\\s+root:readonly\\s+active\\s+\\d{4}-`), 'used a moment ago');
  assert.match(list, /\s+bootstrap\s+root\s+root:full\s+active/);
  assert.match(list, /\s+dns-bot\s+root\s+domain\.read,domain\.verify\s+active\s+-\n/);

  assert.match(await succeeds(['key', 'revoke', id!]), new RegExp(`^${id} \\(ci\\) is revoked\\n$`));
  await failsWith(['domain', 'list'], 77, /invalid, revoked or expired \(authentication_required\)/, asCi);
  await failsWith(['key', 'revoke', 'key_nope'], 1, /\(not_found\)/);
  await failsWith(['key', 'create', 'x'], 1, /root keys need a role or permissions \(missing_parameter\)/);
  await failsWith(
    ['key', 'create', 'x', '--role', 'root:full', '--permissions', 'a.read'],
    64,
    /--role or --permissions, not both/,
  );
});

test('queue list: a message waiting for its destination, with filters', async () => {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.get('smtp-submission')!,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'ann@example.test', pass: 'a new password 123' },
  });
  await transport
    .sendMail({ from: 'ann@example.test', to: 'friend@nowhere.test', subject: 'Waiting', text: 'x\n' })
    .finally(() => transport.close());
  const jobs = await (async () => {
    for (let i = 0; i < 100; i++) {
      const found = await json(['queue', 'list']);
      if (found[0]?.attempts > 0) return found;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('no attempt recorded');
  })();
  assert.equal(
    [jobs.length, jobs[0].status, jobs[0].domain, jobs[0].from],
    [1, 'queued', 'nowhere.test', 'ann@example.test'],
  );
  const human = await succeeds(['queue', 'list', '--status', 'queued']);
  assert.match(human, /^ID\s+STATUS\s+FROM\s+TO DOMAIN\s+TRIES\s+NEXT TRY\s+LAST REPLY\n/);
  assert.match(
    human,
    new RegExp(
      `\\n${jobs[0].id}\\s+queued\\s+ann@example\\.test\\s+nowhere\\.test \\(1/1 waiting\\)\\s+1\\s+\\d{4}-\\S+ \\S+ UTC\\s+451 `,
    ),
  );
  assert.is(await succeeds(['queue', 'list', '--status', 'done']), '(none)\n');
  assert.equal(await json(['queue', 'list', '--domain', 'elsewhere.test']), []);
  await failsWith(['queue', 'list', '--status', 'lost'], 1, /\(invalid_parameter\)/);
});

test('usage errors (64), an unreachable server (69), and serve keeps its own options', async () => {
  await Promise.all([
    failsWith(
      ['domain'],
      64,
      /^wrenmail: domain: expected one of domain add, domain list, domain dns, domain verify\n/,
    ),
    failsWith(['mailbox', 'rename', 'a@b.test'], 64, /expected one of mailbox add/),
    failsWith(['mailbox', 'add'], 64, /mailbox needs an EMAIL/),
    failsWith(['domain', 'add', 'a.test', 'b.test'], 64, /unexpected b\.test/),
    failsWith(['domain', 'list', '--jsn'], 64, /Unknown option '--jsn'/),
    failsWith(['serve', '--json'], 64, /unknown option --json/),
  ]);
  const closed = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  await failsWith(
    ['domain', 'list'],
    69,
    new RegExp(`cannot reach the API at http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED`),
    { WRENMAIL_HTTP_LISTEN: `127.0.0.1:${closed}` },
  );
});

test.run();
