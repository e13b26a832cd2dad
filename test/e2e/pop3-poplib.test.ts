// POP3 with a real client: Python's poplib over STLS (port 110 style) and POP3_SSL (995 style).
import { createHash } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PASSWORD, runPython, startPop3, USER } from '../helpers/pop3.ts';
import { makeMessage } from '../helpers/tmp.ts';

const PRELUDE = String.raw`
import base64, hashlib, json, poplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
def attempt(key, fn):
    try:
        out[key] = fn()
    except poplib.error_proto as e:
        out[key] = 'error: ' + e.args[0].decode()
def text(lines):
    return '\r\n'.join(l.decode('latin1') for l in lines)
`;

const STLS_SESSION =
  PRELUDE +
  `
p = poplib.POP3('127.0.0.1', port, timeout=10)
out['welcome'] = p.getwelcome().decode()
out['capa_plain'] = p.capa()
attempt('user_plain', lambda: p.user(user).decode())
p.stls(ctx)
out['capa_tls'] = p.capa()
p.user(user)
out['pass'] = p.pass_(password).decode()
out['stat'] = list(p.stat())
out['list'] = [x.decode() for x in p.list()[1]]
out['list2'] = p.list(2).decode()
out['uidl'] = [x.decode() for x in p.uidl()[1]]
out['uidl1'] = p.uidl(1).decode()
resp, lines, octets = p.retr(1)
out['retr1_status'] = resp.decode()
out['retr1'] = text(lines)
out['top0'] = text(p.top(1, 0)[1])
out['top2'] = text(p.top(1, 2)[1])
out['dele2'] = p.dele(2).decode()
attempt('retr_deleted', lambda: p.retr(2)[0].decode())
attempt('dele_again', lambda: p.dele(2).decode())
attempt('list_deleted', lambda: p.list(2).decode())
out['stat_after_dele'] = list(p.stat())
out['rset'] = p.rset().decode()
out['stat_after_rset'] = list(p.stat())
p.dele(2)
out['noop'] = p.noop().decode()
attempt('retr_none', lambda: p.retr(9)[0].decode())
out['quit'] = p.quit().decode()
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[4]), context=ctx, timeout=10)
p.user(user)
p.pass_(password)
out['uidl_after'] = [x.decode() for x in p.uidl()[1]]
p.quit()
print(json.dumps(out))
`;

