// The Mailbux developer guide's workflow (docs/API.md §13), written as an operator's Python script
// would be — requests calls (test/helpers/python/requests.py: `requests` is not installed here) against
// a whole server: add a domain, create DKIM keys, fetch the DNS records, create three accounts with
// passwords, add an alias. Then the accounts receive mail over SMTP at the MX and log in over IMAPS
// with those passwords.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startInstance, type Instance } from '../helpers/instance.ts';
import { runPython } from '../helpers/seeds.ts';

const SCRIPT = String.raw`
import base64, imaplib, json, smtplib, ssl, sys, time

import requests  # test/helpers/python/requests.py

http_port, mx_port, imaps_port, token = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

BASE_URL = 'http://127.0.0.1:%d' % http_port
HEADERS = {'Authorization': 'Bearer ' + token, 'Content-Type': 'application/json'}
out = {}

def call(method, path, status=200, **kw):
    r = getattr(requests, method)(BASE_URL + path, headers=HEADERS, **kw)
    assert r.status_code == status, (method, path, r.status_code, r.text)
    return r.json()

# 1. Managing domains: list, add, list again
assert call('get', '/api/principal', params={'types': 'domain'}) == {'data': {'items': [], 'total': 0}}
domain_id = call('post', '/api/principal', json={'type': 'domain', 'name': 'acme.test'})['data']
assert isinstance(domain_id, int), domain_id
listed = call('get', '/api/principal', params={'types': 'domain'})['data']
assert listed['total'] == 1 and [(d['name'], d['type']) for d in listed['items']] == [('acme.test', 'domain')], listed
# the guide's error table: 409 "Resource already exists", 404 "Resource not found" (Stalwart's body)
dup = call('post', '/api/principal', 409, json={'type': 'domain', 'name': 'acme.test'})
assert dup == {'error': 'fieldAlreadyExists', 'field': 'name', 'value': 'acme.test'}, dup

# 2. DKIM signing: Ed25519 and RSA (as Stalwart's web admin does), then the public key
assert call('post', '/api/dkim', json={'algorithm': 'Ed25519', 'domain': 'acme.test'}) == {'data': None}
assert call('post', '/api/dkim', json={'algorithm': 'Rsa', 'domain': 'acme.test'}) == {'data': None}
rsa_key = call('get', '/api/dkim/rsa-acme.test')['data']
base64.b64decode(rsa_key, validate=True)

# 3. DNS records to publish
records = call('get', '/api/dns/records/acme.test')['data']
by_type = {}
for r in records:
    assert set(r) == {'type', 'name', 'content'}, r
    by_type.setdefault(r['type'], []).append(r)
assert {'name': 'acme.test.', 'type': 'MX', 'content': '10 mail.example.test.'} in by_type['MX'], by_type['MX']
dkim_txt = [r for r in by_type['TXT'] if '._domainkey.' in r['name']]
assert any(r['content'].endswith('p=' + rsa_key) and 'k=rsa' in r['content'] for r in dkim_txt), dkim_txt
assert any('k=ed25519' in r['content'] for r in dkim_txt), dkim_txt
assert any(r['name'] == 'acme.test.' and r['content'].startswith('v=spf1') for r in by_type['TXT'])
assert any(r['name'] == '_dmarc.acme.test.' for r in by_type['TXT'])
out['records'] = len(records)

# 4. Email accounts with passwords
accounts = {
    'alice@acme.test': 'Alice-Secret-1',
    'bob@acme.test': 'Bob-Secret-22',
    'carol@acme.test': 'Carol-Secret-333',
}
for address, password in accounts.items():
    name = address.split('@')[0]
    created = call('post', '/api/principal', json={
        'type': 'individual', 'name': address, 'description': name.title(),
        'emails': [address], 'secrets': [password], 'quota': 1073741824,
    })
    assert isinstance(created['data'], int), created
people = call('get', '/api/principal', params={'types': 'individual', 'fields': 'name,emails'})['data']
assert people['total'] == 3, people

# 5. An alias for Alice
assert call('patch', '/api/principal/alice@acme.test', json=[{'action': 'addItem', 'field': 'emails', 'value': 'sales@acme.test'}]) == {'data': None}
alice = call('get', '/api/principal/alice@acme.test')['data']
assert alice['emails'] == ['alice@acme.test', 'sales@acme.test'], alice
missing = call('get', '/api/principal/dave@acme.test', 404)
assert missing == {'error': 'notFound', 'item': 'dave@acme.test'}, missing

# 6. Mail arrives at the MX ...
smtp = smtplib.SMTP('127.0.0.1', mx_port, timeout=30)
for rcpt in list(accounts) + ['sales@acme.test']:
    msg = 'From: partner@example.org\r\nTo: %s\r\nSubject: welcome %s\r\nMessage-ID: <%s@example.org>\r\n\r\nHello from the workflow.\r\n' % (rcpt, rcpt, rcpt.replace('@', '.'))
    refused = smtp.sendmail('partner@example.org', [rcpt], msg)
    assert refused == {}, refused
smtp.quit()

# ... and each account reads it over IMAPS with the password the API set
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out['inbox'] = {}
for address, password in accounts.items():
    imap = imaplib.IMAP4_SSL('127.0.0.1', imaps_port, ssl_context=ctx)
    assert imap.login(address, password)[0] == 'OK'
    expected = 2 if address.startswith('alice') else 1
    for _ in range(50):
        typ, data = imap.select('INBOX', readonly=True)
        if int(data[0]) >= expected:
            break
        imap.close()
        time.sleep(0.1)
    typ, data = imap.search(None, 'SUBJECT', '"welcome"')
    subjects = []
    for num in data[0].split():
        typ, fetched = imap.fetch(num, '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
        subjects.append(fetched[0][1].decode().strip())
    out['inbox'][address] = sorted(subjects)
    imap.logout()
    try:
        imaplib.IMAP4_SSL('127.0.0.1', imaps_port, ssl_context=ctx).login(address, 'wrong-' + password)
        out['wrong_password_accepted'] = True
    except imaplib.IMAP4.error:
        pass

print(json.dumps(out), flush=True)
`;

let instance: Instance;
test.before(async () => {
  instance = await startInstance();
});
test.after(() => instance.stop());

test('the Mailbux guide workflow in Python: each step answers as documented; the accounts get mail and log in over IMAP', async () => {
  const token = readFileSync(join(instance.config.data_dir, 'bootstrap-root.key'), 'utf8').trim();
  const run = await runPython(SCRIPT, [
    String(instance.port('http')),
    String(instance.port('smtp-mx')),
    String(instance.port('imaps')),
    token,
  ]);
  assert.is(run.code, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  assert.equal(out.inbox, {
    'alice@acme.test': ['Subject: welcome alice@acme.test', 'Subject: welcome sales@acme.test'],
    'bob@acme.test': ['Subject: welcome bob@acme.test'],
    'carol@acme.test': ['Subject: welcome carol@acme.test'],
  });
  assert.is(out.wrong_password_accepted, undefined);
  assert.ok(out.records >= 8, String(out.records));
  // what the script made is what the native API shows
  const store = instance.server.store;
  assert.equal((await store.domains.get('acme.test'))!.dkim.map((k) => k.algorithm).sort(), [
    'ed25519-sha256',
    'rsa-sha256',
  ]);
  assert.equal((await store.addresses.get('sales@acme.test'))?.kind, 'account');
});

test.run();
