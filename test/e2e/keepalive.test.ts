// Connections that stay quiet survive NATs and mobile networks: IMAP IDLE sends "* OK Still here"
// every imap.idle_keepalive_seconds, and every listener turns TCP keepalive on for what it accepts
// (checked from the kernel's own socket table with `ss`).
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER } from '../helpers/imap.ts';
import { startInstance } from '../helpers/instance.ts';

test('IDLE: an untagged OK every idle_keepalive interval, none after DONE', async () => {
  const f = await startImap({ limits: { idleKeepaliveMs: 150 } });
  try {
    const c = await RawClient.connect(f.port);
    await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
    await c.command('s', 'SELECT INBOX');
    c.write('i IDLE\r\n');
    await c.until(/^\+ idling\r\n/m);
    await c.until(/(\* OK Still here\r\n){2}/);
    assert.match(c.buffer, /^\+ idling\r\n(\* OK Still here\r\n)+$/, 'nothing else was sent');
    assert.match(await c.command('i', Buffer.from('DONE\r\n')), /^i OK IDLE completed\r\n/m);
    c.buffer = '';
    await new Promise((r) => setTimeout(r, 400));
    assert.is(c.buffer, '', 'no keepalive outside IDLE');
    assert.match(await c.command('n', 'NOOP'), /^n OK/m);
    c.close();
  } finally {
    await f.close();
  }
});

test('the keepalive interval comes from imap.idle_keepalive_seconds (default 120)', async () => {
  const { configSchema } = await import('../../src/config/schema.ts');
  assert.is(configSchema.parse({}).imap.idle_keepalive_seconds, 120);
});

test('every listener (SMTP, IMAP, POP3, HTTP; plain and TLS) enables TCP keepalive on accepted connections', async () => {
  const instance = await startInstance();
  try {
    const names = instance.server.listeners.map((l) => l.name);
    for (const name of ['smtp-mx', 'smtp-submission', 'smtp-submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http']) {
      assert.ok(names.includes(name), `${name} listens`);
    }
    for (const name of names) {
      const port = instance.port(name);
      const socket = connect(port, instance.host);
      socket.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('error', reject);
      });
      // the server side of this connection, as the kernel sees it
      let row = '';
      for (let i = 0; i < 50 && !row; i++) {
        await new Promise((r) => setTimeout(r, 20));
        row = execFileSync('ss', [
          '-tnoH',
          'state',
          'established',
          `( sport = :${port} and dport = :${socket.localPort} )`,
        ])
          .toString()
          .trim();
      }
      socket.destroy();
      assert.match(row, /timer:\(keepalive,/, `${name}: ${row || 'no socket found'}`);
    }
  } finally {
    await instance.stop();
  }
});

test.run();
