import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { authenticate as mailauth } from 'mailauth';
import { authInput, claimsHost, receivedHeader } from '../../src/inbound/authenticate.ts';
import { stripFields, type InboundMessage } from '../../src/inbound/message.ts';
import { parseHeaders } from '../../src/mime/parsed-headers.ts';
import { applyFilters } from '../../src/inbound/route.ts';

const raw = Buffer.from(
  'Authentication-Results: mx.wren.test;\r\n\tspf=pass\r\nFrom: "Ann" <Ann@Sender.TEST>\r\nSubject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\n' +
    'Authentication-Results: other.host; dkim=pass\r\nX-Spam-Status: No\r\nList-Id: <news.example>\r\n\r\nbody\r\nAuthentication-Results: mx.wren.test; in the body\r\n',
);

test('stripFields removes whole folded fields and keeps every other byte (body included)', () => {
  const out = stripFields(raw, (name, value) => name === 'authentication-results' && claimsHost(value, 'mx.wren.test'));
  assert.is(
    out.toString(),
    'From: "Ann" <Ann@Sender.TEST>\r\nSubject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\nAuthentication-Results: other.host; dkim=pass\r\nX-Spam-Status: No\r\nList-Id: <news.example>\r\n\r\nbody\r\nAuthentication-Results: mx.wren.test; in the body\r\n',
  );
  assert.is(
    stripFields(raw, () => false),
    raw,
    'nothing dropped: the same buffer',
  );
});

test('claimsHost reads the authserv-id, ignoring case, comments and a version', () => {
  assert.ok(claimsHost('MX.Wren.Test; spf=pass', 'mx.wren.test'));
  assert.ok(claimsHost(' (comment) mx.wren.test 1; none', 'mx.wren.test'));
  assert.not.ok(claimsHost('mx.wren.test.evil; spf=pass', 'mx.wren.test'));
  assert.not.ok(claimsHost('other; spf=pass mx.wren.test', 'mx.wren.test'));
});

test('parseHeaders: lower-case From addresses, decoded Subject', () => {
  const h = parseHeaders(raw);
  assert.equal(h.from, ['ann@sender.test']);
  assert.is(h.subject, 'grüße');
  assert.is(h.get('list-id'), '<news.example>');
});

test('authInput: mailauth reads the header alone when no signature could cover the body, with the same result', async () => {
  const body = `${'1XXXXXXXXXXXXXXXXXXXXXXXX\r\n'.repeat(4000)}tail\n`;
  const head = 'From: <ann@sender.test>\r\nTo: <u0@wren.test>\r\nSubject: hi\r\n';
  // No DNS here: every lookup fails as a missing name would.
  const resolver = async () => {
    throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
  };
  const check = async (text: string, cut: boolean) => {
    const full = Buffer.from(text);
    const input = authInput(full);
    assert.is(input.length < full.length, cut, JSON.stringify(text.slice(0, 60)));
    if (cut) assert.ok(full.subarray(0, input.length).equals(input) && input.toString().endsWith('\n'));
    const opts = {
      ip: '127.0.0.1',
      helo: 'client.sender.test',
      sender: 'ann@sender.test',
      mta: 'mx.wren.test',
      resolver,
    };
    const [a, b] = [await mailauth(full, opts), await mailauth(input, opts)];
    assert.equal(JSON.parse(JSON.stringify(b)), JSON.parse(JSON.stringify(a)));
  };
  await check(`${head}\r\n${body}`, true);
  await check(`${head.replaceAll('\r\n', '\n')}\n${body}`, true); // bare LF line ends
  await check(`${head}\n\r\n${body}`, true);
  await check(`${head}${body}`, false); // no blank line: all of it is header
  const signed = `DKIM-Signature: v=1; a=rsa-sha256; d=sender.test; s=x; h=from; bh=abc=; b=def=\r\n${head}\r\n${body}`;
  await check(signed, false);
  await check(`ARC-Seal: i=1; a=rsa-sha256; cv=none; d=x.test; s=s; b=abc=\r\n${head}\r\n${body}`, false);
});

test('Received names the single recipient only', () => {
  const msg: InboundMessage = {
    id: 'abc.1',
    raw,
    mailFrom: 'a@b.test',
    rcptTo: ['x@wren.test'],
    client: { ip: '192.0.2.1', helo: 'h.test', hostname: null, protocol: 'ESMTPS' },
    receivedAt: 0,
  };
  assert.is(
    receivedHeader(msg, 'mx.wren.test'),
    'Received: from h.test (unknown [192.0.2.1])\r\n\tby mx.wren.test (Wren Mail) with ESMTPS id abc.1\r\n\tfor <x@wren.test>;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n',
  );
  assert.not.match(receivedHeader({ ...msg, rcptTo: ['x@wren.test', 'y@wren.test'] }, 'mx.wren.test'), /for </);
});

test('applyFilters: first folder wins, flags add up, discard ends; matching is case-insensitive', () => {
  const h = parseHeaders(raw);
  assert.equal(
    applyFilters(
      [
        { field: 'subject', contains: 'GRÜ', action: 'folder', value: 'German' },
        { field: 'from', contains: 'ann@sender', action: 'folder', value: 'Ann' },
        { field: 'from', contains: 'ann', action: 'flag', value: '\\Flagged' },
        { field: 'header', header: 'List-Id', contains: 'news.example', action: 'flag', value: 'list' },
        { field: 'to', contains: 'nobody', action: 'discard' },
      ],
      h,
    ),
    { folder: 'German', flags: ['\\Flagged', 'list'], discard: false },
  );
  assert.is(
    applyFilters([{ field: 'header', header: 'list-id', contains: 'NEWS', action: 'discard' }], h).discard,
    true,
  );
  assert.is(
    applyFilters([{ field: 'subject', contains: '', action: 'discard' }], h).discard,
    false,
    'an empty pattern matches nothing',
  );
});

test.run();
