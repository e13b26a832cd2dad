// Mail-client setup documents over HTTP: Thunderbird autoconfig, Outlook autodiscover (POX) and the
// Apple .mobileconfig, each parsed by a real XML/plist parser (Python's ElementTree and plistlib) and
// checked field by field, with hostile input (XML injection, entities, unknown domains).
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startApi, type ApiFixture } from '../helpers/api.ts';

const PARSE = `
import sys, json, plistlib, xml.etree.ElementTree as ET
data = sys.stdin.buffer.read()
if sys.argv[1] == 'plist':
    print(json.dumps(plistlib.loads(data, fmt=plistlib.FMT_XML)))
else:
    def conv(e):
        ns, _, tag = e.tag.rpartition('}')
        return {'tag': tag, 'ns': ns.lstrip('{'), 'attrib': e.attrib, 'text': (e.text or '').strip(), 'children': [conv(c) for c in e]}
    print(json.dumps(conv(ET.fromstring(data))))
`;

interface XmlNode {
  tag: string;
  ns: string;
  attrib: Record<string, string>;
  text: string;
  children: XmlNode[];
}

/** Parses with Python (a parser that rejects anything not well-formed); plist → plain JSON values. */
function parse(kind: 'xml' | 'plist', body: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', PARSE, kind]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`not well-formed ${kind}: ${err}`)),
    );
    child.stdin.end(body);
  });
}

const children = (node: XmlNode, tag: string): XmlNode[] => node.children.filter((c) => c.tag === tag);
const child = (node: XmlNode, tag: string): XmlNode => children(node, tag)[0]!;
/** An element's child elements as {tag: text}. */
const fields = (node: XmlNode): Record<string, string> =>
  Object.fromEntries(node.children.filter((c) => !c.children.length).map((c) => [c.tag, c.text]));

interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** HTTP with a chosen Host header (fetch forbids setting it). */
function http(
  f: ApiFixture,
  path: string,
  options: { method?: string; host?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<HttpReply> {
  const url = new URL(f.base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: url.port,
        path,
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `127.0.0.1:${url.port}`, ...options.headers },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const PORTS = { imaps: 10993, submission: 10587, submissions: 10465 };
const CLIENT_PORTS = { imap: 10143, pop3s: 10995, pop3: null };

async function fixture(hostname = 'mail.wren.test', clientPorts: object = CLIENT_PORTS): Promise<ApiFixture> {
  const f = await startApi({ hostname, ports: PORTS, clientPorts });
  await f.store.domains.create(f.teamId, 'wren.test');
  return f;
}

function autodiscoverRequest(email: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${email}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
}

test('Thunderbird autoconfig: every service with hostname, port, socketType and %EMAILADDRESS%', async () => {
  const f = await fixture();
  try {
    const byAddress = await http(f, '/mail/config-v1.1.xml?emailaddress=pat%40WREN.test');
    assert.is(byAddress.status, 200, byAddress.body);
    assert.match(String(byAddress.headers['content-type']), /^application\/xml/);
    // The well-known path, asked of the domain itself (no address), and autoconfig.<domain>.
    const wellKnown = await http(f, '/.well-known/autoconfig/mail/config-v1.1.xml', { host: 'wren.test' });
    const subdomain = await http(f, '/mail/config-v1.1.xml', { host: 'autoconfig.wren.test:8080' });
    assert.is(wellKnown.body, byAddress.body);
    assert.is(subdomain.body, byAddress.body);

    const doc: XmlNode = await parse('xml', byAddress.body);
    assert.is(doc.tag, 'clientConfig');
    assert.is(doc.attrib.version, '1.1');
    const provider = child(doc, 'emailProvider');
    assert.is(provider.attrib.id, 'wren.test');
    assert.is(child(provider, 'domain').text, 'wren.test');
    const server = (node: XmlNode) => ({ type: node.attrib.type, ...fields(node) });
    const common = { hostname: 'mail.wren.test', username: '%EMAILADDRESS%', authentication: 'password-cleartext' };
    assert.equal(children(provider, 'incomingServer').map(server), [
      { type: 'imap', ...common, port: '10993', socketType: 'SSL' },
      { type: 'imap', ...common, port: '10143', socketType: 'STARTTLS' },
      { type: 'pop3', ...common, port: '10995', socketType: 'SSL' }, // pop3 (plain) is off: not offered
    ]);
    assert.equal(children(provider, 'outgoingServer').map(server), [
      { type: 'smtp', ...common, port: '10465', socketType: 'SSL' },
      { type: 'smtp', ...common, port: '10587', socketType: 'STARTTLS' },
    ]);

    assert.is((await http(f, '/mail/config-v1.1.xml?emailaddress=pat@elsewhere.test')).status, 404);
    assert.is((await http(f, '/mail/config-v1.1.xml', { host: 'autoconfig.elsewhere.test' })).status, 404);
    assert.is((await http(f, '/mail/config-v1.1.xml?emailaddress=not-an-address')).status, 400);
    const put = await http(f, '/mail/config-v1.1.xml', { method: 'PUT', host: 'wren.test' });
    assert.is(put.status, 405);
    assert.is(put.headers.allow, 'GET, HEAD');
  } finally {
    await f.close();
  }
});

test('Outlook autodiscover (POX): POST and GET, one Protocol per type, LoginName the address', async () => {
  const f = await fixture();
  try {
    const reply = await http(f, '/Autodiscover/Autodiscover.xml', {
      method: 'POST',
      body: autodiscoverRequest('Pat@wren.test'),
      headers: { 'content-type': 'text/xml' },
    });
    assert.is(reply.status, 200, reply.body);
    const doc: XmlNode = await parse('xml', reply.body);
    assert.is(doc.tag, 'Autodiscover');
    assert.is(doc.ns, 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006');
    const response = child(doc, 'Response');
    assert.is(response.ns, 'http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a');
    const account = child(response, 'Account');
    assert.is(child(account, 'AccountType').text, 'email');
    assert.is(child(account, 'Action').text, 'settings');
    const common = {
      Server: 'mail.wren.test',
      DomainRequired: 'off',
      LoginName: 'Pat@wren.test',
      SPA: 'off',
      SSL: 'on',
      AuthRequired: 'on',
    };
    assert.equal(children(account, 'Protocol').map(fields), [
      { Type: 'IMAP', Port: '10993', Encryption: 'SSL', ...common },
      { Type: 'POP3', Port: '10995', Encryption: 'SSL', ...common },
      { Type: 'SMTP', Port: '10465', Encryption: 'SSL', UsePOPAuth: 'on', SMTPLast: 'off', ...common },
    ]);

    const viaGet = await http(f, '/autodiscover/autodiscover.xml?email=Pat%40wren.test');
    assert.is(viaGet.body, reply.body);
    const unknown = await http(f, '/autodiscover/autodiscover.xml', {
      method: 'POST',
      body: autodiscoverRequest('pat@elsewhere.test'),
    });
    assert.is(unknown.status, 404);
    assert.is(
      (await http(f, '/autodiscover/autodiscover.xml', { method: 'POST', body: '<Autodiscover/>' })).status,
      400,
    );
    const huge = await http(f, '/autodiscover/autodiscover.xml', {
      method: 'POST',
      body: autodiscoverRequest('pat@wren.test') + ' '.repeat(20_000),
    });
    assert.is(huge.status, 413);
  } finally {
    await f.close();
  }
});

test('XML injection: addresses and the host name are escaped, entities are never expanded', async () => {
  const hostile = `mail.wren.test"><evil a='1'>&amp;`;
  const f = await fixture(hostile, { ...CLIENT_PORTS, imaps: null, imap: null });
  try {
    // Legal atext characters that are XML specials: ' and &.
    const address = "o'brien&co@wren.test";
    const reply = await http(f, '/autodiscover/autodiscover.xml', {
      method: 'POST',
      body: autodiscoverRequest('o&apos;brien&amp;co@wren.test'),
    });
    assert.is(reply.status, 200, reply.body);
    const protocols = children(child(child(await parse('xml', reply.body), 'Response'), 'Account'), 'Protocol').map(
      fields,
    );
    assert.equal(
      protocols.map((p) => [p.Type, p.Server, p.LoginName]),
      [
        ['POP3', hostile, address],
        ['SMTP', hostile, address],
      ],
    );

    const tb: XmlNode = await parse(
      'xml',
      (await http(f, `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(address)}`)).body,
    );
    const incoming = children(child(tb, 'emailProvider'), 'incomingServer');
    assert.equal(
      incoming.map((s) => [s.attrib.type, fields(s).hostname]),
      [['pop3', hostile]],
    );

    const profile = await http(f, `/apple/mobileconfig?email=${encodeURIComponent(address)}`);
    const plist = await parse('plist', profile.body);
    assert.is(plist.PayloadContent[0].EmailAddress, address);
    assert.is(plist.PayloadContent[0].IncomingMailServerHostName, hostile);
    assert.is(plist.PayloadContent[0].EmailAccountType, 'EmailTypePOP'); // IMAP is off here
    assert.is(plist.PayloadContent[0].IncomingMailServerPortNumber, 10995);

    // Markup in the address is refused outright; an entity bomb stays unexpanded text (and is no address).
    assert.is(
      (await http(f, `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent('"><x>@wren.test')}`)).status,
      400,
    );
    const bomb = `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
      <Autodiscover><Request><EMailAddress>&b;@wren.test</EMailAddress></Request></Autodiscover>`;
    assert.is((await http(f, '/autodiscover/autodiscover.xml', { method: 'POST', body: bomb })).status, 400);
  } finally {
    await f.close();
  }
});

test('Apple .mobileconfig: a well-formed plist with the account, stable UUIDs per address', async () => {
  const f = await fixture();
  try {
    const reply = await http(f, '/apple/mobileconfig?email=pat%40wren.test');
    assert.is(reply.status, 200, reply.body);
    assert.is(reply.headers['content-type'], 'application/x-apple-aspen-config');
    assert.is(reply.headers['content-disposition'], 'attachment; filename="wren.test.mobileconfig"');
    const profile = await parse('plist', reply.body);
    assert.is(profile.PayloadType, 'Configuration');
    assert.is(profile.PayloadVersion, 1);
    assert.is(profile.PayloadOrganization, 'wren.test');
    assert.match(profile.PayloadUUID, /^[0-9A-F]{8}-[0-9A-F]{4}-8[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/);
    assert.match(profile.PayloadIdentifier, /^test\.wren\.mail\.mail\.[0-9a-f]{16}$/);
    assert.is(profile.PayloadContent.length, 1);
    const account = profile.PayloadContent[0];
    assert.equal(
      { ...account, PayloadUUID: undefined, PayloadIdentifier: undefined },
      {
        EmailAccountDescription: 'pat@wren.test',
        EmailAccountType: 'EmailTypeIMAP',
        EmailAddress: 'pat@wren.test',
        IncomingMailServerAuthentication: 'EmailAuthPassword',
        IncomingMailServerHostName: 'mail.wren.test',
        IncomingMailServerPortNumber: 10993,
        IncomingMailServerUseSSL: true,
        IncomingMailServerUsername: 'pat@wren.test',
        OutgoingMailServerAuthentication: 'EmailAuthPassword',
        OutgoingMailServerHostName: 'mail.wren.test',
        OutgoingMailServerPortNumber: 10465,
        OutgoingMailServerUseSSL: true,
        OutgoingMailServerUsername: 'pat@wren.test',
        OutgoingPasswordSameAsIncomingPassword: true,
        PayloadDescription: 'Mail account pat@wren.test',
        PayloadDisplayName: 'pat@wren.test',
        PayloadType: 'com.apple.mail.managed',
        PayloadVersion: 1,
        SMIMEEnabled: false,
        PayloadUUID: undefined,
        PayloadIdentifier: undefined,
      },
    );
    assert.is.not(account.PayloadUUID, profile.PayloadUUID);
    // Downloading again gives the same identifiers (the device replaces the profile); another address, others.
    const again = await parse('plist', (await http(f, '/apple/mobileconfig?email=pat%40wren.test')).body);
    assert.is(again.PayloadUUID, profile.PayloadUUID);
    const other = await parse('plist', (await http(f, '/apple/mobileconfig?email=sam%40wren.test')).body);
    assert.is.not(other.PayloadUUID, profile.PayloadUUID);

    assert.is((await http(f, '/apple/mobileconfig')).status, 400);
    assert.is((await http(f, '/apple/mobileconfig?email=pat%40elsewhere.test')).status, 404);
  } finally {
    await f.close();
  }
});

test.run();
