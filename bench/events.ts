// Events for apps, measured over loopback in one process: webhook throughput (1,000 events POSTed
// to a receiver, signed, each recorded durably) and end-to-end latency from the SMTP 250 of an
// inbound message to its SSE frame and to its webhook POST (median, p99).
// Run: node bench/events.ts [messages for the latency run, default 200]
import { PRESETS } from '../src/security/permissions.ts';
import { startEventsFixture } from '../test/helpers/events-fixture.ts';
import { openSse, startReceiver } from '../test/helpers/events.ts';
import { plainMessage, SmtpClient, transaction } from '../test/helpers/smtp.ts';

const EVENTS = 1000;
const MESSAGES = Number(process.argv[2] ?? 200);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `median ${percentile(sorted, 50).toFixed(1)} ms, p99 ${percentile(sorted, 99).toFixed(1)} ms (n=${sorted.length})`;
};

const fx = await startEventsFixture({});
const receiver = await startReceiver();
try {
  // Throughput: the events are logged first (all durable), then a webhook subscribes and the
  // dispatcher's fan-out and sender work through them.
  const hook = await fx.api.call('POST', '/webhooks', {
    body: { url: receiver.url, event_types: ['domain.verified'] },
  });
  await Promise.all(
    Array.from({ length: EVENTS }, (_, i) =>
      fx.api.store.emit({ type: 'domain.verified', teamId: fx.api.teamId, data: { n: i } }),
    ),
  );
  const started = performance.now();
  await receiver.waitFor(EVENTS, 120_000);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `webhook throughput: ${EVENTS} events in ${seconds.toFixed(2)} s = ${(EVENTS / seconds).toFixed(0)} events/s`,
  );
  await fx.api.call('DELETE', `/webhooks/${hook.body.data.id}`);

  // Latency: one message at a time over one SMTP session; the clock starts at the 250.
  receiver.received.length = 0;
  await fx.api.call('POST', '/webhooks', { body: { url: receiver.url, event_types: ['message.received'] } });
  const key = await fx.api.makeKey(PRESETS['mailbox:full']!, fx.api.teamId, 'mailbox', fx.alice.id);
  const sse = await openSse(`${fx.api.base}/mailbox/events`, key);
  const { client } = await SmtpClient.connect(fx.mxPort);
  await client.command('EHLO bench.test');
  const toSse: number[] = [];
  const toHook: number[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const result = await transaction(
      client,
      'carol@sender.test',
      ['alice@wren.test'],
      plainMessage({ from: 'carol@sender.test', to: 'alice@wren.test', subject: `latency ${i}` }),
    );
    const accepted = Date.now();
    if (result.end?.code !== 250) throw new Error(`SMTP ${result.end?.code}`);
    const [frame] = (await sse.waitFor(i + 1)).slice(i);
    const [post] = (await receiver.waitFor(i + 1)).slice(i);
    toSse.push(frame!.at - accepted);
    toHook.push(post!.at - accepted);
  }
  client.close();
  sse.close();
  console.log(`SMTP 250 → SSE frame: ${summary(toSse)}`);
  console.log(`SMTP 250 → webhook POST: ${summary(toHook)}`);
} finally {
  await receiver.close();
  await fx.close();
}
