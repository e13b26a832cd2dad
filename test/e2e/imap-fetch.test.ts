// FETCH byte-exactness against real third-party messages (the in-repo MIME fixtures): BODY[], HEADER,
// TEXT, part MIME headers, partials, HEADER.FIELDS, BINARY; compared with slices of the raw files.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { findSection, indexMessage } from '../../src/mime/index.ts';
import { fetchItemsOf } from '../../src/store/blobs.ts';
import { fixtureMessages, MIME_FIXTURES } from '../helpers/fixtures.ts';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';

// Nested multiparts first: a forwarded message with its own multipart (CRLF), an attached message,
// base64 attachments, then five levels of multipart and message/rfc822 inside each other.
const NAMED = [
  'flanker/enclosed.eml',
  'mikel-mail/attachment_emails/attachment_message_rfc822.eml',
  'mailparser/nodemailer.eml',
  'stalwart-mail-parser/thirdparty/008.eml',
];
const SPREAD = 40;

/** The named messages, then SPREAD more taken evenly across every fixture source. */
function messages(): Buffer[] {
  const all = fixtureMessages(MIME_FIXTURES);
  const byName = new Map(all.map((s) => [s.name, s.raw]));
  const rest = all.filter((s) => !NAMED.includes(s.name));
  const spread = Array.from({ length: SPREAD }, (_, i) => rest[Math.floor((i * rest.length) / SPREAD)]!.raw);
  const named = NAMED.map((n) => {
    const raw = byName.get(n);
    if (!raw) throw new Error(`fixture ${n} missing`);
    return raw;
  });
  return [...named, ...spread];
}

let f: ImapFixture;
let c: RawClient;
const raws: Buffer[] = [];

test.before(async () => {
  f = await startImap();
  for (const raw of messages()) {
    raws.push(raw);
    await f.deliver(raw);
  }
  c = await RawClient.connect(f.port);
  await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
  await c.command('s', 'SELECT INBOX');
});
test.after(async () => {
  c.close();
  await f.close();
});

/** Sends a FETCH for one item and returns the literal (or quoted) value that follows `label`. */
async function fetchItem(seq: number, item: string, label: string): Promise<Buffer | null> {
  const out = await c.command('f', `FETCH ${seq} (${item})`);
  const at = out.indexOf(`${label} `);
  if (at < 0) throw new Error(`no ${label} in ${out.slice(0, 300)}`);
  const rest = out.slice(at + label.length + 1);
  if (rest.startsWith('NIL')) return null;
  if (rest.startsWith('""')) return Buffer.alloc(0);
  const m = /^~?\{(\d+)\}\r\n/.exec(rest);
  if (!m) throw new Error(`no literal after ${label}: ${rest.slice(0, 80)}`);
  return Buffer.from(rest.slice(m[0].length, m[0].length + Number(m[1])), 'latin1');
}

const headerEnd = (raw: Buffer): number => {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return crlf + 4;
  return lf >= 0 ? lf + 2 : raw.length;
};

test('BODY.PEEK[] and RFC822.SIZE are the stored bytes, for every message', async () => {
  for (let i = 0; i < raws.length; i++) {
    const body = await fetchItem(i + 1, 'BODY.PEEK[]', 'BODY[]');
    assert.ok(body!.equals(raws[i]!), `message ${i + 1} differs`);
    const out = await c.command('z', `FETCH ${i + 1} RFC822.SIZE`);
    assert.match(out, new RegExp(`RFC822.SIZE ${raws[i]!.length}\\)`));
  }
});

/** Every literal of a reply, in order. */
function literals(reply: string): Buffer[] {
  const found: Buffer[] = [];
  const literal = /\{(\d+)\}\r\n/g;
  for (let m = literal.exec(reply); m; m = literal.exec(reply)) {
    found.push(Buffer.from(reply.slice(literal.lastIndex, literal.lastIndex + Number(m[1])), 'latin1'));
    literal.lastIndex += Number(m[1]);
  }
  return found;
}

