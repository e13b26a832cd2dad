// docs/seeds/mailbux-management-api-guide.txt, example by example, against two whole servers: A
// hosts the guide's domains (example.com, mycompany.com) and B plays gmail.com (external@,
// customer@), a loopback DNS server pointing gmail.com's MX at B. The curl commands are taken from
// the document and run with curl; the Python runs with python3; only the host and the token change.
// What the examples promise is then checked with real SMTP and IMAP clients.
import { readFileSync } from 'node:fs';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapKeyPath, createRootKey } from '../../src/bootstrap.ts';
import { messagesIn, SmtpClient, transaction } from '../helpers/smtp.ts';
import { waitFor } from '../helpers/outbound.ts';
import { withImap } from '../helpers/instance.ts';
import { startMailPair, type MailPair } from '../helpers/pair.ts';
import { assertInDocument, curlCommands, runCurl, runPython, seedText } from '../helpers/seeds.ts';

const DOC = seedText('mailbux-management-api-guide.txt');
const CURL = curlCommands(DOC);
let pair: MailPair;
let origin: string;
let token: string;
let replace: [string, string][];

const curl = async (index: number) => runCurl(CURL[index]!, replace);
const python = async (code: string) => {
  const run = await runPython(
    code.replaceAll('https://mail.mailbux.com', origin).replaceAll('YOUR_ACCESS_TOKEN', token),
  );
  assert.is(run.code, 0, run.stderr);
  return run.stdout;
};
/** The guide's examples as this test re-lays them out: the document with whitespace restored. */
const example = (code: string) => {
  assertInDocument(DOC, code);
  return code;
};

/** The subjects in `user`'s INBOX on instance `which`, once there are at least `at_least` (read over IMAPS). */
async function subjects(which: 'a' | 'b', user: string, pass: string, at_least = 1): Promise<string[]> {
  return waitFor(
    () =>
      withImap(pair[which], user, pass, async (client) => {
        const lock = await client.getMailboxLock('INBOX');
        try {
          const out: string[] = [];
          for await (const m of client.fetch('1:*', { envelope: true })) out.push(m.envelope!.subject!);
          return out.length >= at_least ? out : null;
        } finally {
          lock.release();
        }
      }),
    15_000,
    `${at_least} messages for ${user}`,
  );
}
const imapOf = (which: 'a' | 'b') => ({ port: pair[which].port('imaps'), host: pair[which].host });
/** Mail from the internet to A's MX (a sender domain without DMARC, so B takes the forwarded copy). */
async function mail(to: string, subject: string) {
  const { client } = await SmtpClient.connect(pair.a.port('smtp-mx'), pair.a.host);
  try {
    await client.command('EHLO client.test');
    return await transaction(
      client,
      'partner@elsewhere.test',
      [to],
      `From: partner@elsewhere.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${Math.random()}@elsewhere.test>\r\n\r\nHello.\r\n`,
    );
  } finally {
    client.close();
  }
}

test.before(async () => {
  pair = await startMailPair({ clientListeners: true });
  pair.dns.zone['gmail.com'] = { MX: [{ exchange: 'mx.b.test', priority: 10 }] };
  await pair.b.addAccount('external@gmail.com', 'external password');
  await pair.b.addAccount('customer@gmail.com', 'customer password');
  origin = `http://${pair.a.host}:${pair.a.port('http')}`;
  token = readFileSync(bootstrapKeyPath(pair.a.config.data_dir), 'utf8').trim();
  replace = [
    ['https://mail.mailbux.com', origin],
    ['YOUR_TOKEN', token],
  ];
});
test.after(() => pair.stop());

test('the document has the 12 curl commands this file runs', () => {
  assert.is(CURL.length, 12);
});

