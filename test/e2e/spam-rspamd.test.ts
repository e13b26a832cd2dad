// rspamd for operators who run it: a real rspamd (Debian package, private config, loopback only)
// scans what the MX receives, with the envelope; its score joins ours in X-Spam-Status; what users
// and the API teach Wren is taught to rspamd too. An rspamd that is down or never answers leaves the
// mail flowing on Wren's own verdict within the configured wait, and the metrics say so.
import { test } from 'uvu';
import { waitFor } from '../helpers/outbound.ts';
import * as assert from 'uvu/assert';
import { createServer, type Socket } from 'node:net';
import nodemailer from 'nodemailer';
import { startInstance, type Instance, withImap } from '../helpers/instance.ts';
import { startRspamd, type Rspamd } from '../helpers/rspamd.ts';
import { makeMessage } from '../helpers/tmp.ts';
import { metrics } from '../../src/metrics/registry.ts';
import { readFileSync } from 'node:fs';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';

let rspamd: Rspamd;
let instance: Instance;

test.before(async () => {
  rspamd = await startRspamd({ minLearns: 1 });
  instance = await startInstance({
    overrides: {
      spam: {
        rspamd_url: rspamd.url,
        rspamd_controller_url: rspamd.controllerUrl,
        rspamd_password: rspamd.password,
        rspamd_timeout_ms: 5000,
      },
    },
  });
  await instance.addAccount('user@example.test', 'rspamd password');
});
test.after(async () => {
  await instance?.stop();
  await rspamd?.stop();
});

const scannerCount = async (request: string, outcome: string): Promise<number> => {
  const m = (await metrics.registry.getSingleMetric('wrenmail_spam_scanner_requests_total')!.get()).values;
  return m.find((v) => v.labels.request === request && v.labels.outcome === outcome)?.value ?? 0;
};

const LEARN_OUTCOMES = ['ok', 'error', 'timeout'] as const;
const learnOutcomes = async () =>
  (await Promise.all(LEARN_OUTCOMES.map(async (o) => `${o} ${await scannerCount('learn', o)}`))).join(', ');
const learnsAnswered = async () =>
  (await Promise.all(LEARN_OUTCOMES.map((o) => scannerCount('learn', o)))).reduce((a, b) => a + b, 0);

async function inboxMessages(inst: Instance, folder = 'INBOX'): Promise<string[]> {
  const store = inst.server.store;
  const account = (await store.accounts.byAddress('user@example.test'))!;
  const f = store.folders.byName(account.id, folder)!;
  return Promise.all((await store.messages.list(f.id)).map(async (m) => (await store.read(m)).toString()));
}

async function send(inst: Instance, subject: string): Promise<number> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: inst.port('smtp-mx'),
    secure: false,
    ignoreTLS: true,
    name: 'relay.sender.example',
  });
  const t = performance.now();
  await transport.sendMail({
    from: 'someone@sender.example',
    to: 'user@example.test',
    subject,
    text: 'A plain note about the meeting on Thursday.\n',
    envelope: { from: 'bounce@sender.example', to: 'user@example.test' },
  });
  transport.close();
  return performance.now() - t;
}

const controller = (path: string) =>
  fetch(`${rspamd.controllerUrl}${path}`, { headers: { Password: rspamd.password } }).then(
    (r) => r.json() as Promise<Record<string, unknown>>,
  );

test('each inbound message is scanned by rspamd with its envelope, and its score is part of ours', async () => {
  const checked = await scannerCount('check', 'ok');
  await send(instance, 'Meeting notes');
  const delivered = (await inboxMessages(instance)).find((r) => r.includes('Meeting notes'));
  assert.ok(delivered, 'delivered to INBOX');
  assert.match(delivered!, /X-Spam-Status: No, score=-?[\d.]+ required=5\.0 tests=[^\r\n]*RSPAMD_NO_ACTION/);
  assert.is(await scannerCount('check', 'ok'), checked + 1);
  // rspamd's history of the scan: the client address, and the rules that compare the SMTP envelope
  // with the header (envelope sender ≠ From, envelope recipients = To), which only fire when it got them.
  const history = (await fetch(`${rspamd.controllerUrl}/history`, { headers: { Password: rspamd.password } }).then(
    (r) => r.json(),
  )) as { ip: string; symbols: Record<string, unknown> }[];
  assert.is(history.length, 1, JSON.stringify(history).slice(0, 500));
  assert.is(history[0]!.ip, '127.0.0.1');
  for (const rule of ['FROM_NEQ_ENVFROM', 'TO_MATCH_ENVRCPT_ALL', 'RCPT_COUNT_ONE'])
    assert.ok(rule in history[0]!.symbols, `${rule}: ${Object.keys(history[0]!.symbols)}`);
});

