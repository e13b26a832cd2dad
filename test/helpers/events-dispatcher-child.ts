// The webhook dispatcher in its own process over a temp store, for the kill -9 test. Environment:
// EV_DIR (store), EV_RETRY_MS (the one retry wait). Prints "started" once running; SIGTERM stops it
// cleanly and exits 0.
import { createWebhookDispatcher } from '../../src/events/webhook-dispatcher.ts';
import { Store } from '../../src/store/index.ts';

const store = await Store.open(process.env.EV_DIR!);
const dispatcher = createWebhookDispatcher({
  store,
  allowHttp: true,
  allowPrivateAddresses: true,
  retryScheduleMs: [Number(process.env.EV_RETRY_MS)],
  timeoutMs: 2000,
  pollIntervalMs: 200,
});
dispatcher.start();
const alive = setInterval(() => undefined, 1000);
console.log('started');
process.once('SIGTERM', async () => {
  clearInterval(alive);
  await dispatcher.stop();
  await store.close();
  process.exit(0);
});
