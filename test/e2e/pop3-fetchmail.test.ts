// POP3 with fetchmail (Debian package `fetchmail`): STLS with UIDL-tracked "keep" runs, then POP3S
// with deletion. `npm run test:setup` installs fetchmail; without it the test fails, never skips.
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PASSWORD, startPop3, USER } from '../helpers/pop3.ts';
import { makeMessage, tempDir } from '../helpers/tmp.ts';

/** One fetchmail run over the given rc lines; resolves with its exit code (0 mail, 1 no mail) and output. */
function fetchmail(dir: string, poll: string): Promise<{ code: number; output: string }> {
  const rc = join(dir, 'fetchmailrc');
  writeFileSync(rc, `set no syslog\n${poll}\n`, { mode: 0o600 });
  chmodSync(rc, 0o600);
  return new Promise((resolve) => {
    execFile(
      'fetchmail',
      ['-f', rc, '--idfile', join(dir, 'ids'), '--pidfile', join(dir, 'pid'), '-v', '--nosyslog'],
      { env: { ...process.env, HOME: dir, FETCHMAILHOME: dir }, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, output: stdout + stderr }),
    );
  });
}

const delivered = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => n.startsWith('msg.'))
    .map((n) => readFileSync(join(dir, n), 'latin1'));

test('fetchmail: STLS keep runs fetch each message once (UIDL), POP3S run fetches and deletes', async () => {
  const f = await startPop3();
  const dir = tempDir('wren-fetchmail-');
  try {
    await f.deliver(makeMessage({ subject: 'fetch one', body: '.dotted line\r\n' }));
    await f.deliver(makeMessage({ subject: 'fetch two' }));
    const mda = join(dir.path, 'mda.sh');
    writeFileSync(mda, `#!/bin/sh\ncat > "$(mktemp ${dir.path}/msg.XXXXXX)"\n`, { mode: 0o755 });
    const account = `user "${USER}" there with password "${PASSWORD}" is "root" here`;
    const stls = `poll 127.0.0.1 with proto POP3 service ${f.port} uidl\n  ${account}\n  keep sslproto 'TLS1.2+' no sslcertck mda "${mda}"`;

    const first = await fetchmail(dir.path, stls);
    assert.is(first.code, 0, first.output);
    assert.match(first.output, /STLS/);
    let mail = delivered(dir.path);
    assert.is(mail.length, 2, first.output);
    assert.ok(mail.some((m) => m.includes('Subject: fetch one') && m.includes('\n.dotted line')));
    assert.is((await f.store.messages.list(f.inbox.id)).length, 2);

    const second = await fetchmail(dir.path, stls);
    assert.is(second.code, 1, second.output); // 1: no new mail
    assert.is(delivered(dir.path).length, 2);

    await f.deliver(makeMessage({ subject: 'fetch three' }));
    const pop3s = `poll 127.0.0.1 with proto POP3 service ${f.tlsPort}\n  ${account}\n  fetchall nokeep ssl no sslcertck mda "${mda}"`;
    const third = await fetchmail(dir.path, pop3s);
    assert.is(third.code, 0, third.output);
    mail = delivered(dir.path);
    assert.is(mail.length, 5, third.output);
    assert.is(mail.filter((m) => m.includes('Subject: fetch three')).length, 1);
    assert.is((await f.store.messages.list(f.inbox.id)).length, 0);
  } finally {
    await f.close();
    dir.remove();
  }
});

test.run();