test('training through the API and IMAP moves into and out of Junk is forwarded to rspamd', async () => {
  // The controller's count of learns processed: /stat's total_learns sums the statfiles a worker has loaded, and lagged
  // it (1 against 3 after three learns answered ok) on a loaded machine.
  const learned = async () => Number((await controller('/stat')).learned ?? 0);
  const before = await learned();
  const key = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
  const message = makeMessage({
    subject: 'Cheap replica watches online',
    body: 'Genuine replica watches at discount prices, order today and get free shipping worldwide on every order.\r\n'.repeat(
      3,
    ),
  }).toString();
  const r = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1/spam/train/spam`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ message }),
  });
  assert.is(r.status, 200, await r.clone().text());
  // rspamd's /stat counts a learn a moment after answering it, on a loaded machine (CI: 0 of 1 seen at once).
  await waitUntil(async () => (await learned()) === before + 1, 'rspamd learned the API-trained message');
  assert.is(await learned(), before + 1, 'learned once');

  // The meeting note delivered by the first test, moved to Junk and back.
  let learnsBefore = 0;
  await withImap(instance, 'user@example.test', 'rspamd password', async (client) => {
    await client.mailboxOpen('INBOX');
    // Each move is forwarded once: wait for its answer, whatever it was, then say which it was.
    const forwarded = async (after: number, what: string) => {
      await waitUntil(async () => (await learnsAnswered()) > after, `${what}: forwarded to rspamd`);
      assert.is(
        await scannerCount('learn', 'ok'),
        okBefore + (after - answeredBefore) + 1,
        `${what}: ${await learnOutcomes()}; rspamd log: ${rspamd.log().slice(-2000)}`,
      );
    };
    const okBefore = await scannerCount('learn', 'ok');
    const answeredBefore = await learnsAnswered();
    learnsBefore = await learned();
    await client.messageMove('1:*', 'Junk');
    await forwarded(answeredBefore, 'learnspam after the move into Junk');
    await client.mailboxOpen('Junk');
    await client.messageMove('1:*', 'INBOX');
    await forwarded(answeredBefore + 1, 'learnham after the move out of Junk');
  });
  // And rspamd counts both learns as processed. (Not its BAYES_HAM statfile's revision: /stat lists a sqlite
  // statfile only once a worker has loaded it, which 3 runs in 8 under the whole suite's load had not done 20 s on.)
  await waitUntil(async () => (await learned()) >= learnsBefore + 2, 'rspamd learned the moves');
});

test('an rspamd that is down or never answers delays mail at most the timeout, and Wren decides alone', async () => {
  // Down: a port nobody listens on. Silent: a server that accepts and never says a word.
  const sockets: Socket[] = [];
  const silent = createServer((s) => sockets.push(s));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
  for (const [name, url, outcome] of [
    ['down', `http://127.0.0.1:${closedPort}`, 'error'],
    ['silent', `http://127.0.0.1:${(silent.address() as { port: number }).port}`, 'timeout'],
  ] as const) {
    const other = await startInstance({ overrides: { spam: { rspamd_url: url, rspamd_timeout_ms: 700 } } });
    try {
      await other.addAccount('user@example.test', 'x');
      const before = await scannerCount('check', outcome);
      const ms = await send(other, `While rspamd is ${name}`);
      const delivered = (await inboxMessages(other)).find((r) => r.includes(`While rspamd is ${name}`));
      assert.ok(delivered, `delivered while rspamd is ${name}`);
      assert.match(delivered!, /X-Spam-Status: No, /);
      assert.not.match(delivered!, /RSPAMD_/);
      assert.is(await scannerCount('check', outcome), before + 1, `counted as ${outcome}`);
      assert.ok(ms < 700 + 3000, `${name}: answered in ${ms.toFixed(0)} ms`);
    } finally {
      await other.stop();
    }
  }
  for (const s of sockets) s.destroy();
  silent.close();
});

// 20 s: a forwarded learn answers within rspamd_timeout_ms (5 s here) after Wren's own training; one
// CI run (load unknown) saw no learn counted within 10 s, and the outcome asserted after the wait says why.
const waitUntil = (check: () => Promise<boolean>, what: string) => waitFor(check, 20_000, what);

test.run();