test('§1 domains: list, add, the Python and Node.js examples, list again', async () => {
  const before = await curl(0);
  assert.is(before.status, 200);
  assert.equal(
    before.body.data.items.map((d: { name: string }) => d.name),
    ['a.test'],
    "the pair's own domain",
  );
  const added = await curl(1);
  assert.is(added.status, 200, added.text);
  assert.type(added.body.data, 'number');
  const out = await python(
    example(`import requests

BASE_URL = "https://mail.mailbux.com"
TOKEN = "YOUR_ACCESS_TOKEN"

headers = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json"
}

# Add a domain
response = requests.post(
    f"{BASE_URL}/api/principal",
    headers=headers,
    json={"name": "example.com", "type": "domain"}
)
print(response.json())`),
  );
  assert.match(out, /'error': 'fieldAlreadyExists'/, 'the domain is there already');
  // The Node.js example lost its template literals in the document (`fetch(, {`); they are restored here.
  assertInDocument(
    DOC,
    'const response = await fetch(, { method: "POST", headers: { "Authorization": , "Content-Type": "application/json" }, body: JSON.stringify({ name: "example.com", type: "domain" }) });',
  );
  const BASE_URL = origin;
  const TOKEN = token;
  const response = await fetch(`${BASE_URL}/api/principal`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: 'mycompany.io', type: 'domain' }),
  });
  assert.type(((await response.json()) as { data: unknown }).data, 'number');
  const listed = await runCurl(CURL[0]!, replace);
  assert.equal(listed.body.data.items.map((d: { name: string; type: string }) => [d.name, d.type]).sort(), [
    ['a.test', 'domain'],
    ['example.com', 'domain'],
    ['mycompany.io', 'domain'],
  ]);
  assert.is(listed.body.data.total, 3);
});

test('§2 accounts: create with a password (IMAP login works), the AI-agent script, details, PATCH password and description, list', async () => {
  const created = await curl(4);
  assert.type(created.body.data, 'number', created.text);
  assert.equal(await subjects('a', 'agent@example.com', 'SecurePassword123!', 0), []);
  const out = await python(
    example(`import requests
import secrets
import string

BASE_URL = "https://mail.mailbux.com"
TOKEN = "YOUR_ACCESS_TOKEN"

headers = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json"
}

# Generate a secure random password
password = "".join(secrets.choice(
    string.ascii_letters + string.digits + "!@#$"
) for _ in range(24))

# Create the mailbox
response = requests.post(
    f"{BASE_URL}/api/principal",
    headers=headers,
    json={
        "name": "ai-support@example.com",
        "type": "individual",
        "secrets": [password],
        "emails": ["ai-support@example.com"],
        "description": "AI customer support agent"
    }
)

if response.status_code == 200:
    print(f"Mailbox created: ai-support@example.com")
    print(f"SMTP/IMAP password: {password}")
else:
    print(f"Error: {response.json()}")`),
  );
  const password = /SMTP\/IMAP password: (\S+)/.exec(out)?.[1];
  assert.ok(password, out);
  assert.equal(await subjects('a', 'ai-support@example.com', password, 0), []);

  const details = await curl(5);
  assert.is(details.body.data.name, 'agent@example.com');
  assert.equal(details.body.data.emails, ['agent@example.com']);
  const patched = await curl(6);
  assert.equal(patched.body, { data: null }, patched.text);
  assert.is((await curl(5)).body.data.description, 'Updated AI agent');
  assert.equal(await subjects('a', 'agent@example.com', 'NewSecurePassword456!', 0), []);
  const old = new ImapFlow({
    ...imapOf('a'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'agent@example.com', pass: 'SecurePassword123!' },
    logger: false,
  });
  old.on('error', () => {});
  assert.ok(
    await old.connect().then(
      () => false,
      () => true,
    ),
    'the old password no longer logs in',
  );
  const people = await curl(3);
  assert.equal(people.body.data.items.map((p: { name: string }) => p.name).sort(), [
    'agent@example.com',
    'ai-support@example.com',
    'alice@a.test',
  ]);
});

test('§3 alias: sales@ delivers to agent@ (SMTP in, IMAP read); listed by types=list; DELETE removes it', async () => {
  const created = await curl(8);
  assert.type(created.body.data, 'number', created.text);
  assert.is((await mail('sales@example.com', 'for sales')).end?.code, 250);
  assert.ok((await subjects('a', 'agent@example.com', 'NewSecurePassword456!')).includes('for sales'));
});

