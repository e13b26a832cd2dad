import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { claimsHost, receivedHeader } from '../../src/inbound/authenticate.ts';
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
