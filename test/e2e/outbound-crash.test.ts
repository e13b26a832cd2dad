// The queue survives kill -9: 200 messages queued while the destination refuses connections, the
// runner killed, the destination brought up, the runner restarted — all 200 arrive exactly once.
// Then a clean restart (SIGTERM) in the middle of deliveries: nothing is lost or delivered twice.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePortOn } from '../helpers/ports.ts';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.ts';
import { startSink, waitFor, type Sink } from '../helpers/outbound.ts';
import { tempDir } from '../helpers/tmp.ts';

const CHILD = new URL('../helpers/outbound-child.ts', import.meta.url).pathname;
const SINK_IP = '127.0.0.1';

let dns: TestDnsServer;
let dir: ReturnType<typeof tempDir>;
let port: number;
let sink: Sink | undefined;
const children = new Set<ChildProcess>();

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<number | null>;
}

function runChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, [CHILD], {
    env: { ...process.env, OUT_DIR: dir.path, OUT_DNS: dns.servers[0]!, OUT_PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  const lines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { process: child, lines, exited };
}

/** A port nothing listens on yet (the destination is "down" until the sink binds it). */
const freePort = (): Promise<number> => freePortOn(SINK_IP);

const ids = (s: Sink) => s.messages.map((m) => /Message-ID: <([^>]+)>/.exec(m.raw.toString())![1]!);

test.before(async () => {
  dns = await startDnsServer({
    'sink.test': { MX: [{ exchange: 'mx.sink.test', priority: 10 }] },
    'mx.sink.test': { A: [SINK_IP] },
  });
  dir = tempDir('wren-out-crash-');
  port = await freePort();
});

test.after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await sink?.close();
  await dns.close();
  dir.remove();
});

test('kill -9 with 200 queued messages: after restart all 200 are delivered exactly once', async () => {
  const first = runChild({ OUT_ENQUEUE: '200', OUT_FIRST: '0' });
  await waitFor(() => first.lines.includes('queued 200'), 20_000, 'enqueue');
  await new Promise((r) => setTimeout(r, 600)); // a few refused attempts get recorded
  first.process.kill('SIGKILL');
  await first.exited;

  sink = await startSink({ host: SINK_IP, port });
  const second = runChild({});
  await waitFor(() => second.lines.includes('idle') && sink!.messages.length >= 200, 30_000, '200 deliveries');
  await new Promise((r) => setTimeout(r, 500));
  const seen = ids(sink);
  assert.is(seen.length, 200, 'no duplicates');
  assert.is(new Set(seen).size, 200, 'every message');
  second.process.kill('SIGTERM');
  assert.is(await second.exited, 0);
});

test('a clean restart in the middle of deliveries: every message exactly once', async () => {
  await sink!.close();
  sink = await startSink({ host: SINK_IP, port, delayMs: 150 }); // slow answers keep attempts in flight
  const first = runChild({ OUT_ENQUEUE: '100', OUT_FIRST: '1000' });
  await waitFor(() => sink!.messages.length >= 8, 20_000, 'some deliveries');
  first.process.kill('SIGTERM');
  assert.is(await first.exited, 0, 'graceful stop');
  const atStop = sink.messages.length;
  assert.ok(atStop < 100, `still work left at the restart (${atStop})`);
  const second = runChild({});
  await waitFor(() => second.lines.includes('idle') && sink!.messages.length >= 100, 30_000, '100 deliveries');
  await new Promise((r) => setTimeout(r, 500));
  const seen = ids(sink);
  assert.is(seen.length, 100, `exactly 100 deliveries, got ${seen.length}`);
  assert.is(new Set(seen).size, 100);
  second.process.kill('SIGTERM');
  assert.is(await second.exited, 0);
});

test.run();