test('§4 forwarder: mail to forward@example.com reaches external@gmail.com on the other server, sender rewritten (SRS)', async () => {
  const created = await curl(9);
  assert.type(created.body.data, 'number', created.text);
  const lists = await runCurl(
    `curl -X GET "https://mail.mailbux.com/api/principal?types=list" -H "Authorization: Bearer YOUR_TOKEN"`,
    replace,
  );
  assert.equal(lists.body.data.items.map((l: { name: string }) => l.name).sort(), [
    'forward@example.com',
    'sales@example.com',
  ]);
  assert.is((await mail('forward@example.com', 'forward me')).end?.code, 250);
  assert.ok((await subjects('b', 'external@gmail.com', 'external password')).includes('forward me'));
  const [received] = await messagesIn(pair.b.server.store, 'external@gmail.com');
  assert.match(
    received!.text,
    /smtp\.mailfrom="SRS0=[^"]*=elsewhere\.test=partner@example\.com"/,
    'the envelope sender is rewritten to the forwarding domain (SRS)',
  );

  // "# Delete an alias: DELETE /api/principal/sales@example.com"
  const removed = await runCurl(
    `curl -X DELETE "https://mail.mailbux.com/api/principal/sales@example.com" -H "Authorization: Bearer YOUR_TOKEN"`,
    replace,
  );
  assert.equal(removed.body, { data: null });
  assert.is((await mail('sales@example.com', 'too late')).rcpt[0]!.code, 550);
});

test("§5 DKIM with the guide's algorithm name and selector; /api/dns/{domain} lists MX, SPF, DKIM (that key) and DMARC", async () => {
  const dkim = await curl(10);
  assert.equal(dkim.body, { data: null }, dkim.text);
  const dns = await curl(11);
  assert.is(dns.status, 200, dns.text);
  const records: { type: string; name: string; content: string }[] = dns.body.data;
  const key = (await pair.a.server.store.domains.get('example.com'))!.dkim.find((k) => k.selector === 'mailbux')!;
  assert.is(key.algorithm, 'ed25519-sha256');
  assert.ok(
    records.some((r) => r.type === 'MX' && r.name === 'example.com.' && r.content === '10 mx.a.test.'),
    JSON.stringify(records),
  );
  assert.ok(records.some((r) => r.type === 'TXT' && r.name === 'example.com.' && r.content.startsWith('v=spf1')));
  assert.ok(
    records.some(
      (r) =>
        r.type === 'TXT' &&
        r.name === 'mailbux._domainkey.example.com.' &&
        r.content.includes('k=ed25519') &&
        r.content.endsWith(`p=${key.publicKey}`),
    ),
  );
  assert.ok(records.some((r) => r.type === 'TXT' && r.name === '_dmarc.example.com.'));
});