// One command for all of them: the bodies go out beside the response text in shared writes.
test('one FETCH 1:* BODY.PEEK[] carries every message whole, in order: plain, and TLS with COMPRESS=DEFLATE', async () => {
  const plain = literals(await c.command('all', 'FETCH 1:* BODY.PEEK[]'));
  assert.is(plain.length, raws.length);
  plain.forEach((body, i) => assert.ok(body.equals(raws[i]!), `message ${i + 1} differs`));
  const client = await f.client({ secure: true });
  await client.mailboxOpen('INBOX');
  const sources: Buffer[] = [];
  for await (const m of client.fetch('1:*', { source: true })) sources.push(m.source!);
  assert.ok((client as unknown as { _deflate?: unknown })._deflate, 'imapflow turned COMPRESS=DEFLATE on');
  assert.is(sources.length, raws.length);
  sources.forEach((body, i) => assert.ok(body.equals(raws[i]!), `message ${i + 1} differs over TLS + DEFLATE`));
  await client.logout();
});

test('HEADER, TEXT and partials are slices of the raw file', async () => {
  for (let i = 0; i < raws.length; i += 3) {
    const raw = raws[i]!;
    const end = headerEnd(raw);
    assert.ok(
      (await fetchItem(i + 1, 'BODY.PEEK[HEADER]', 'BODY[HEADER]'))!.equals(raw.subarray(0, end)),
      `header ${i + 1}`,
    );
    assert.ok((await fetchItem(i + 1, 'BODY.PEEK[TEXT]', 'BODY[TEXT]'))!.equals(raw.subarray(end)), `text ${i + 1}`);
    const partial = await fetchItem(i + 1, 'BODY.PEEK[]<10.50>', 'BODY[]<10>');
    assert.ok(partial!.equals(raw.subarray(10, 60)));
  }
  const beyond = await fetchItem(1, `BODY.PEEK[]<${raws[0]!.length + 5}.10>`, `BODY[]<${raws[0]!.length + 5}>`);
  assert.is(beyond!.length, 0);
});

test('part MIME headers and bodies of nested parts match the indexer offsets', async () => {
  for (let i = 0; i < NAMED.length; i++) {
    const raw = raws[i]!;
    const index = indexMessage(raw);
    const paths: number[][] = [];
    const walk = (node = index.root, path: number[] = []): void => {
      (node.children ?? []).forEach((child, n) => {
        paths.push([...path, n + 1]);
        walk(child, [...path, n + 1]);
      });
    };
    walk();
    assert.ok(paths.length > 1, 'multipart fixture');
    for (const path of paths) {
      const node = findSection(index, path)!;
      const p = path.join('.');
      const mime = await fetchItem(i + 1, `BODY.PEEK[${p}.MIME]`, `BODY[${p}.MIME]`);
      assert.ok(mime!.equals(raw.subarray(node.start, node.bodyStart)), `MIME ${p} of ${i + 1}`);
      const body = await fetchItem(i + 1, `BODY.PEEK[${p}]`, `BODY[${p}]`);
      assert.ok(body!.equals(raw.subarray(node.bodyStart, node.end)), `body ${p} of ${i + 1}`);
    }
  }
});

test('HEADER.FIELDS and HEADER.FIELDS.NOT select raw field lines', async () => {
  const raw = raws[0]!;
  const header = raw.subarray(0, headerEnd(raw)).toString('latin1');
  const fields = await fetchItem(1, 'BODY.PEEK[HEADER.FIELDS (Subject FROM)]', 'BODY[HEADER.FIELDS (Subject FROM)]');
  const expected = `${header
    .split(/(?<=\n)(?![ \t])/)
    .filter((l) => /^(subject|from)\s*:/i.test(l))
    .join('')}\r\n`;
  assert.is(fields!.toString('latin1'), expected);
  const not = (await fetchItem(
    1,
    'BODY.PEEK[HEADER.FIELDS.NOT (Subject)]',
    'BODY[HEADER.FIELDS.NOT (Subject)]',
  ))!.toString('latin1');
  assert.not.match(not, /^subject:/im);
  assert.match(not, /^from:/im);
});

