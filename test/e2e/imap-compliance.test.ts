// RFC details that Dovecot's imaptest found missing, each checked over a real socket where the
// imaptest group alone would not make the cause obvious.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startImap, PASSWORD, USER, type ImapFixture } from '../helpers/imap.ts';
import { hashPassword } from '../../src/security/passwords.ts';
import { keys } from '../../src/store/keys.ts';

let f: ImapFixture;
let c: RawClient;

test.before(async () => {
  f = await startImap();
  c = await RawClient.connect(f.port);
  await c.command('l', `LOGIN ${USER} "${PASSWORD}"`);
});
test.after(async () => {
  c.close();
  await f.close();
});

/** A fresh folder holding `messages`, selected. */
async function folderWith(name: string, ...messages: string[]): Promise<void> {
  await c.command('c', `CREATE ${name}`);
  const folder = f.store.folders.byName(f.account.id, name)!;
  for (const raw of messages) await f.deliver(raw, folder);
  await c.command('s', `SELECT ${name}`);
}

const plain = (subject: string, extra = ''): string =>
  `From: a@example.org\r\nSubject: ${subject}\r\n${extra}\r\nbody\r\n`;

test('system flags are case-insensitive: \\deleted is \\Deleted for EXPUNGE, STATUS and SEARCH (RFC 3501 2.3.2)', async () => {
  await folderWith('Flags', plain('one'), plain('two'), plain('three'));
  assert.match(await c.command('a', 'STORE 1 +FLAGS (\\deleted)'), /\* 1 FETCH \(FLAGS \(\\Deleted \\Recent\)\)/);
  await c.command('b', 'STORE 2 +FLAGS (\\SEEN)');
  assert.match(await c.command('q', 'SEARCH DELETED'), /\* SEARCH 1\r\n/);
  assert.match(await c.command('q', 'STATUS Flags (UNSEEN)'), /UNSEEN 2\)/);
  assert.match(await c.command('e', 'EXPUNGE'), /\* 1 EXPUNGE\r\n/);
  assert.match(
    await c.command('q', 'FETCH 1:* FLAGS'),
    /\* 1 FETCH \(FLAGS \(\\Seen \\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)/,
  );
});

test('a new keyword is announced in FLAGS and PERMANENTFLAGS before it is used (RFC 3501 7.2.6)', async () => {
  await folderWith('Keywords', plain('one'), plain('two'));
  const other = await RawClient.connect(f.port);
  try {
    await other.command('l', `LOGIN ${USER} "${PASSWORD}"`);
    await other.command('s', 'SELECT Keywords');
    const own = await c.command('a', 'STORE 1 +FLAGS ($Label1)');
    assert.match(
      own,
      /\* FLAGS \([^)]*\$Label1\)\r\n\* OK \[PERMANENTFLAGS \([^)]*\$Label1 \\\*\)\][^\r]*\r\n\* 1 FETCH/,
    );
    assert.not.match(
      await c.command('b', 'STORE 2 +FLAGS ($label1)'),
      /\* FLAGS/,
      'a known keyword in another case is not new',
    );
    const seen = await other.command('n', 'NOOP');
    assert.match(seen, /\* FLAGS \([^)]*\$Label1\)\r\n(.*\r\n)*\* 1 FETCH \(FLAGS \(\$Label1\)\)/);
  } finally {
    other.close();
  }
});

