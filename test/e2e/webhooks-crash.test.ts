// Retries are durable: the dispatcher runs in a child process, the first attempt fails, the process
// is killed with SIGKILL while the retry is pending, and a new process makes the retry on time.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { newWebhookSecret } from '../../src/events/signature.ts';
import { Store } from '../../src/store/index.ts';
import { newId } from '../../src/store/teams.ts';
import { Webhooks } from '../../src/store/webhooks.ts';
import { startReceiver, verifyStandardWebhook } from '../helpers/events.ts';
import { repoRoot } from '../helpers/process.ts';
import { tempDir } from '../helpers/tmp.ts';

const RETRY_MS = 1500;

function startChild(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(repoRoot, 'test/helpers/events-dispatcher-child.ts')], {
    env: { ...process.env, EV_DIR: dir, EV_RETRY_MS: String(RETRY_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('started') && resolve(child));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
}
const exited = (child: ChildProcess) =>
  new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)));

test('kill -9 while a retry is pending: the retry happens after restart', async () => {
  const dir = tempDir('wrenmail-webhook-crash-');
  const receiver = await startReceiver();
  try {
    const store = await Store.open(dir.path);
    const team = await store.teams.create('t');
    const webhooks = new Webhooks(store.kv, store.notifier);
    const now = Date.now();
    const secret = newWebhookSecret();
    await webhooks.save({
      id: newId(),
      teamId: team.id,
      url: receiver.url,
      description: '',
      eventTypes: ['domain.verified'],
      accountIds: [],
      secret,
      enabled: true,
      failing: false,
      failingSince: null,
      createdAt: now - 1000,
      updatedAt: now,
    });
    const event = await store.emit({ type: 'domain.verified', teamId: team.id, data: { domain: 'a.test' } });
    await store.close();

    receiver.script = [500];
    let child = await startChild(dir.path);
    const [first] = await receiver.waitFor(1);
    assert.is(first!.headers['x-wrenmail-delivery-attempt'], '1');
    await new Promise((r) => setTimeout(r, 200)); // the failed attempt and its retry time are on disk
    child.kill('SIGKILL');
    await exited(child);

    child = await startChild(dir.path);
    const [, second] = await receiver.waitFor(2, 10_000);
    assert.is(second!.headers['x-wrenmail-delivery-attempt'], '2');
    assert.is(second!.headers['x-wrenmail-event-id'], event.id);
    assert.ok(second!.at - first!.at >= RETRY_MS - 50, `retry waited its schedule (${second!.at - first!.at} ms)`);
    assert.ok(verifyStandardWebhook(secret, second!.headers, second!.body));
    child.kill('SIGTERM');
    await exited(child);

    const reopened = await Store.open(dir.path);
    const [hook] = await new Webhooks(reopened.kv, reopened.notifier).listForTeam(team.id);
    const [delivery] = await new Webhooks(reopened.kv, reopened.notifier).deliveriesOf(hook!.id, { limit: 10 });
    assert.is(delivery!.status, 'succeeded');
    assert.equal(
      delivery!.attempts.map((a) => a.statusCode),
      [500, 200],
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.is(receiver.received.length, 2, 'no extra delivery');
    await reopened.close();
  } finally {
    await receiver.close();
    dir.remove();
  }
});

test.run();