test('BINARY decodes the part; BINARY.SIZE agrees; BODY[] without PEEK sets \\Seen', async () => {
  const which = 2; // nodemailer.eml has base64 attachments
  const index = indexMessage(raws[which]!);
  let target = null as number[] | null;
  const walk = (path: number[]): void => {
    const node = findSection(index, path);
    if (!node || target) return;
    if (!node.children && node.encoding.toLowerCase() === 'base64') target = path;
    (node.children ?? []).forEach((_, n) => walk([...path, n + 1]));
  };
  index.root.children!.forEach((_, n) => walk([n + 1]));
  assert.ok(target, 'fixture has a base64 part');
  const p = target!.join('.');
  const node = findSection(index, target!)!;
  const decoded = Buffer.from(raws[which]!.subarray(node.bodyStart, node.end).toString('latin1'), 'base64');
  const binary = await fetchItem(which + 1, `BINARY.PEEK[${p}]`, `BINARY[${p}]`);
  assert.ok(binary!.equals(decoded));
  assert.match(await c.command('b', `FETCH ${which + 1} BINARY.SIZE[${p}]`), `BINARY.SIZE[${p}] ${decoded.length}`);
  // c was the first session to select INBOX: its messages are \Recent to it.
  assert.match(await c.command('b', `FETCH ${which + 1} FLAGS`), /FLAGS \(\\Recent\)/);
  assert.match(await c.command('b', `FETCH ${which + 1} BODY[1]`), /FLAGS \(\\Seen \\Recent\)/);
});

test('ENVELOPE and BODYSTRUCTURE of a message with an attached message', async () => {
  const out = await c.command('e', 'FETCH 2 (ENVELOPE BODYSTRUCTURE BODY)');
  assert.match(out, /ENVELOPE \(/);
  assert.match(out, /"MESSAGE" "RFC822"/);
  assert.match(out, /BODY \(/);
});

// Formatted at delivery (store/blobs.ts fetchItems); content stored by an earlier version has no
// such record, and its items are formatted from the structure: the same bytes either way.
test('ENVELOPE and BODYSTRUCTURE: as formatted at delivery, and for content stored without that record', async () => {
  const seq = raws.length + 1;
  const fresh = NAMED.map((_, i) => Buffer.concat([Buffer.from(`X-Fetch-Items: ${i}\r\n`), raws[i]!]));
  for (const raw of fresh) await f.deliver(raw);
  const added = (await f.store.messages.list(f.inbox.id)).slice(-fresh.length);
  await f.store.kv.engine.batch([
    { type: 'del', key: `be/${added[1]!.blob}` },
    { type: 'del', key: `be/${added[3]!.blob}` },
  ]);
  await c.command('p', 'NOOP'); // the session learns of the new messages
  const out = await c.command('n', `FETCH ${seq}:* (ENVELOPE BODYSTRUCTURE)`);
  const again = await c.command('n', `FETCH ${seq}:* (ENVELOPE BODYSTRUCTURE)`); // from memory now
  for (let i = 0; i < added.length; i++) {
    const expected = fetchItemsOf(await f.store.blobs.structure(added[i]!.blob));
    const line = `* ${seq + i} FETCH (ENVELOPE ${expected.envelope} BODYSTRUCTURE ${expected.bodyStructure})\r\n`;
    const wire = Buffer.from(line, 'utf8').toString('latin1'); // RawClient reads bytes as latin1
    assert.ok(out.includes(wire), `message ${seq + i}: ${out.slice(0, 400)}`);
    assert.ok(again.includes(wire), `message ${seq + i}, second FETCH`);
  }
});

test.run();
