// A queue runner in its own process, for the crash and restart tests. Environment:
// OUT_DIR (store), OUT_DNS (resolver server), OUT_PORT (remote SMTP port), OUT_ENQUEUE (messages to
// queue first, numbered from OUT_FIRST). Prints "queued N" after the enqueue batches are durable,
// "idle" once nothing is left in the queue; SIGTERM stops the runner cleanly and exits 0.
import { createResolver } from '../../src/dns/resolver.ts';
import { createQueueRunner } from '../../src/outbound/queue-runner.ts';
import { Store } from '../../src/store/index.ts';

const env = (name: string) => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};

const store = await Store.open(env('OUT_DIR'));
const runner = createQueueRunner({
  store,
  resolver: createResolver({ servers: [env('OUT_DNS')], timeoutMs: 500, tries: 1 }),
  hostname: 'mx.a.test',
  deliverLocal: async () => {
    throw new Error('no local delivery in this test');
  },
  smtpPort: Number(env('OUT_PORT')),
  retryScheduleMs: [200],
  mtaSts: false,
  connectTimeoutMs: 2000,
});

const count = Number(process.env.OUT_ENQUEUE ?? 0);
const first = Number(process.env.OUT_FIRST ?? 0);
if (count) {
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      store.queue.enqueue({
        teamId: 'team',
        from: 'alice@a.test',
        to: ['rcpt@sink.test'],
        raw: Buffer.from(
          `From: alice@a.test\r\nTo: rcpt@sink.test\r\nSubject: n${first + i}\r\nMessage-ID: <crash-${first + i}@a.test>\r\n\r\nbody ${first + i}\r\n`,
        ),
      }),
    ),
  );
  console.log(`queued ${count}`);
}
runner.start();

let idle = false;
const watch = setInterval(async () => {
  const empty = (await store.queue.nextDueAt()) === null;
  if (empty && !idle) console.log('idle');
  idle = empty;
}, 50);

process.once('SIGTERM', async () => {
  clearInterval(watch);
  await runner.stop();
  await store.close();
  console.log('stopped');
  process.exit(0);
});
