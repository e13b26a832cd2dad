// docs/seeds/sendmux-overview.txt: the SSE mailbox stream with curl -N (and its controls), the webhook
// verification snippet run verbatim in a receiver (only the header name branded), the Python
// `GET /billing/usage`, the per-team key limit and the sending rate limit.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/outbound.ts';
import { startSendmuxSeedServer, type SendmuxSeedServer } from '../helpers/seed-instance.ts';
import { assertInDocument, curlCommands, runCurl, runPython, seedText } from '../helpers/seeds.ts';
import { sendRaw } from '../helpers/smtp.ts';

const DOC = seedText('sendmux-overview.txt');
let s: SendmuxSeedServer;
let mailboxKey: string;

const deliver = (subject: string) =>
  sendRaw(
    s.instance.port('smtp-mx'),
    'partner@elsewhere.test',
    [s.mailbox.email],
    `From: partner@elsewhere.test\r\nTo: ${s.mailbox.email}\r\nSubject: ${subject}\r\n\r\nhi\r\n`,
  );

test.before(async () => {
  s = await startSendmuxSeedServer({ webhooks: { allow_http: true, allow_private_addresses: true } });
  const minted = await s.api('POST', `/mailboxes/${s.mailbox.id}/keys`, { app_name: 'agent' });
  mailboxKey = minted.body.data.api_key.key;
});
test.after(() => s?.stop());

test('curl -N on /mailbox/events with event_types streams message.received as mail arrives', async () => {
  const [command] = curlCommands(DOC);
  // The stream stays open 8 s: on a loaded machine starting curl and delivering over SMTP take seconds
  // (4 s missed the event once with the whole suite and two benches running, load 7).
  const streaming = runCurl(command!, [...s.replace, ['smx_mbx_your_key_here', mailboxKey]], 8);
  await new Promise((r) => setTimeout(r, 1000));
  assert.is((await deliver('streamed')).end?.code, 250);
  const reply = await streaming;
  assert.is(reply.status, 200);
  assert.match(reply.headers['content-type']!, /^text\/event-stream/);
  assert.match(reply.text, /event: message\.received\n/);
  assert.match(reply.text, /"subject":"streamed"/);
  const id = /^id: (\S+)$/m.exec(reply.text)![1]!;

  // Stream controls: Last-Event-ID resumes after it; ping 10–300 s; close_after 30–3,600 s.
  await deliver('while away');
  const resumed = await runCurl(
    `${command!} -H "Last-Event-ID: ${id}"`,
    [...s.replace, ['smx_mbx_your_key_here', mailboxKey]],
    2,
  );
  assert.match(resumed.text, /"subject":"while away"/);
  assert.not.match(resumed.text, /"subject":"streamed"/);
  for (const [query, status] of [
    ['ping=10', 200],
    ['ping=300', 200],
    ['ping=9', 400],
    ['ping=301', 400],
    ['close_after=30', 200],
    ['close_after=3600', 200],
    ['close_after=29', 400],
    ['close_after=3601', 400],
  ] as const) {
    const r = await runCurl(
      `curl -N "${s.origin}/api/v1/mailbox/events?${query}" -H "Authorization: Bearer ${mailboxKey}"`,
      [],
      1,
    );
    assert.is(r.status, status, query);
  }
});

test("the webhook verification snippet, run as printed in a receiver, trusts Wren's deliveries and refuses a tampered body", async () => {
  // The page prints the snippet on one line; here it is with its line breaks, `x-sendmux-signature` → `x-wrenmail-signature`.
  const snippet = `// verify X-Sendmux-Signature before parsing the body
const body = await req.text();
const mac = crypto.createHmac("sha256", secret).update(body).digest("hex");
const sig = req.headers["x-sendmux-signature"] ?? "";
const expected = \`sha256=\${mac}\`;
// constant-time compare avoids a signature timing oracle
const ok = expected.length === sig.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(sig));`;
  assertInDocument(DOC, snippet);
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const verify = new AsyncFunction(
    'crypto',
    'req',
    'secret',
    `${snippet.replaceAll('x-sendmux-signature', 'x-wrenmail-signature')}\nreturn { ok, body };`,
  );

  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const hook = await s.api('POST', '/webhooks', { url, event_types: ['message.received'] });
    assert.is(hook.status, 201, JSON.stringify(hook.body));
    const secret: string = hook.body.data.secret;
    await deliver('signed');
    const [delivery] = await waitFor(() => (received.length ? received : null), 15_000, 'a webhook delivery');
    const req = { text: async () => delivery!.body, headers: delivery!.headers };
    const verified = await verify(crypto, req, secret);
    assert.is(verified.ok, true, 'the snippet trusts the delivery');
    assert.is(JSON.parse(verified.body).type, 'message.received');
    const tampered = await verify(
      crypto,
      { ...req, text: async () => delivery!.body.replace('signed', 'forged') },
      secret,
    );
    assert.is(tampered.ok, false);
    assert.is((await verify(crypto, req, `${secret}x`)).ok, false, 'another secret fails');
    // The documented identity headers, branded.
    assert.match(String(delivery!.headers['x-wrenmail-event-id']), /^evt_/);
    assert.is(delivery!.headers['x-wrenmail-event-type'], 'message.received');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('the Python GET /billing/usage prints the usage envelope', async () => {
  const code = `import requests
res = requests.get(
    "https://app.sendmux.ai/api/v1/billing/usage",
    headers={"Authorization": "Bearer smx_infrastructure_key_here"},
)
print(res.json())`;
  assertInDocument(DOC, code);
  const run = await runPython(
    code.replace('https://app.sendmux.ai', s.origin).replace('smx_infrastructure_key_here', s.rootKey),
  );
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /^\{'ok': True, 'data': \{/);
  assert.match(run.stdout, /'received': \d+/);
});

test('sending and mailbox keys: 1,800 requests per 60 s; management keys 600', async () => {
  const mailbox = await s.api('GET', '/mailbox/me', undefined, mailboxKey);
  assert.is(mailbox.headers.get('x-ratelimit-limit'), '1800');
  assert.is((await s.api('GET', '/domains')).headers.get('x-ratelimit-limit'), '600');
});

test.run();
