// A SASL PLAIN authorization identity (RFC 4616 §2) naming another user was once ignored: alice
// logged in "as bob" got alice's session, and a client or proxy that trusts the authzid believed it
// was bob's. Acting as another user is not offered, so such an authzid is refused on SMTP AUTH PLAIN
// (535 5.7.8), IMAP AUTHENTICATE PLAIN (NO [AUTHORIZATIONFAILED]) and POP3 AUTH PLAIN (-ERR [AUTH]);
// an empty authzid or the user's own name still logs in. Real clients: Python smtplib, imaplib, poplib.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { runPython } from '../helpers/pop3.ts';

const ALICE = 'alice@authz.test';
const PASSWORD = 'alice password';
let instance: Instance;

test.before(async () => {
  instance = await startInstance({ overrides: { imap: { allow_plain_auth_loopback: true } } });
  await instance.addAccount(ALICE, PASSWORD);
  await instance.addAccount('bob@authz.test', 'bob password');
});
test.after(() => instance.stop());

// For each authzid: one line per protocol, "ok" or the server's refusal.
const SCRIPT = String.raw`
import base64, imaplib, poplib, smtplib, ssl, sys
smtp_port, imap_port, pop_port, user, password = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
ctx = ssl._create_unverified_context()
for authzid in sys.argv[6:]:
    token = (authzid + '\0' + user + '\0' + password)
    try:
        s = smtplib.SMTP_SSL('127.0.0.1', smtp_port, context=ctx, timeout=10)
        s.ehlo('client.test')
        code, text = s.docmd('AUTH', 'PLAIN ' + base64.b64encode(token.encode()).decode())
        print('smtp', authzid, 'ok' if code == 235 else f'{code} {text.decode()}')
        s.close()
    except Exception as e:
        print('smtp', authzid, 'error', e)
    try:
        m = imaplib.IMAP4('127.0.0.1', imap_port, timeout=10)
        m.authenticate('PLAIN', lambda _: token.encode())
        print('imap', authzid, 'ok')
        m.logout()
    except imaplib.IMAP4.error as e:
        print('imap', authzid, str(e))
    try:
        p = poplib.POP3_SSL('127.0.0.1', pop_port, context=ctx, timeout=10)
        print('pop3', authzid, 'ok' if p._shortcmd('AUTH PLAIN ' + base64.b64encode(token.encode()).decode()).startswith(b'+OK') else 'no')
        p.quit()
    except poplib.error_proto as e:
        print('pop3', authzid, e.args[0].decode())
`;

async function attempts(authzids: string[]): Promise<Map<string, string>> {
  const ports = [instance.port('smtp-submissions'), instance.port('imap'), instance.port('pop3s')].map(String);
  const { code, stdout, stderr } = await runPython(SCRIPT, [...ports, ALICE, PASSWORD, ...authzids], 60_000);
  assert.is(code, 0, stderr);
  return new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [protocol, authzid, ...rest] = line.split(' ');
        return [`${protocol} ${authzid}`, rest.join(' ')] as [string, string];
      }),
  );
}

test('PLAIN with another user as authorization identity is refused on SMTP, IMAP and POP3', async () => {
  const got = await attempts(['bob@authz.test']);
  assert.match(got.get('smtp bob@authz.test')!, /^535 5\.7\.8 /);
  assert.match(got.get('imap bob@authz.test')!, /\[AUTHORIZATIONFAILED\]/);
  assert.match(got.get('pop3 bob@authz.test')!, /^-ERR \[AUTH\]/);
});

test("PLAIN with the user's own name (any case) as authorization identity logs in everywhere", async () => {
  const got = await attempts(['Alice@Authz.test']);
  for (const protocol of ['smtp', 'imap', 'pop3']) assert.is(got.get(`${protocol} Alice@Authz.test`), 'ok', protocol);
});

test.run();