const SSL_SESSION =
  PRELUDE +
  String.raw`
p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=10)
out['capa'] = p.capa()
ir = base64.b64encode(b'\0' + user.encode() + b'\0' + password.encode()).decode()
attempt('auth_bad', lambda: p._shortcmd('AUTH PLAIN ' + base64.b64encode(b'\0' + user.encode() + b'\0wrong').decode()).decode())
out['auth'] = p._shortcmd('AUTH PLAIN ' + ir).decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.retr(1)
out['status'] = resp.decode()
out['sha'] = hashlib.sha256(b'\r\n'.join(lines) + b'\r\n').hexdigest()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

function parse(result: { code: number | null; stdout: string; stderr: string }) {
  assert.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

test('poplib over STLS: USER/PASS, STAT, LIST, UIDL, RETR (dot-stuffed), TOP, DELE, RSET, NOOP, QUIT', async () => {
  const f = await startPop3();
  try {
    const body = 'First line\r\n.starts with a dot\r\n..two dots\r\n.\r\nafter the lone dot\r\nlast line\r\n';
    const m1 = makeMessage({ subject: 'dots', body });
    const m2 = makeMessage({ subject: 'second' });
    const m3 = makeMessage({ subject: 'third' });
    const uids = [await f.deliver(m1), await f.deliver(m2), await f.deliver(m3)];
    const out = parse(await runPython(STLS_SESSION, [String(f.port), USER, PASSWORD, String(f.tlsPort)]));

    assert.match(out.welcome, /^\+OK pop\.wren\.test/);
    // Before TLS: no USER nor SASL offered, and USER is refused.
    assert.ok('STLS' in out.capa_plain);
    assert.not.ok('USER' in out.capa_plain);
    assert.not.ok('SASL' in out.capa_plain);
    assert.match(out.user_plain, /^error: -ERR \[AUTH\]/);
    assert.not.ok('STLS' in out.capa_tls);
    assert.ok('USER' in out.capa_tls);
    assert.equal(out.capa_tls.SASL, ['PLAIN']);
    for (const cap of ['TOP', 'UIDL', 'RESP-CODES', 'PIPELINING']) assert.ok(cap in out.capa_tls, cap);

    const total = m1.length + m2.length + m3.length;
    assert.match(out.pass, /^\+OK Maildrop has 3 messages/);
    assert.equal(out.stat, [3, total]);
    assert.equal(out.list, [`1 ${m1.length}`, `2 ${m2.length}`, `3 ${m3.length}`]);
    assert.is(out.list2, `+OK 2 ${m2.length}`);
    const uidValidity = f.inbox.uidValidity;
    assert.equal(
      out.uidl,
      uids.map((uid, i) => `${i + 1} ${uidValidity}.${uid}`),
    );
    assert.is(out.uidl1, `+OK 1 ${uidValidity}.${uids[0]}`);
    // poplib removes the dot-stuffing; what is left must be the message, byte for byte.
    assert.is(out.retr1_status, `+OK ${m1.length} octets`);
    assert.is(`${out.retr1}\r\n`, m1.toString('latin1'));
    const header = m1.toString('latin1').split('\r\n\r\n')[0];
    assert.is(out.top0, `${header}\r\n`);
    assert.is(out.top2, `${header}\r\n\r\nFirst line\r\n.starts with a dot`);

    assert.is(out.dele2, '+OK Message 2 deleted');
    assert.match(out.retr_deleted, /^error: -ERR No such message/);
    assert.match(out.dele_again, /^error: -ERR/);
    assert.match(out.list_deleted, /^error: -ERR/);
    assert.equal(out.stat_after_dele, [2, m1.length + m3.length]);
    assert.match(out.rset, /^\+OK Maildrop has 3 messages/);
    assert.equal(out.stat_after_rset, [3, total]);
    assert.is(out.noop, '+OK');
    assert.match(out.retr_none, /^error: -ERR/);
    assert.match(out.quit, /^\+OK .*2 messages left/);

    // UPDATE state: message 2 expunged, message 1 (retrieved) \Seen, message 3 untouched.
    const left = await f.store.messages.list(f.inbox.id);
    assert.equal(
      left.map((m) => m.uid),
      [uids[0], uids[2]],
    );
    assert.ok(left[0]!.flags.includes('\\Seen'));
    assert.not.ok(left[1]!.flags.includes('\\Seen'));
    // Unique ids survive the deletion of others (renumbering changes only the message numbers).
    assert.equal(out.uidl_after, [`1 ${uidValidity}.${uids[0]}`, `2 ${uidValidity}.${uids[2]}`]);
  } finally {
    await f.close();
  }
});

test('poplib POP3_SSL: AUTH PLAIN, a 3 MB message streamed intact', async () => {
  const f = await startPop3();
  try {
    const big = makeMessage({ subject: 'big', bytes: 3_000_000, body: '.leading dot line\r\n' });
    await f.deliver(big);
    const out = parse(await runPython(SSL_SESSION, [String(f.tlsPort), USER, PASSWORD]));
    assert.ok('USER' in out.capa);
    assert.not.ok('STLS' in out.capa);
    assert.match(out.auth_bad, /^error: -ERR \[AUTH\]/);
    assert.match(out.auth, /^\+OK Maildrop has 1 messages/);
    assert.equal(out.stat, [1, big.length]);
    assert.is(out.status, `+OK ${big.length} octets`);
    assert.is(out.sha, createHash('sha256').update(big).digest('hex'));
    assert.match(out.quit, /^\+OK/);
    // Nothing deleted: a session that only reads leaves the maildrop as it was (but \Seen).
    const [kept] = await f.store.messages.list(f.inbox.id);
    assert.ok(kept!.flags.includes('\\Seen'));
  } finally {
    await f.close();
  }
});

test.run();