test('§6 the complete workflow script runs as printed; the alias delivers sales@ mail to info@', async () => {
  const out = await python(
    example(`import requests
import secrets, string

BASE = "https://mail.mailbux.com"
TOKEN = "YOUR_ACCESS_TOKEN"
DOMAIN = "mycompany.com"

h = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

def gen_pass():
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(20))

# Step 1: Add domain
print("Adding domain...")
r = requests.post(f"{BASE}/api/principal", headers=h,
                  json={"name": DOMAIN, "type": "domain"})
print(f" Domain: {r.status_code}")

# Step 2: Create DKIM
print("Creating DKIM...")
r = requests.post(f"{BASE}/api/dkim", headers=h,
                  json={"id": DOMAIN, "algorithm": "ed25519-sha256",
                        "domain": DOMAIN, "selector": "mailbux"})
print(f" DKIM: {r.status_code}")

# Step 3: Get DNS records to configure
print("Fetching DNS records...")
r = requests.get(f"{BASE}/api/dns/{DOMAIN}", headers=h)
dns = r.json()
print(f" Add these DNS records at your registrar:")
for record in dns.get("data", []):
    print(f" {record}")

# Step 4: Create email accounts
accounts = ["info", "support", "ai-agent"]
for name in accounts:
    email = f"{name}@{DOMAIN}"
    pwd = gen_pass()
    r = requests.post(f"{BASE}/api/principal", headers=h,
                      json={"name": email, "type": "individual",
                            "secrets": [pwd], "emails": [email]})
    print(f" {email} - {r.status_code} (pass: {pwd})")

# Step 5: Create alias
r = requests.post(f"{BASE}/api/principal", headers=h,
                  json={"name": f"sales@{DOMAIN}", "type": "list",
                        "members": [f"info@{DOMAIN}"]})
print(f" Alias sales@ -> info@: {r.status_code}")

print("Done! Configure DNS records, then your email is ready.")`),
  );
  assert.match(out, /^ Domain: 200$/m);
  assert.match(out, /^ DKIM: 200$/m);
  assert.match(out, /'name': 'mailbux\._domainkey\.mycompany\.com\.'/, 'the new DKIM key is among the records');
  assert.match(out, /'type': 'MX'/);
  for (const name of ['info', 'support', 'ai-agent'])
    assert.match(out, new RegExp(`^ ${name}@mycompany\\.com - 200 \\(pass: \\w{20}\\)$`, 'm'));
  assert.match(out, /^ Alias sales@ -> info@: 200$/m);
  const infoPassword = /info@mycompany\.com - 200 \(pass: (\w+)\)/.exec(out)![1]!;
  assert.is((await mail('sales@mycompany.com', 'sales lead')).end?.code, 250);
  assert.ok((await subjects('a', 'info@mycompany.com', infoPassword)).includes('sales lead'));
});

test('§7 the agent sends with the SMTP example (587, STARTTLS, login): delivered to customer@gmail.com, DKIM-signed', async () => {
  const created = await runCurl(CURL[4]!.replaceAll('agent@example.com', 'ai-agent@example.com'), replace);
  assert.type(created.body.data, 'number', created.text);
  const code = example(`import smtplib
from email.mime.text import MIMEText

msg = MIMEText("Hello from your AI agent!")
msg["Subject"] = "AI Agent Response"
msg["From"] = "ai-agent@example.com"
msg["To"] = "customer@gmail.com"

with smtplib.SMTP("mail.mailbux.com", 587) as server:
    server.starttls()
    server.login("ai-agent@example.com", "YOUR_PASSWORD")
    server.send_message(msg)
print("Email sent!")`);
  const run = await runPython(
    code
      .replace('"mail.mailbux.com", 587', `"${pair.a.host}", ${pair.a.port('smtp-submission')}`)
      .replace('YOUR_PASSWORD', 'SecurePassword123!'),
  );
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /Email sent!/);
  assert.ok((await subjects('b', 'customer@gmail.com', 'customer password')).includes('AI Agent Response'));
  const [received] = await messagesIn(pair.b.server.store, 'customer@gmail.com');
  assert.match(received!.text, /DKIM-Signature:[\s\S]*d=example\.com;[\s\S]*s=mailbux;/);
});

