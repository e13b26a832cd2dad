// The server's start and stop stages on their own: the listener set (binding every configured
// address, ports by name, closing with a deadline) and the shutdown order (listeners finish their
// work, then background services, which may still write, then the store), with real HTTP servers and
// a real store.
import { createServer } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import { httpService, ListenerSet } from '../../src/listeners.ts';
import { shutdown } from '../../src/startup/shutdown.ts';
import { Store, Tx } from '../../src/store/index.ts';
import { tempDir } from '../helpers/tmp.ts';

const logger = pino({ level: 'silent' });

/** An HTTP service whose requests are answered after `delayMs` (never, for Infinity). */
function slowService(delayMs: number, onAnswered = () => {}) {
  const server = createServer((_req, res) => {
    if (Number.isFinite(delayMs)) setTimeout(() => res.end('done', onAnswered), delayMs);
  });
  return { server, service: httpService(server) };
}

test('listener set: one service per configured address, ports by name, an empty list binds nothing', async () => {
  const listeners = new ListenerSet(logger, 0);
  const made: ReturnType<typeof slowService>[] = [];
  const make = () => {
    const s = slowService(0);
    made.push(s);
    return s.service;
  };
  await listeners.start('http', 'http.listen', ['127.0.0.1:0', '[::1]:0'], make);
  await listeners.start('https', 'http.tls_listen', [], make);
  assert.equal(
    listeners.bound.map((l) => [l.name, l.host, l.setting]),
    [
      ['http', '127.0.0.1', 'http.listen'],
      ['http', '::1', 'http.listen'],
    ],
  );
  assert.is(made.length, 2);
  assert.is(listeners.port('http'), listeners.bound[0]!.port);
  assert.ok(listeners.port('http')! > 0);
  assert.is(listeners.port('https'), undefined, 'a listener that is off has no port');
  assert.is((await fetch(`http://[::1]:${listeners.bound[1]!.port}/`)).status, 200);
  await listeners.close();
  assert.ok(made.every((s) => !s.server.listening));
});

test('listener set: close waits for a request in flight, but not past its deadline', async () => {
  const finishing = new ListenerSet(logger, 0);
  await finishing.start('http', 'http.listen', ['127.0.0.1:0'], () => slowService(150).service);
  const reply = fetch(`http://127.0.0.1:${finishing.port('http')}/`).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 30));
  await finishing.close(5000);
  assert.is(await reply, 'done', 'the request in flight was answered before close resolved');

  const stuck = new ListenerSet(logger, 0);
  await stuck.start('http', 'http.listen', ['127.0.0.1:0'], () => slowService(Infinity).service);
  const controller = new AbortController();
  void fetch(`http://127.0.0.1:${stuck.port('http')}/`, { signal: controller.signal }).catch(() => undefined);
  await new Promise((r) => setTimeout(r, 30));
  const started = Date.now();
  await stuck.close(200);
  const took = Date.now() - started;
  assert.ok(took >= 150 && took < 2000, `close gave up after its deadline (${took} ms)`);
  controller.abort();
});

test('shutdown: listeners finish first, background services stop in order while the store still takes writes, then the store closes', async () => {
  const dir = tempDir();
  const store = await Store.open(dir.path);
  try {
    const listeners = new ListenerSet(logger, 0);
    const order: string[] = [];
    await listeners.start(
      'http',
      'http.listen',
      ['127.0.0.1:0'],
      () => slowService(100, () => order.push('answered')).service,
    );
    const reply = fetch(`http://127.0.0.1:${listeners.port('http')}/`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 30));
    const write = (what: string) => async () => {
      const tx = new Tx();
      tx.put(`test/${what}`, 1);
      await store.kv.commit(tx); // throws once the store is closed
      order.push(what);
    };
    await shutdown({ listeners, timeoutMs: 5000, background: [write('queue'), write('webhooks')], store });
    assert.is(await reply, 'done');
    assert.equal(order, ['answered', 'queue', 'webhooks']);
    let closed = false;
    await write('late')().catch(() => (closed = true));
    assert.ok(closed, 'the store is closed last');
  } finally {
    dir.remove();
  }
});

test.run();