test('STORE announces a keyword another session added before its FETCH shows it on a message it left unchanged (RFC 3501 7.2.6)', async () => {
  await folderWith('KeywordsElsewhere', plain('one'));
  await c.command('a', 'STORE 1 +FLAGS (\\Seen)');
  const other = await RawClient.connect(f.port);
  try {
    await other.command('l', `LOGIN ${USER} "${PASSWORD}"`);
    await other.command('s', 'SELECT KeywordsElsewhere');
    await other.command('k', 'STORE 1 +FLAGS ($Elsewhere)');
  } finally {
    other.close();
  }
  // \Seen is there already: the message is unchanged, but its FETCH shows $Elsewhere, new to this session.
  const reply = await c.command('b', 'STORE 1 +FLAGS (\\Seen)');
  const fetchAt = reply.search(/\* 1 FETCH \(FLAGS \([^)]*\$Elsewhere/);
  const flagsAt = reply.search(/\* FLAGS \([^)]*\$Elsewhere/);
  assert.ok(fetchAt >= 0, reply);
  assert.ok(flagsAt >= 0 && flagsAt < fetchAt, `FLAGS before the FETCH that uses the keyword:\n${reply}`);
});

test("SENTON/SENTBEFORE/SENTSINCE take the Date: header's own day, whatever its zone (RFC 3501 6.4.4)", async () => {
  await folderWith(
    'Sent',
    plain('late', 'Date: Sat, 24 Mar 2007 23:00:00 +0200\r\n'), // 21:00 UTC on the 24th
    plain('midnight', 'Date: Sun, 25 Mar 2007 00:30:00 +0200\r\n'), // 22:30 UTC on the 24th
    plain('west', 'Date: Sun, 25 Mar 2007 20:00:00 -0800\r\n'), // 04:00 UTC on the 26th
  );
  assert.match(await c.command('q', 'SEARCH SENTON 25-Mar-2007'), /\* SEARCH 2 3\r\n/);
  assert.match(await c.command('q', 'SEARCH SENTBEFORE 25-Mar-2007'), /\* SEARCH 1\r\n/);
  assert.match(await c.command('q', 'SEARCH SENTSINCE 26-Mar-2007'), /\* SEARCH\r\n/);
});

test('SORT DATE and SENTON read a 12-hour clock: "10:05:15 PM -0500" is 22:05 there (RFC 5256 §3)', async () => {
  await folderWith(
    'Clock',
    plain('night', 'Date: Thu, 28 Jun 2001 10:05:15 PM -0500\r\n'), // 03:05 UTC on the 29th
    plain('noon', 'Date: Thu, 28 Jun 2001 11:00:00 -0500\r\n'), // 16:00 UTC on the 28th
    plain('evening', 'Date: Thu, 28 Jun 2001 09:00 PM -0500\r\n'), // 02:00 UTC on the 29th
  );
  assert.match(await c.command('q', 'SORT (DATE) US-ASCII ALL'), /\* SORT 2 3 1\r\n/);
  assert.match(await c.command('q', 'SEARCH SENTON 28-Jun-2001'), /\* SEARCH 1 2 3\r\n/);
});

test('SEARCH HEADER name "" matches the messages that have the field, indexed or not (RFC 3501 6.4.4)', async () => {
  await folderWith(
    'Headers',
    plain('with cc', 'Cc: b@example.org\r\nX-Tag: x\r\n'),
    'From: a@example.org\r\n\r\nno subject\r\n',
  );
  assert.match(await c.command('q', 'SEARCH HEADER SUBJECT ""'), /\* SEARCH 1\r\n/);
  assert.match(await c.command('q', 'SEARCH NOT HEADER CC ""'), /\* SEARCH 2\r\n/);
  assert.match(await c.command('q', 'SEARCH HEADER X-Tag ""'), /\* SEARCH 1\r\n/);
  assert.match(await c.command('q', 'SEARCH HEADER FROM ""'), /\* SEARCH 1 2\r\n/);
});

test('ENVELOPE keeps a source route as the address adl (RFC 3501 7.4.2)', async () => {
  await folderWith('Route', 'From: <@relay.example,@hop.example:user@example.org>\r\nSubject: r\r\n\r\nx\r\n');
  assert.match(
    await c.command('q', 'FETCH 1 ENVELOPE'),
    /\(\(NIL "@relay\.example,@hop\.example" "user" "example\.org"\)\)/,
  );
});

test('"[" is an atom character and a name that is not modified UTF-7 is a missing mailbox (NO), not a syntax error', async () => {
  assert.match(
    await c.command('d', 'FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM)]'),
    /^d OK/m,
    'a section in brackets still holds spaces',
  );
  assert.match(await c.command('a', 'SELECT foo[bar'), /^a NO \[NONEXISTENT\]/m);
  assert.match(await c.command('b', "SELECT &'+,-x"), /^b NO \[NONEXISTENT\]/m);
  assert.match(await c.command('c', 'LIST "" &\'+,-[%*'), /^c OK/m);
});

test('SORT compares base subjects and mailboxes case-mapped (RFC 5256 2.1); THREAD puts a reply under its original (RFC 5256 5)', async () => {
  await folderWith(
    'Ordered',
    'Message-ID: <a@x>\r\nSubject: foo\r\nCc: user2@example.org\r\n\r\nx\r\n',
    'Message-ID: <b@x>\r\nReferences: <gone@x>\r\nSubject: Re: foo\r\nCc: user2: blah@example.org;\r\n\r\nx\r\n',
    'Message-ID: <c@x>\r\nSubject: _under\r\nCc: user1@example.org\r\n\r\nx\r\n',
    'Message-ID: <d@x>\r\nSubject: re: [fwd: [fwd: re: [fwd: babylon]]]\r\n\r\nx\r\n',
  );
  assert.match(
    await c.command('q', 'SORT (SUBJECT) UTF-8 ALL'),
    /\* SORT 4 1 2 3\r\n/,
    '"_" sorts after letters; [fwd: ...] wrappers go',
  );
  assert.match(
    await c.command('q', 'SORT (REVERSE CC) UTF-8 1:3'),
    /\* SORT 1 2 3\r\n/,
    'a group sorts by its name; ties keep sequence order',
  );
  assert.match(await c.command('q', 'THREAD REFERENCES UTF-8 1:2'), /\* THREAD \(1 2\)\r\n/);
});

test('the first CONDSTORE-enabling command reports HIGHESTMODSEQ; ESEARCH MODSEQ is that of the MIN/MAX message (RFC 7162 3.1, RFC 4731 3.2)', async () => {
  await folderWith('Modseq', plain('one'), plain('two'), plain('three'));
  assert.match(await c.command('a', 'FETCH 1 MODSEQ'), /\* OK \[HIGHESTMODSEQ \d+\]/);
  const modseqOf = async (n: number): Promise<string> =>
    /MODSEQ \((\d+)\)/.exec(await c.command('s', `STORE ${n} +FLAGS (\\Seen)`))![1]!;
  const one = await modseqOf(1);
  const three = await modseqOf(3);
  await modseqOf(2); // the highest modseq now belongs to neither MIN nor MAX
  assert.match(
    await c.command('q', 'SEARCH RETURN (MIN) MODSEQ 1'),
    new RegExp(`ESEARCH \\(TAG "q"\\) MIN 1 MODSEQ ${one}\r\n`),
  );
  assert.match(
    await c.command('q', 'SEARCH RETURN (MAX) MODSEQ 1'),
    new RegExp(`ESEARCH \\(TAG "q"\\) MAX 3 MODSEQ ${three}\r\n`),
  );
});

test('decoded quoted-printable drops blanks at line ends (RFC 2045 6.7 rule 3)', async () => {
  await folderWith(
    'Qp',
    'Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhello  \r\nfoo=09 \t\r\nkeep=20\r\nend\t',
  );
  assert.match(
    await c.command('q', 'FETCH 1 BINARY.PEEK[1]'),
    /BINARY\[1\] \{23\}\r\nhello\r\nfoo\t\r\nkeep \r\nend\)/,
  );
});