test('rate limits: 300 emails per hour per account (the 301st is refused 451 4.7.1), per account and not per tenant; 7,200 per day is the day budget', async () => {
  // ai-agent@example.com sent one message in §7; the guide's smtplib session goes on to the limit.
  const run = await runPython(`import smtplib
from email.mime.text import MIMEText
sent, refused = 1, None
with smtplib.SMTP("${pair.a.host}", ${pair.a.port('smtp-submission')}) as server:
    server.starttls()
    server.login("ai-agent@example.com", "SecurePassword123!")
    for n in range(300):
        msg = MIMEText("Hello from your AI agent!")
        msg["Subject"] = "AI Agent Response %d" % n
        msg["From"] = "ai-agent@example.com"
        msg["To"] = "ai-agent@example.com"
        try:
            server.send_message(msg)
            sent += 1
        except smtplib.SMTPException as e:
            refused = repr(e)
            break
print(sent)
print(refused)`);
  assert.is(run.code, 0, run.stderr);
  const [sent, refused] = run.stdout.trim().split('\n');
  assert.is(sent, '300');
  assert.match(refused!, /451.*4\.7\.1/);
  // "spread sending across multiple accounts": another account of the same tenant still sends
  const other = nodemailer.createTransport({
    host: pair.a.host,
    port: pair.a.port('smtp-submission'),
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'agent@example.com', pass: 'NewSecurePassword456!' },
  });
  try {
    assert.equal(
      (
        await other.sendMail({
          from: 'agent@example.com',
          to: 'agent@example.com',
          subject: 'another account',
          text: 'x\n',
        })
      ).rejected,
      [],
    );
  } finally {
    other.close();
  }
  // 7,200 a day: the day budget of the same counter (300 × 24 h, so the hour's limit meets it first);
  // its enforcement with small numbers: test/security/send-limits.test.ts
  assert.equal([pair.a.config.smtp.send_per_hour, pair.a.config.smtp.send_per_day], [300, 7200]);
});

/** A root key of a second team (another tenant of the same server). */
async function otherTenantKey(): Promise<string> {
  const store = pair.a.server.store;
  const team = await store.teams.create('other tenant');
  return createRootKey(store, team.id, 'other');
}

test('the error table, row by row (401, 403 wrong tenant, 404, 409, 429, 200); deleting an account, then the domain with everything in it', async () => {
  const refused = await runCurl(CURL[0]!, [
    ['https://mail.mailbux.com', origin],
    ['YOUR_TOKEN', 'wm_root_wrong'],
  ]);
  assert.is(refused.status, 401, '401 Invalid or expired token');
  // 409 Resource already exists: the guide's "add a domain" once more (Stalwart's tagged body kept)
  const again = await curl(1);
  assert.equal([again.status, again.body], [409, { error: 'fieldAlreadyExists', field: 'name', value: 'example.com' }]);
  // 403 Permission denied (wrong tenant): another tenant's token on this tenant's domain
  const other = await otherTenantKey();
  const foreign = await runCurl(CURL[11]!, [
    ['https://mail.mailbux.com', origin],
    ['YOUR_TOKEN', other],
  ]);
  assert.is(foreign.status, 403, foreign.text);
  const deleted = await curl(7);
  assert.equal([deleted.status, deleted.body], [200, { data: null }], '200 Success');
  // 404 Resource not found: the account just deleted, by the guide's GET and DELETE
  const gone = await curl(5);
  assert.equal([gone.status, gone.body], [404, { error: 'notFound', item: 'agent@example.com' }]);
  assert.is((await curl(7)).status, 404);
  assert.is((await mail('agent@example.com', 'gone')).rcpt[0]!.code, 550);
  const domain = await curl(2);
  assert.equal(domain.body, { data: null }, domain.text);
  const left = await runCurl(
    `curl -X GET "https://mail.mailbux.com/api/principal?types=domain,individual,list" -H "Authorization: Bearer YOUR_TOKEN"`,
    replace,
  );
  assert.ok(
    left.body.data.items.every((p: { name: string }) => !p.name.endsWith('example.com')),
    JSON.stringify(left.body),
  );
  assert.is((await mail('forward@example.com', 'gone')).rcpt[0]!.code, 550);
  // 429 Rate limited: the other tenant spends its own budget (600 management requests per 60 s)
  let limited: Response | undefined;
  for (let n = 0; n < 700 && !limited; n++) {
    const reply = await fetch(`${origin}/api/principal?types=domain`, {
      headers: { authorization: `Bearer ${other}` },
    });
    await reply.arrayBuffer();
    if (reply.status === 429) limited = reply;
    else assert.is(reply.status, 200);
  }
  assert.ok(limited, 'no 429 within 700 requests');
  assert.ok(Number(limited!.headers.get('retry-after')) > 0);
  assert.is((await curl(0)).status, 200, 'the budget is per token');
});

test.run();
