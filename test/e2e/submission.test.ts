// The submission listeners against real clients: Python smtplib and swaks (apt: swaks), plus
// nodemailer on 465. Refusals: AUTH before STARTTLS, a wrong password, a foreign sender (envelope
// and header), no AUTH at all, the sending limit.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import { LoginService } from '../../src/security/login.ts';
import { createSubmissionServer, type SubmissionServer } from '../../src/smtp/submission.ts';
import { Store, Tx } from '../../src/store/index.ts';
import { sendingAccount } from '../helpers/outbound.ts';
import { messagesIn, testCertificate } from '../helpers/smtp.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = '127.0.0.1';
const PASSWORD = 's3cret pass';
let dir: ReturnType<typeof tempDir>;
let store: Store;
const servers: SubmissionServer[] = [];
let port587: number;
let port465: number;
let limitedPort: number;

function run(cmd: string, args: string[], input?: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input ?? '');
  });
}

const swaks = (port: number, args: string[]) =>
  run('swaks', ['--server', HOST, '--port', String(port), '--helo', 'client.test', '--timeout', '10', ...args]);

async function queued(): Promise<number> {
  return (await store.queue.list({ limit: 1000 })).jobs.length;
}

test.before(async () => {
  dir = tempDir('wren-sub-');
  store = await Store.open(dir.path);
  const alice = await sendingAccount(store, 'alice@a.test', PASSWORD);
  await sendingAccount(store, 'limited@a.test', PASSWORD);
  const tx = new Tx();
  store.addresses.put(tx, 'team@a.test', { kind: 'alias', targets: ['alice@a.test'], teamId: alice.teamId });
  store.addresses.put(tx, 'other@a.test', { kind: 'alias', targets: ['limited@a.test'], teamId: alice.teamId });
  await store.kv.commit(tx);
  const tls = await testCertificate();
  const login = new LoginService(store);
  const make = async (implicitTls: boolean, limits?: { perHour: number; perDay: number }) => {
    const server = createSubmissionServer({
      store,
      login,
      queue: store.queue,
      tls,
      hostname: 'mail.a.test',
      implicitTls,
      limits,
    });
    servers.push(server);
    return (await server.listen(0, HOST)).port;
  };
  port587 = await make(false);
  port465 = await make(true);
  limitedPort = await make(false, { perHour: 3, perDay: 10 });
});

test.after(async () => {
  for (const s of servers) await s.close();
  await store.close();
  dir.remove();
});

const PYTHON = `
import json, smtplib, ssl, sys, base64
host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
out = {}
s = smtplib.SMTP(host, port, timeout=10)
s.ehlo('client.test')
out['starttls_offered'] = s.has_extn('starttls')
out['auth_offered_before_tls'] = s.has_extn('auth')
try:
    s.login(user, password)
    out['login_before_tls'] = 'accepted'
except smtplib.SMTPNotSupportedError:
    out['login_before_tls'] = 'not supported'
token = base64.b64encode(('\\0%s\\0%s' % (user, password)).encode()).decode()
out['raw_auth_before_tls'] = s.docmd('AUTH', 'PLAIN ' + token)[0]
code, msg = s.docmd('MAIL', 'FROM:<%s>' % user)
out['mail_before_auth'] = '%d %s' % (code, msg.decode())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.rset()
s.starttls(context=ctx)
s.ehlo('client.test')
out['auth_offered_after_tls'] = s.esmtp_features.get('auth', '')
try:
    s.login(user, 'wrong password')
    out['wrong_password'] = 'accepted'
except smtplib.SMTPAuthenticationError as e:
    out['wrong_password'] = '%d %s' % (e.smtp_code, e.smtp_error.decode())
s.login(user, password)
try:
    s.sendmail('mallory@a.test', ['bob@b.test'], 'From: mallory@a.test\\r\\nSubject: x\\r\\n\\r\\nx\\r\\n')
    out['foreign_sender'] = 'accepted'
except smtplib.SMTPSenderRefused as e:
    out['foreign_sender'] = '%d %s' % (e.smtp_code, e.smtp_error.decode())
try:
    s.sendmail(user, ['bob@b.test'], 'From: ceo@b.test\\r\\nSubject: x\\r\\n\\r\\nx\\r\\n')
    out['foreign_from_header'] = 'accepted'
except smtplib.SMTPDataError as e:
    out['foreign_from_header'] = '%d %s' % (e.smtp_code, e.smtp_error.decode())
s.sendmail(user, ['bob@b.test'], 'From: Alice <%s>\\nSubject: from python\\n\\nbare LF lines\\n' % user)
out['sent'] = True
s.quit()
print(json.dumps(out))
`;