test('subscriptions outlive DELETE and need no folder; LIST-EXTENDED \\NonExistent and CHILDINFO, LSUB \\Noselect parents (RFC 3501 6.3.4/6.3.9, RFC 5258)', async () => {
  await c.command('a', 'CREATE Subs/Kept');
  await c.command('b', 'CREATE Subs/Gone');
  await c.command('c', 'CREATE Subs/Deep/Child');
  assert.not.match(await c.command('d', 'LIST (SUBSCRIBED) "" Subs/*'), /\* LIST/, 'CREATE does not subscribe');
  for (const name of ['Subs/Kept', 'Subs/Gone', 'Subs/Deep/Child', 'Subs/Later'])
    assert.match(await c.command('e', `SUBSCRIBE ${name}`), /^e OK/m);
  await c.command('f', 'DELETE Subs/Gone');
  const subscribed = await c.command('g', 'LIST (SUBSCRIBED) "" Subs/*');
  assert.match(subscribed, /\* LIST \(\\NonExistent \\HasNoChildren \\Subscribed\) "\/" "Subs\/Gone"\r\n/);
  assert.match(subscribed, /\* LIST \(\\NonExistent \\HasNoChildren \\Subscribed\) "\/" "Subs\/Later"\r\n/);
  assert.match(
    await c.command('h', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" Subs/%'),
    /\* LIST \(\\HasChildren\) "\/" "Subs\/Deep" \("CHILDINFO" \("SUBSCRIBED"\)\)\r\n/,
  );
  assert.match(await c.command('i', 'LSUB "" Subs/%'), /\* LSUB \(\\Noselect\) "\/" "Subs\/Deep"\r\n/);
  assert.match(
    await c.command('j', 'LIST "" Subs/% RETURN (SUBSCRIBED)'),
    /\* LIST \(\\HasNoChildren \\Subscribed\) "\/" "Subs\/Kept"\r\n/,
  );
  await c.command('k', 'CREATE Subs/Gone');
  assert.match(
    await c.command('l', 'LIST "" Subs/Gone RETURN (SUBSCRIBED)'),
    /\(\\HasNoChildren \\Subscribed\)/,
    'a re-created name is still subscribed',
  );
});

test('ESORT answers in ESEARCH with the sort order kept; PARTIAL pages a result; DISPLAYFROM sorts by display name (RFC 5267, RFC 5957)', async () => {
  await folderWith(
    'Esort',
    'From: Zed <a@example.org>\r\nSubject: c\r\n\r\nx\r\n',
    'From: b@example.org\r\nSubject: a\r\n\r\nx\r\n',
    'From: "Amy" <z@example.org>\r\nSubject: b\r\n\r\nx\r\n',
  );
  assert.match(await c.command('q', 'SORT (DISPLAYFROM) UTF-8 ALL'), /\* SORT 3 2 1\r\n/);
  assert.match(
    await c.command('q', 'SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL'),
    /\* ESEARCH \(TAG "q"\) MIN 2 MAX 1 COUNT 3 ALL 2:3,1\r\n/,
  );
  assert.match(
    await c.command('q', 'SORT RETURN (PARTIAL 3:2) (REVERSE SUBJECT) UTF-8 ALL'),
    /\* ESEARCH \(TAG "q"\) PARTIAL \(2:3 3,2\)\r\n/,
  );
  assert.match(
    await c.command('q', 'SEARCH RETURN (PARTIAL 2:9) ALL'),
    /\* ESEARCH \(TAG "q"\) PARTIAL \(2:9 2:3\)\r\n/,
  );
  assert.match(
    await c.command('q', 'SEARCH RETURN (PARTIAL 4:5) ALL'),
    /\* ESEARCH \(TAG "q"\) PARTIAL \(4:5 NIL\)\r\n/,
  );
  assert.match(await c.command('q', 'SEARCH RETURN (PARTIAL 1:*) ALL'), /^q BAD/m);
});

test('RETURN (UPDATE) keeps SEARCH and SORT results live: ADDTO/REMOVEFROM until CANCELUPDATE (RFC 5267 4)', async () => {
  await folderWith('Live', plain('b'), plain('c'), plain('a'));
  assert.match(await c.command('s1', 'SEARCH RETURN (UPDATE) SEEN'), /\* ESEARCH \(TAG "s1"\)\r\n/);
  assert.match(
    await c.command('s2', 'UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 SEEN'),
    /\* ESEARCH \(TAG "s2"\) UID\r\n/,
  );
  const added = await c.command('a', 'STORE 1,3 +FLAGS (\\Seen)');
  assert.match(added, /\* ESEARCH \(TAG "s1"\) ADDTO \(0 1,3\)\r\n/);
  assert.match(
    added,
    /\* ESEARCH \(TAG "s2"\) UID ADDTO \(1 3\)\r\n\* ESEARCH \(TAG "s2"\) UID ADDTO \(2 1\)\r\n/,
    'in sort order, each at its position',
  );
  await c.command('b', 'STORE 1 +FLAGS (\\Deleted)');
  const expunged = await c.command('e', 'EXPUNGE');
  assert.match(
    expunged,
    /\* ESEARCH \(TAG "s1"\) REMOVEFROM \(0 1\)\r\n(.*\r\n)*\* 1 EXPUNGE\r\n/,
    'removal before the EXPUNGE, with the old number',
  );
  assert.match(expunged, /\* ESEARCH \(TAG "s2"\) UID REMOVEFROM \(2 1\)\r\n/);
  await c.command('x', 'CANCELUPDATE "s1" "s2"');
  assert.not.match(await c.command('f', 'STORE 1 +FLAGS (\\Seen)'), /ESEARCH/);
});

test('APPEND stores a binary part as base64: BODY[] carries no NUL, BINARY[] gives the octets back (RFC 3516 4.3)', async () => {
  await c.command('c', 'CREATE Binary');
  const message = Buffer.concat([
    Buffer.from(
      'From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n',
    ),
    Buffer.from([0, 0x2d, 0xe4, 0x0a, 0x0d, 0x0a]),
    Buffer.from('\r\n--b--\r\n'),
  ]);
  assert.match(
    await c.command(
      'a',
      Buffer.concat([Buffer.from(`a APPEND Binary ~{${message.length}+}\r\n`), message, Buffer.from('\r\n')]),
    ),
    /^a OK/m,
  );
  await c.command('s', 'SELECT Binary');
  const body = await c.command('f', 'FETCH 1 (BODY.PEEK[1.MIME] BODY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[1])');
  assert.match(body, /Content-Transfer-Encoding: base64\r\n/);
  assert.match(body, /BODY\[1\] \{8\}\r\nAC3kCg0K /);
  assert.match(body, /BINARY.SIZE\[1\] 6 BINARY\[1\] ~\{6\}\r\n\x00-\xe4\n\r\n\)/);
});

