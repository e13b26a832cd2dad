// A second real client: Python's imaplib (STARTTLS, LOGIN, LIST, SELECT, SEARCH, FETCH, STORE, IDLE).
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startImap, PASSWORD, USER } from '../helpers/imap.ts';
import { makeMessage } from '../helpers/tmp.ts';

const CLIENT = String.raw`
# Drives the IMAP server with Python's imaplib (a second real client) and prints one JSON line.
import imaplib, json, ssl, sys, time

port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
m = imaplib.IMAP4(host='127.0.0.1', port=port)
m.starttls(ssl_context=ctx)
out['login'] = m.login(user, password)[0]
out['list'] = [x.decode() for x in m.list()[1]]
typ, data = m.select('INBOX')
out['exists'] = int(data[0])
typ, data = m.search(None, 'SUBJECT', '"python"')
out['search'] = data[0].decode()
typ, data = m.fetch('1', '(RFC822)')
out['rfc822'] = data[0][1].decode('latin1')
typ, data = m.store('1', '+FLAGS', '(\\Flagged)')
out['store'] = data[0].decode()
typ, data = m.uid('SEARCH', None, 'FLAGGED')
out['flagged'] = data[0].decode()
# idle-ish: IDLE by hand, wait for the EXISTS the test causes, then DONE
tag = m._new_tag().decode()
m.send(f'{tag} IDLE\r\n'.encode())
out['idle_start'] = m.readline().decode().strip()
print('IDLING', flush=True)
out['idle_event'] = m.readline().decode().strip()
m.send(b'DONE\r\n')
out['idle_more'] = []
line = m.readline().decode().strip()
while not line.startswith(tag + ' '):
    out['idle_more'].append(line)
    line = m.readline().decode().strip()
out['idle_end'] = line
m.logout()
print(json.dumps(out), flush=True)
`;

test('imaplib session', async () => {
  const f = await startImap({ allowPlainAuthWithoutTls: false });
  try {
    const raw = makeMessage({ subject: 'Hello from python test' });
    await f.deliver(raw);
    const child = spawn('python3', ['-c', CLIENT, String(f.port), USER, PASSWORD]);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let idleSeen = false;
    const delivered = new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('IDLING\n') && !idleSeen) {
          idleSeen = true;
          void f.deliver(makeMessage({ subject: 'while idle' })).then(() => resolve());
        }
      });
    });
    const code = await Promise.race([
      new Promise<number>((resolve) => child.on('close', resolve)),
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error(`python timed out: ${stdout} ${stderr}`)), 15_000),
      ),
    ]);
    await delivered;
    assert.is(code, 0, stderr);
    const out = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!);
    assert.is(out.login, 'OK');
    assert.ok(out.list.some((l: string) => l.includes('\\Sent') && l.includes('"Sent"')));
    assert.is(out.exists, 1);
    assert.is(out.search, '1');
    assert.is(out.rfc822, raw.toString('latin1'));
    assert.match(out.store, /FLAGS \(\\Seen \\Flagged \\Recent\)/); // RFC822 without PEEK set \Seen; first session: \Recent
    assert.is(out.flagged, '1');
    assert.match(out.idle_start, /^\+/);
    assert.is(out.idle_event, '* 2 EXISTS');
    assert.equal(out.idle_more, ['* 2 RECENT']); // imaplib speaks IMAP4rev1: it was first to see both
    assert.match(out.idle_end, / OK /);
  } finally {
    await f.close();
  }
});

test.run();