test('Python smtplib on 587: no AUTH before STARTTLS, wrong password, foreign senders refused, own address accepted', async () => {
  const before = await queued();
  const { code, out } = await run('python3', ['-c', PYTHON, HOST, String(port587), 'alice@a.test', PASSWORD]);
  assert.is(code, 0, out);
  const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.is(r.starttls_offered, true);
  assert.is(r.auth_offered_before_tls, false, 'AUTH hidden before TLS');
  assert.is(r.login_before_tls, 'not supported');
  assert.is(r.raw_auth_before_tls, 538, 'AUTH sent anyway before TLS: 538 encryption required');
  assert.match(r.mail_before_auth as string, /^530 5\.7\.0/);
  assert.match(r.auth_offered_after_tls as string, /PLAIN/);
  assert.match(r.auth_offered_after_tls as string, /LOGIN/);
  assert.match(r.wrong_password as string, /^535 5\.7\.8/);
  assert.match(r.foreign_sender as string, /^553 5\.7\.1/);
  assert.match(r.foreign_from_header as string, /^553 5\.7\.1/);
  assert.is(r.sent, true);
  assert.is(await queued(), before + 1, 'only the legitimate message was queued');
  const [job] = (await store.queue.list({ limit: 1000 })).jobs.slice(-1);
  const raw = await store.blobs.read(job!.blob, job!.size);
  assert.ok(raw.includes('bare LF lines\r\n'), 'line ends made canonical');
  assert.ok(/^Message-ID: <[^>]+@mail\.a\.test>\r\n/m.test(raw.toString()), 'a Message-ID was added');
});

test('swaks: AUTH without STARTTLS is refused on 587', async () => {
  const { code, out } = await swaks(port587, [
    '--from',
    'alice@a.test',
    '--to',
    'bob@b.test',
    '--auth',
    'PLAIN',
    '--auth-user',
    'alice@a.test',
    '--auth-password',
    PASSWORD,
  ]);
  assert.is.not(code, 0, out);
  assert.match(out, /did not advertise authentication|not supported|5\d\d/i);
});

test('swaks: wrong password → 535 5.7.8; right one over STARTTLS → 250', async () => {
  const bad = await swaks(port587, [
    '--tls',
    '--from',
    'alice@a.test',
    '--to',
    'bob@b.test',
    '--auth',
    'LOGIN',
    '--auth-user',
    'alice@a.test',
    '--auth-password',
    'nope',
  ]);
  assert.is.not(bad.code, 0);
  assert.match(bad.out, /535 5\.7\.8/);
  const good = await swaks(port587, [
    '--tls',
    '--from',
    'alice@a.test',
    '--to',
    'bob@b.test',
    '--auth',
    'LOGIN',
    '--auth-user',
    'alice@a.test',
    '--auth-password',
    PASSWORD,
    '--header',
    'Subject: swaks ok',
  ]);
  assert.is(good.code, 0, good.out);
  assert.match(good.out, /250 2\.6\.0 Ok: queued as/);
  const sent = await messagesIn(store, 'alice@a.test', 'Sent');
  assert.ok(
    sent.some((m) => m.text.includes('Subject: swaks ok')),
    'Sent copy',
  );
});

test('swaks: a From that is not the account’s → 553 5.7.1; an alias of the account is fine', async () => {
  const auth = [
    '--tls',
    '--auth',
    'PLAIN',
    '--auth-user',
    'alice@a.test',
    '--auth-password',
    PASSWORD,
    '--to',
    'bob@b.test',
  ];
  const foreign = await swaks(port587, [...auth, '--from', 'other@a.test']);
  assert.is.not(foreign.code, 0);
  assert.match(foreign.out, /553 5\.7\.1/);
  const header = await swaks(port587, [...auth, '--from', 'alice@a.test', '--header', 'From: other@a.test']);
  assert.is.not(header.code, 0);
  assert.match(header.out, /553 5\.7\.1 From address <other@a\.test>/);
  const alias = await swaks(port587, [...auth, '--from', 'team@a.test', '--header', 'From: Team <team@a.test>']);
  assert.is(alias.code, 0, alias.out);
});

test('swaks: no AUTH at all → 530 5.7.0', async () => {
  const { code, out } = await swaks(port587, ['--tls', '--from', 'alice@a.test', '--to', 'bob@b.test']);
  assert.is.not(code, 0);
  assert.match(out, /530 5\.7\.0/);
});

test('swaks: the sending limit (3 per hour here) → 451 4.7.1 with the time to wait', async () => {
  const args = [
    '--tls',
    '--auth',
    'PLAIN',
    '--auth-user',
    'limited@a.test',
    '--auth-password',
    PASSWORD,
    '--from',
    'limited@a.test',
    '--to',
    'bob@b.test',
  ];
  for (let i = 0; i < 3; i++) assert.is((await swaks(limitedPort, args)).code, 0);
  const { code, out } = await swaks(limitedPort, args);
  assert.is.not(code, 0);
  assert.match(out, /451 4\.7\.1 Sending limit reached \(3 messages per hour\), try again in \d+ s/);
  const wait = Number(/try again in (\d+) s/.exec(out)![1]);
  assert.ok(wait > 3500 && wait <= 3600, `wait ${wait}`);
});

test('465: implicit TLS with nodemailer, AUTH PLAIN; the message is queued', async () => {
  const before = await queued();
  const transport = nodemailer.createTransport({
    host: HOST,
    port: port465,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'alice@a.test', pass: PASSWORD },
    authMethod: 'PLAIN',
  });
  const info = await transport.sendMail({
    from: 'alice@a.test',
    to: ['x@b.test', 'y@c.test'],
    subject: 'implicit',
    text: 'x',
  });
  assert.match(info.response, /^250 /);
  assert.is(await queued(), before + 2, 'one job per destination domain');
});

test.run();