test('CATENATE builds a message from TEXT and URL parts of the own mailboxes only (RFC 4469, RFC 5092)', async () => {
  await folderWith('Cat', 'From: a@example.org\r\nSubject: src\r\n\r\nsource body\r\n');
  const uid = /UID (\d+)/.exec(await c.command('u', 'FETCH 1 UID'))![1];
  const text = (s: string): string => `TEXT {${Buffer.byteLength(s)}+}\r\n${s}`;
  const append = (parts: string): Promise<string> =>
    c.command('a', Buffer.from(`a APPEND Cat CATENATE (${parts})\r\n`));
  assert.match(await append(`URL "/Cat/;uid=${uid}/;section=HEADER" ${text('new body\r\n')}`), /^a OK \[APPENDUID/m);
  assert.match(
    await append(
      `${text('X: y\r\n\r\n')} URL "imap://${USER.replace('@', '%40')}@imap.wren.test/Cat/;uid=${uid}/;section=TEXT/;partial=7.4"`,
    ),
    /^a OK/m,
  );
  assert.match(
    await append(`URL "imap://someone@imap.wren.test/Cat/;uid=${uid}"`),
    /^a NO \[BADURL "imap:\/\/someone@/m,
    "another user's mailbox is not read",
  );
  assert.match(await append(`URL "/Cat;uidvalidity=1/;uid=${uid}"`), /^a NO \[BADURL/m);
  assert.match(await c.command('n', 'APPEND Nowhere CATENATE (URL "/Cat/;uid=999")'), /^n NO \[TRYCREATE\]/m);
  const bodies = await c.command('f', 'FETCH 2:* BODY.PEEK[]');
  assert.match(bodies, /\* 2 FETCH \(BODY\[\] \{\d+\}\r\nFrom: a@example.org\r\nSubject: src\r\n\r\nnew body\r\n\)/);
  assert.match(bodies, /\* 3 FETCH \(BODY\[\] \{12\}\r\nX: y\r\n\r\nbody\)/);
  assert.not.match(bodies, /\* 4 FETCH/);
});

test('URLAUTH: GENURLAUTH grants a message to another user, URLFETCH honours the access identifier, RESETKEY revokes (RFC 4467)', async () => {
  await folderWith('Ua', 'From: a@example.org\r\nSubject: shared\r\n\r\nshared body\r\n');
  const uid = /UID (\d+)/.exec(await c.command('u', 'FETCH 1 UID'))![1];
  const bob = 'bob@wren.test';
  const bobAccount = await f.store.accounts.create({
    teamId: f.account.teamId,
    address: bob,
    passwordHash: await hashPassword(PASSWORD),
    quotaBytes: 0,
  });
  const bobUid = await f.deliver(plain('private'), f.store.folders.byName(bobAccount.id, 'INBOX')!);
  const rump = (access: string, owner = USER, mailbox = 'Ua'): string =>
    `imap://${encodeURIComponent(owner)}@imap.wren.test/${mailbox}/;uid=${uid};urlauth=${access}`;
  const generate = async (access: string, url = rump(access)): Promise<string> => {
    const reply = await c.command('g', `GENURLAUTH "${url}" INTERNAL`);
    return new RegExp(`^\\* GENURLAUTH "(${url.replace(/[.+?]/g, '\\$&')}:internal:[0-9a-f]{32,})"`, 'm').exec(
      reply,
    )![1]!;
  };
  const forAnyone = await generate('authuser');
  const forBob = await generate(`user+${bob}`);
  const other = await RawClient.connect(f.port);
  try {
    await other.command('l', `LOGIN ${bob} "${PASSWORD}"`);
    const fetch = (client: RawClient, url: string): Promise<string> => client.command('f', `URLFETCH "${url}"`);
    const body = (url: string): RegExp =>
      new RegExp(
        `^\\* URLFETCH "${url.replace(/[.+?]/g, '\\$&')}" \\{\\d+\\}\r\nFrom: a@example.org\r\nSubject: shared\r\n\r\nshared body\r\n\r\n`,
        'm',
      );
    assert.match(await fetch(other, forAnyone), body(forAnyone));
    assert.match(await fetch(other, forBob), body(forBob));
    assert.match(await fetch(c, forBob), /^\* URLFETCH "[^"]+" NIL\r\nf OK/m, 'user+bob is for bob only');
    assert.match(
      await fetch(
        other,
        forAnyone.replace(/.$/, (d) => (d === '0' ? '1' : '0')),
      ),
      /^\* URLFETCH "[^"]+" NIL\r\n/m,
      'a forged token',
    );
    assert.match(await fetch(other, rump('authuser')), /^\* URLFETCH "[^"]+" NIL\r\n/m, 'no token');
    assert.match(
      await fetch(other, `/INBOX/;uid=${bobUid}`),
      /^\* URLFETCH "[^"]+" \{\d+\}\r\nFrom: a@example.org\r\nSubject: private/m,
    );
    assert.match(
      await fetch(c, `imap://${encodeURIComponent(bob)}@imap.wren.test/INBOX/;uid=${bobUid}`),
      /^\* URLFETCH "[^"]+" NIL\r\n/m,
      "a plain URL reads only one's own mailboxes",
    );
    // bob cannot authorize URLs to alice's mailbox, nor alice to bob's
    assert.match(await other.command('g', `GENURLAUTH "${rump('anonymous')}" INTERNAL`), /^g NO \[BADURL /m);
    assert.match(await c.command('g', `GENURLAUTH "${rump('anonymous', bob, 'INBOX')}" INTERNAL`), /^g NO \[BADURL /m);
    assert.match(await c.command('g', `GENURLAUTH "${rump('anonymous')}" XSECRET`), /^g NO \[URLMECH INTERNAL\]/m);
    assert.match(await c.command('r', 'RESETKEY Ua'), /^r OK \[URLMECH INTERNAL\]/m);
    assert.match(await fetch(other, forAnyone), /^\* URLFETCH "[^"]+" NIL\r\n/m, 'revoked by RESETKEY');
    assert.match(await fetch(other, forBob), /^\* URLFETCH "[^"]+" NIL\r\n/m, 'revoked by RESETKEY');
    const fresh = await generate('authuser');
    assert.is.not(fresh, forAnyone, 'a new key makes new tokens');
    assert.match(await fetch(other, fresh), body(fresh));
    // ;EXPIRE= (RFC 4467 3): honoured until then, refused after, whatever the token
    const [past, future] = ['2001-01-01T00:00:00Z', '2999-01-01T00:00:00Z'].map((at) =>
      rump('authuser').replace(';urlauth=', `;expire=${at};urlauth=`),
    );
    assert.match(await fetch(other, await generate('authuser', past)), /^\* URLFETCH "[^"]+" NIL\r\n/m, 'expired');
    const lasting = await generate('authuser', future);
    assert.match(await fetch(other, lasting), body(lasting));
    assert.match(await c.command('r', 'RESETKEY'), /^r OK/m);
    assert.match(
      await fetch(other, fresh),
      /^\* URLFETCH "[^"]+" NIL\r\n/m,
      'RESETKEY without a mailbox revokes every key',
    );
    // the key lives in the store with its mailbox: DELETE drops it
    await generate('authuser');
    const folderId = f.store.folders.byName(f.account.id, 'Ua')!.id;
    assert.ok(await f.store.kv.get(keys.urlAuthKey(f.account.id, folderId)));
    await c.command('x', 'UNSELECT');
    assert.match(await c.command('d', 'DELETE Ua'), /^d OK/m);
    assert.is(await f.store.kv.get(keys.urlAuthKey(f.account.id, folderId)), undefined);
  } finally {
    other.close();
  }
});

test('NOTIFY: STATUS for watched mailboxes, LIST for mailbox changes, the selected mailbox announced as it changes (RFC 5465)', async () => {
  await folderWith('Watched', plain('one'));
  const other = await RawClient.connect(f.port);
  try {
    await other.command('l', `LOGIN ${USER} "${PASSWORD}"`);
    await other.command('s', 'SELECT INBOX');
    assert.match(
      await other.command(
        'n',
        'NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange)) (PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))',
      ),
      /^n OK/m,
    );
    assert.match(await other.command('b', 'NOTIFY SET (PERSONAL (AnnotationChange))'), /^b NO \[BADEVENT \(/m);
    assert.match(
      await other.command(
        'n',
        'NOTIFY SET STATUS (MAILBOXES Watched (MessageNew MessageExpunge)) (SELECTED (MessageNew MessageExpunge))',
      ),
      /\* STATUS "Watched" \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+\)\r\n/,
    );
    assert.match(
      await other.command(
        'n',
        'NOTIFY SET (SELECTED (MessageNew MessageExpunge FlagChange)) (PERSONAL (MessageNew MessageExpunge MailboxName SubscriptionChange))',
      ),
      /^n OK/m,
    );
    await f.deliver(plain('two'), f.store.folders.byName(f.account.id, 'Watched'));
    assert.match(
      await other.until(/\* STATUS "Watched" \(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \d+\)\r\n/),
      /STATUS/,
      'no command needed',
    );
    await f.deliver(plain('new in inbox'));
    await other.until(/\* \d+ EXISTS\r\n/);
    await c.command('c', 'CREATE Announced');
    await other.until(/\* LIST \(\) "\/" "Announced"\r\n/);
    await c.command('c', 'DELETE Announced');
    await other.until(/\* LIST \(\\NonExistent\) "\/" "Announced"\r\n/);
    assert.match(await other.command('n', 'NOTIFY NONE'), /^n OK/m);
    other.buffer = '';
    await c.command('c', 'CREATE Quiet');
    assert.not.match(await other.command('z', 'NOOP'), /LIST/);
  } finally {
    other.close();
  }
});

test.run();
