// Dovecot's imaptest in stress mode: 10 clients for 60 s on one mailbox, appending, fetching,
// storing flags, expunging and logging in and out at random, each reply checked against imaptest's
// model of the mailbox. Sessions race each other all the time (an EXPUNGE during another's FETCH),
// and none of that may show as a SERVERBUG, a half-written response or a dropped connection.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { startImap, PASSWORD, USER } from '../helpers/imap.ts';
import { imaptestBinary, rawlogs, runImaptestStress, writeStressMbox } from '../helpers/imaptest-stress.ts';

test('imaptest stress, 10 clients for 60 s: no errors, no SERVERBUG, no broken responses', async () => {
  const bin = imaptestBinary(); // fails (never skips) when `npm run test:setup` has not built it
  const dir = mkdtempSync(join(tmpdir(), 'wren-imaptest-'));
  const serverErrors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => serverErrors.push(line) });
  const f = await startImap({ logger });
  try {
    const mbox = join(dir, 'stress.mbox');
    assert.ok(writeStressMbox(mbox) >= 30);
    const result = await runImaptestStress({
      port: f.port,
      user: USER,
      pass: PASSWORD,
      mbox,
      dir,
      clients: 10,
      secs: 60,
    });
    const summary = `${bin} exited ${result.exitCode}; ${result.commands} commands; errors:\n${result.errors.slice(0, 20).join('\n')}`;
    assert.is(result.exitCode, 0, summary);
    assert.ok(result.commands >= 100, `the run did work: ${summary}`);
    // Ours: the server never fails a command internally, never breaks a response, never drops a client.
    const logs = rawlogs(dir);
    assert.ok(logs.length >= 10, 'a rawlog per session');
    const bugs = logs.filter((l) => /\bSERVERBUG\b|BYE Internal error/.test(l.text));
    const first = bugs[0] ? /.*(SERVERBUG|BYE Internal error).*/.exec(bugs[0].text)![0] : '';
    assert.equal(
      bugs.map((l) => l.name),
      [],
      `SERVERBUG in ${bugs.length} sessions; the first: ${first}`,
    );
    assert.equal(
      result.errors.filter((e) => /error parsing input|Missing '\)'|Disconnected|BYE/i.test(e)),
      [],
      summary,
    );
    assert.equal(
      serverErrors.map((l) => (JSON.parse(l) as { msg: string }).msg),
      [],
      'the server logged no errors',
    );
    // And everything else imaptest checks (flags and new keywords announced in FLAGS first, RFC 3501
    // 7.2.6; EXISTS/EXPUNGE bookkeeping; ENVELOPE stability).
    assert.equal(result.errors, [], summary);
    console.log(`imaptest stress: ${result.commands} commands, no errors`);
  } finally {
    await f.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
