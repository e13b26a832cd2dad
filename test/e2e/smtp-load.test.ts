// Concurrency and crash safety: 50 connections × 20 messages all stored exactly once; an MX process
// killed with SIGKILL under load loses no message it answered 250 for.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Store } from '../../src/store/index.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { messagesIn, plainMessage, SmtpClient, startMx, transaction } from '../helpers/smtp.ts';

const ZONE = { 'sender.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] } };

/** Subject → how many stored copies, over the accounts' INBOXes. */
async function storedSubjects(store: Store, addresses: string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const address of addresses) {
    for (const m of await messagesIn(store, address)) {
      const subject = /^Subject: (.*)$/m.exec(m.text)![1]!.trim();
      counts.set(subject, (counts.get(subject) ?? 0) + 1);
    }
  }
  return counts;
}

test('50 concurrent connections × 20 messages: all 1,000 stored exactly once', async () => {
  const fx = await startMx({ zone: ZONE, mx: { limits: { maxConnectionsPerIp: 60, messagesPerIpPerMinute: 5000 } } });
  try {
    const team = await fx.store.teams.create('t');
    await fx.store.domains.create(team.id, 'wren.test');
    const rcpts = ['a@wren.test', 'b@wren.test', 'c@wren.test', 'd@wren.test', 'e@wren.test'];
    for (const address of rcpts) await fx.store.accounts.create({ teamId: team.id, address });
    const started = Date.now();
    const accepted: string[] = [];
    await Promise.all(
      Array.from({ length: 50 }, async (_, c) => {
        const { client, greeting } = await SmtpClient.connect(fx.port);
        assert.is(greeting.code, 220);
        await client.command('EHLO load.test');
        for (let m = 0; m < 20; m++) {
          const subject = `load c${c} m${m}`;
          const to = rcpts[(c + m) % rcpts.length]!;
          const r = await transaction(
            client,
            'ann@sender.test',
            [to],
            plainMessage({ from: 'ann@sender.test', to, subject, body: `${subject}\r\n${'x'.repeat(2000)}` }),
          );
          assert.is(r.end?.code, 250, r.end?.text);
          accepted.push(subject);
        }
        await client.command('QUIT');
        client.close();
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `  1,000 messages over 50 connections in ${seconds.toFixed(2)} s (${Math.round(1000 / seconds)} msg/s)`,
    );
    const counts = await storedSubjects(fx.store, rcpts);
    assert.is(accepted.length, 1000);
    assert.is(counts.size, 1000);
    assert.ok(
      [...counts.values()].every((n) => n === 1),
      'no duplicates',
    );
  } finally {
    await fx.close();
  }
});

test('SIGKILL during load: every message that got 250 is in the reopened store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wren-kill-'));
  const dns = await startDnsServer(ZONE);
  try {
    const rcpts = ['a@wren.test', 'b@wren.test'];
    const setup = await Store.open(join(dir, 'db'));
    const team = await setup.teams.create('t');
    await setup.domains.create(team.id, 'wren.test');
    for (const address of rcpts) await setup.accounts.create({ teamId: team.id, address });
    await setup.close();

    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../helpers/smtp-mx-process.ts'), join(dir, 'db'), dns.servers.join(',')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((r) => child.once('exit', r));
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', () => reject(new Error('MX process exited early')));
    });
    const { port } = JSON.parse(line) as { port: number };

    const accepted: string[] = [];
    let sent = 0;
    const deadline = Date.now() + 20_000;
    const clients = Array.from({ length: 20 }, async (_, c) => {
      const { client } = await SmtpClient.connect(port);
      try {
        await client.command('EHLO kill.test');
        for (let m = 0; Date.now() < deadline && m < 500; m++) {
          const subject = `kill c${c} m${m}`;
          const to = rcpts[m % 2]!;
          sent++;
          const r = await transaction(
            client,
            'ann@sender.test',
            [to],
            plainMessage({ from: 'ann@sender.test', to, subject }),
          );
          if (r.end?.code === 250) accepted.push(subject);
        }
      } catch {
        // the server died under us: expected
      } finally {
        client.close();
      }
    });
    // Kill once a good number of messages were acknowledged, while every client is mid-stream.
    while (accepted.length < 150 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await Promise.all(clients);
    await exited;
    assert.ok(accepted.length >= 150, `acknowledged ${accepted.length}`);
    assert.ok(sent > accepted.length, 'some messages were in flight at the kill');

    const store = await Store.open(join(dir, 'db'));
    try {
      const counts = await storedSubjects(store, rcpts);
      const missing = accepted.filter((s) => !counts.has(s));
      assert.equal(missing, [], 'every acknowledged message survived');
      assert.ok([...counts.values()].every((n) => n === 1));
      console.log(
        `  killed after ${accepted.length} acknowledged (${sent} attempted); ${counts.size} in the reopened store`,
      );
    } finally {
      await store.close();
    }
  } finally {
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
