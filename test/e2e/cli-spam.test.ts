// `wrenmail spam train` and `spam check` against a running server (the CLI as a real process): the model's
// totals move, the Bayes verdict the API reports follows the training, and a check names its rules.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { cliEnv, startInstance, type Instance } from '../helpers/instance.ts';
import { runCli } from '../helpers/process.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

let server: Instance;
let dns: TestDnsServer;
let env: Record<string, string>;
const dir = tempDir('wrenmail-cli-spam-');

const SPAMMY = [
  'cheap replica watches',
  'casino bonus winner',
  'viagra pharmacy discount',
  'lottery prize claim now',
  'crypto investment guaranteed',
];
const HAMMY = [
  'quarterly planning meeting agenda',
  'code review for the parser change',
  'lunch on thursday with the team',
  'invoice for the consulting project',
  'minutes of the architecture review',
];
const spam = (i: number) =>
  makeMessage({
    from: 'Winner <promo@spam.example>',
    subject: `${SPAMMY[i % 5]} ${i}`,
    body: `${SPAMMY[i % 5]} ${SPAMMY[(i + 1) % 5]} click here unsubscribe\r\n`,
  });
const ham = (i: number) =>
  makeMessage({
    from: 'Colleague <dev@work.example>',
    subject: `${HAMMY[i % 5]} ${i}`,
    body: `${HAMMY[i % 5]} ${HAMMY[(i + 2) % 5]} see you there\r\n`,
  });

async function classify(raw: Buffer): Promise<number | null> {
  const response = await fetch(`${env.WRENMAIL_API_URL}/api/v1/spam/classify`, {
    method: 'POST',
    headers: { authorization: `Bearer ${env.WRENMAIL_API_KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: raw.toString('utf8') }),
  });
  assert.is(response.status, 200);
  return ((await response.json()) as { data: { bayes_probability: number | null } }).data.bayes_probability;
}

test.before(async () => {
  // spf-none.test authorizes no client: spam check --remote-ip is checked against it.
  dns = await startDnsServer({ 'spf-none.test': { TXT: ['v=spf1 -all'] } });
  server = await startInstance({
    dnsServers: dns.servers,
    overrides: { spam: { bayes_min_spam: 5, bayes_min_ham: 5 } },
  });
  env = cliEnv(server);
  // Spam as a Maildir and an mbox file, ham as a directory of files.
  mkdirSync(join(dir.path, 'junk', 'cur'), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(join(dir.path, 'junk', 'cur', `${i}.msg:2,S`), spam(i));
  writeFileSync(
    join(dir.path, 'more-spam.mbox'),
    [6, 7, 8, 9].map((i) => `From promo@spam.example Mon Jan  1 00:00:00 2024\n${spam(i).toString()}\n`).join(''),
  );
  mkdirSync(join(dir.path, 'ham'));
  for (let i = 0; i < 10; i++) writeFileSync(join(dir.path, 'ham', `${i}.eml`), ham(i));
});

test.after(async () => {
  await server?.stop();
  await dns?.close();
  dir.remove();
});

test('spam train sends every message to the running server and the model learns', async () => {
  const probe = spam(42);
  assert.is(await classify(probe), null, 'no verdict before any training');
  const run = await runCli(
    [
      'spam',
      'train',
      '--spam',
      join(dir.path, 'junk'),
      join(dir.path, 'more-spam.mbox'),
      '--ham',
      join(dir.path, 'ham'),
    ],
    env,
  );
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /done: 20 messages \(20 trained, 0 known already\)/);
  assert.match(run.stdout, /model: 10 spam, 10 ham messages trained/);
  const model = await server.server.store.spam.model('s');
  assert.equal({ ...model.totals }, { spam: 10, ham: 10 });
  assert.ok((await classify(probe))! > 0.9, 'a new spam message now scores as spam');
  assert.ok((await classify(ham(42)))! < 0.1, 'a new ham message scores as ham');
});

test('training the same messages again changes nothing', async () => {
  const run = await runCli(['spam', 'train', '--ham', join(dir.path, 'ham')], env);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /\(0 trained, 10 known already\)/);
  assert.equal({ ...(await server.server.store.spam.model('s')).totals }, { spam: 10, ham: 10 });
});

test('spam check: one message scored as the MX would, as received from a client when one is named; not trained', async () => {
  const file = join(dir.path, 'check.eml');
  writeFileSync(file, spam(77));
  const before = { ...(await server.server.store.spam.model('s')).totals };
  const alone = await runCli(['spam', 'check', file], env);
  assert.is(alone.code, 0, alone.stderr);
  assert.match(alone.stdout, /^junk: score \d+\.\d, Bayes (?:0\.9\d\d|1\.000)\n/);
  assert.match(alone.stdout, /^ +\d+\.\d {2}BAYES_\d+ /m);
  assert.not.match(alone.stdout, /SPF/);
  const received = await runCli(
    [
      'spam',
      'check',
      file,
      '--remote-ip',
      '11.22.33.44',
      '--helo',
      'mx.spf-none.test',
      '--mail-from',
      'a@spf-none.test',
    ],
    env,
  );
  assert.is(received.code, 0, received.stderr);
  assert.match(received.stdout, /^SPF fail \(spf-none\.test\); DKIM none; DMARC none \(spam\.example\), asks: none$/m);
  assert.match(received.stdout, /^ +\d+\.\d {2}SPF_FAIL /m);
  const json = await runCli(['spam', 'check', file, '--json'], env);
  assert.is(JSON.parse(json.stdout).verdict, 'junk');
  assert.equal({ ...(await server.server.store.spam.model('s')).totals }, before, 'checking trains nothing');
  const missing = await runCli(['spam', 'check'], env);
  assert.is(missing.code, 64);
  assert.match(missing.stderr, /spam check needs one FILE/);
});

test('no paths is a usage error', async () => {
  const run = await runCli(['spam', 'train'], env);
  assert.is(run.code, 64);
  assert.match(run.stderr, /needs --spam PATH or --ham PATH/);
});

test.run();
