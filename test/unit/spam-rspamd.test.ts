// The rspamd client's learn retry, against a controller that fails on its side first: rspamd's SQLite
// statfiles answer a learn with "cannot commit checkpoint: database is locked" while a scanner holds them
// (seen in e2e/spam-rspamd's log on a loaded machine). A real rspamd cannot be made to lock on cue; a local
// HTTP server answering as its controller does can.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RspamdClient } from '../../src/spam/rspamd.ts';

/** A controller that answers each learn with the next of `answers` (status, body), then 200 success. */
async function controller(answers: [number, string][]): Promise<{ server: Server; url: string; learns: string[] }> {
  const learns: string[] = [];
  const server = createServer((req, res) => {
    learns.push(req.url ?? '');
    req.resume().on('end', () => {
      const [status, body] = answers.shift() ?? [200, '{"success":true}'];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, learns };
}

const MESSAGE = Buffer.from('From: a@b.example\r\nSubject: x\r\n\r\nHello.\r\n');
const LOCKED: [number, string] = [500, '{"error":"cannot commit checkpoint: database is locked"}'];

test('a learn rspamd failed on its side (5xx) is tried again, twice at most', async () => {
  const once = await controller([LOCKED]);
  try {
    const client = new RspamdClient({ url: once.url, controllerUrl: once.url, timeoutMs: 2000 });
    assert.ok(await client.learn(MESSAGE, 'spam'), 'learned on the second try');
    assert.equal(once.learns, ['/learnspam', '/learnspam']);
  } finally {
    once.server.close();
  }
  const always = await controller([LOCKED, LOCKED, LOCKED, LOCKED]);
  try {
    const client = new RspamdClient({ url: always.url, controllerUrl: always.url, timeoutMs: 2000 });
    assert.not.ok(await client.learn(MESSAGE, 'ham'), 'given up after three tries');
    assert.is(always.learns.length, 3);
  } finally {
    always.server.close();
  }
});

test('a learn rspamd refused (4xx, or 204: too short to learn) is not tried again', async () => {
  for (const answer of [
    [400, '{"error":"bad request"}'],
    [204, ''],
  ] as [number, string][]) {
    const c = await controller([answer]);
    try {
      const client = new RspamdClient({ url: c.url, controllerUrl: c.url, timeoutMs: 2000 });
      assert.not.ok(await client.learn(MESSAGE, 'spam'));
      assert.is(c.learns.length, 1, `${answer[0]}: one try`);
    } finally {
      c.server.close();
    }
  }
});

test.run();
