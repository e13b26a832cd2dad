// One sending budget per account for every way out (SMTP submission on 587 and 465, the
// Sending API's single and batch routes), held in the store so a restart forgives nothing, and
// reserved atomically so a burst of concurrent requests cannot all slip under the limit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bootstrapKeyPath } from '../../src/bootstrap.ts';
import { PRESETS } from '../../src/security/permissions.ts';
import { startApi } from '../helpers/api.ts';
import { type Instance, startInstance } from '../helpers/instance.ts';
import { tempDir } from '../helpers/tmp.ts';

const message = (from: string, i: number) => ({ from, to: 'x@far.test', subject: `m${i}`, text_body: 'hello' });

test('Sending API: a burst of concurrent sends from one mailbox key stops at the hourly limit (429 with Retry-After); batches count each message', async () => {
  const api = await startApi({ sendLimits: { perHour: 5, perDay: 100 } });
  try {
    await api.store.domains.create(api.teamId, 'lim.test');
    const ann = await api.store.accounts.create({ teamId: api.teamId, address: 'ann@lim.test' });
    const bob = await api.store.accounts.create({ teamId: api.teamId, address: 'bob@lim.test' });
    const annKey = await api.makeKey(PRESETS['mailbox:full']!, api.teamId, 'mailbox', ann.id);
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api.call('POST', '/emails/send', { key: annKey, body: message('ann@lim.test', i) }),
      ),
    );
    assert.equal(replies.map((r) => r.status).sort(), [...Array(5).fill(200), ...Array(7).fill(429)]);
    const refused = replies.find((r) => r.status === 429)!;
    assert.is(refused.body.error.code, 'rate_limit_exceeded');
    assert.match(refused.body.error.message, /5 messages per hour/);
    assert.ok(
      Number(refused.headers.get('retry-after')) > 3000,
      refused.headers.get('retry-after') ?? 'no Retry-After',
    );
    assert.is((await api.store.queue.list({ limit: 100 })).jobs.length, 5);

    // a root key sending as bob is charged to bob's mailbox, batch items one by one
    for (let i = 0; i < 3; i++)
      assert.is((await api.call('POST', '/emails/send', { body: message('bob@lim.test', i) })).status, 200);
    const batch = await api.call('POST', '/emails/send/batch', {
      body: { messages: [0, 1, 2].map((i) => message('bob@lim.test', 10 + i)) },
    });
    assert.is(batch.status, 200, batch.text);
    assert.equal(batch.body.data.summary, { total: 3, queued: 2, failed: 1 });
    assert.is(batch.body.data.results.find((r: any) => r.status === 'failed').error.code, 'rate_limit_exceeded');
    void bob;
  } finally {
    await api.close();
  }
});

interface Running {
  instance: Instance;
  key: string;
  mailboxKey: string;
}

const data = tempDir('wren-sendlimits-');
async function boot(mailboxKey?: string): Promise<Running> {
  const any = ['127.0.0.1:0'];
  const instance = await startInstance({
    overrides: {
      data_dir: join(data.path, 'data'),
      smtp: { mx_listen: [], submission_listen: any, submissions_listen: any, send_per_hour: 4, send_per_day: 100 },
    },
  });
  const key = readFileSync(bootstrapKeyPath(instance.config.data_dir), 'utf8').trim();
  if (mailboxKey) return { instance, key, mailboxKey };
  const account = await instance.addAccount('ann@lim.test', 'ann-password-123');
  const minted = await fetch(`http://127.0.0.1:${instance.port('http')}/api/v1/mailboxes/mbx_${account.id}/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ app_name: 'app' }),
  });
  return { instance, key, mailboxKey: ((await minted.json()) as any).data.api_key.key };
}

const apiSend = async (r: Running, i: number) => {
  const reply = await fetch(`http://127.0.0.1:${r.instance.port('http')}/api/v1/emails/send`, {
    method: 'POST',
    headers: { authorization: `Bearer ${r.mailboxKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(message('ann@lim.test', i)),
  });
  return { status: reply.status, body: (await reply.json()) as any };
};

async function smtpSend(r: Running, listener: 'smtp-submission' | 'smtp-submissions'): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: r.instance.port(listener),
    secure: listener === 'smtp-submissions',
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'ann@lim.test', pass: 'ann-password-123' },
    connectionTimeout: 5000,
    socketTimeout: 5000,
  });
  try {
    const info = await transport.sendMail({
      from: 'ann@lim.test',
      to: 'x@far.test',
      subject: 'by smtp',
      text: 'hello',
    });
    return info.response;
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    transport.close();
  }
}

test('one budget for SMTP submission (587 and 465) and the Sending API, kept across a restart', async () => {
  let r = await boot();
  try {
    assert.match(await smtpSend(r, 'smtp-submission'), /^250 /);
    assert.match(await smtpSend(r, 'smtp-submissions'), /^250 /);
    assert.is((await apiSend(r, 1)).status, 200);
    assert.match(await smtpSend(r, 'smtp-submission'), /^250 /);
    // four sent, by three ways: the fifth is refused on every one
    const api = await apiSend(r, 2);
    assert.is(api.status, 429);
    assert.match(api.body.error.message, /4 messages per hour/);
    assert.match(await smtpSend(r, 'smtp-submission'), /^451 4\.7\.1 Sending limit reached \(4 messages per hour\)/);
    assert.match(await smtpSend(r, 'smtp-submissions'), /^451 4\.7\.1/);
  } finally {
    await r.instance.stop();
  }
  r = await boot(r.mailboxKey);
  try {
    assert.is((await apiSend(r, 3)).status, 429, 'a restart forgives nothing');
    assert.match(await smtpSend(r, 'smtp-submission'), /^451 4\.7\.1/);
  } finally {
    await r.instance.stop();
    data.remove();
  }
});

test.run();
