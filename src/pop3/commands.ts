// The POP3 command table: RFC 1939 commands, CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN (RFC 5034).
import type { Message } from '../store/index.ts';
import type { Pop3Session, Pop3State } from './session.ts';

export interface Pop3Command {
  states: readonly Pop3State[];
  /** `args`: the line after the command name and one space, as sent. */
  run(session: Pop3Session, args: string): Promise<void> | void;
}

const AUTHORIZATION = ['authorization'] as const;
const TRANSACTION = ['transaction'] as const;
const EITHER = ['authorization', 'transaction'] as const;

/** Splits arguments on spaces; undefined when the count is outside [min, max]. */
function words(args: string, min: number, max: number): string[] | undefined {
  const list = args === '' ? [] : args.split(' ');
  return list.length >= min && list.length <= max && list.every((w) => w !== '') ? list : undefined;
}

const number = (text: string | undefined, min: number): number | undefined =>
  text !== undefined && /^\d{1,9}$/.test(text) && Number(text) >= min ? Number(text) : undefined;

/** The message a command names (1-based, not deleted), or a -ERR sent and undefined. */
function message(session: Pop3Session, text: string | undefined): { n: number; message: Message } | undefined {
  const n = number(text, 1);
  const found = n === undefined ? undefined : session.maildrop!.get(n);
  if (n === undefined || !found) {
    session.fail(n === undefined ? 'Invalid message number' : 'No such message');
    return undefined;
  }
  return { n, message: found };
}

/** One listing: every message (LIST, UIDL without argument) or the one named. */
async function listing(
  session: Pop3Session,
  args: string,
  describe: (n: number, m: Message) => string,
  heading: string,
): Promise<void> {
  const list = words(args, 0, 1);
  if (!list) return session.fail('Expected at most one message number');
  if (list.length === 1) {
    const one = message(session, list[0]);
    if (one) session.ok(`${one.n} ${describe(one.n, one.message)}`);
    return;
  }
  const drop = session.maildrop!;
  const lines = function* () {
    for (const n of drop.numbers()) yield `${n} ${describe(n, drop.get(n)!)}`;
  };
  await session.multiline(heading, lines());
}

function capabilities(session: Pop3Session): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING', 'EXPIRE NEVER'];
  if (session.state === 'authorization') {
    if (!session.transport.secure) caps.push('STLS');
    // RFC 2595 4: USER (and here SASL too) is not announced where it would be refused.
    if (session.plainAuthAllowed()) caps.push('USER', 'SASL PLAIN');
  }
  caps.push('IMPLEMENTATION Wren-Mail');
  return caps;
}

const b64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The SASL PLAIN message (RFC 4616): [authzid] NUL authcid NUL passwd; acting for another user is refused. */
async function plain(session: Pop3Session, response: string): Promise<void> {
  if (response === '*') return session.fail('Authentication cancelled');
  if (response !== '=' && !b64.test(response)) return session.fail('Invalid base64 in SASL response');
  const parts = Buffer.from(response === '=' ? '' : response, 'base64')
    .toString('utf8')
    .split('\0');
  if (parts.length !== 3) return session.fail('Malformed PLAIN response', 'AUTH');
  await session.logIn(parts[1]!, parts[2]!, parts[0]!);
}

function requirePrivacy(session: Pop3Session): boolean {
  if (session.plainAuthAllowed()) return true;
  session.fail('Plaintext authentication disallowed without TLS, use STLS first', 'AUTH');
  return false;
}

export const COMMANDS = new Map<string, Pop3Command>([
  ['CAPA', { states: EITHER, run: (s) => s.multiline('Capability list follows', capabilities(s)) }],
  ['NOOP', { states: TRANSACTION, run: (s) => s.ok('') }],
  [
    'QUIT',
    {
      states: EITHER,
      async run(s) {
        if (s.state === 'transaction') return s.update();
        s.ok(`${s.ctx.hostname} signing off`);
        s.state = 'update';
        s.transport.end();
      },
    },
  ],
  [
    'STLS',
    {
      states: AUTHORIZATION,
      async run(s) {
        if (s.transport.secure) return s.fail('TLS is already active');
        s.ok('Begin TLS negotiation');
        // Anything pipelined after STLS arrived in clear: it must not be acted on.
        s.reader.reset();
        s.user = null;
        try {
          await s.transport.startTls(s.ctx.tlsContext);
        } catch {
          s.transport.destroy();
        }
      },
    },
  ],
  [
    'USER',
    {
      states: AUTHORIZATION,
      run(s, args) {
        if (!requirePrivacy(s)) return;
        if (args === '') return s.fail('USER needs a name');
        s.user = args;
        s.ok('Send PASS');
      },
    },
  ],
  [
    'PASS',
    {
      states: AUTHORIZATION,
      async run(s, args) {
        if (!requirePrivacy(s)) return;
        if (s.user === null) return s.fail('Send USER first');
        // RFC 1939 7: the one argument may contain spaces.
        await s.logIn(s.user, args);
      },
    },
  ],
  [
    'AUTH',
    {
      states: AUTHORIZATION,
      async run(s, args) {
        const list = words(args, 0, 2);
        if (!list) return s.fail('Usage: AUTH mechanism [initial-response]');
        if (list.length === 0) return s.multiline('Supported mechanisms follow', s.plainAuthAllowed() ? ['PLAIN'] : []);
        if (list[0]!.toUpperCase() !== 'PLAIN') return s.fail('Unsupported mechanism');
        if (!requirePrivacy(s)) return;
        if (list[1] !== undefined) return plain(s, list[1]);
        s.send('+ ');
        s.lineHandler = (line) => plain(s, line);
      },
    },
  ],
  [
    'STAT',
    {
      states: TRANSACTION,
      run(s, args) {
        if (args !== '') return s.fail('STAT takes no arguments');
        const { count, bytes } = s.maildrop!.stat();
        s.ok(`${count} ${bytes}`);
      },
    },
  ],
  [
    'LIST',
    {
      states: TRANSACTION,
      run: (s, args) => {
        const { count, bytes } = s.maildrop!.stat();
        return listing(s, args, (_n, m) => String(m.size), `${count} messages (${bytes} octets)`);
      },
    },
  ],
  [
    'UIDL',
    {
      states: TRANSACTION,
      run: (s, args) => listing(s, args, (n) => s.maildrop!.uniqueId(n), 'Unique-id listing follows'),
    },
  ],
  [
    'RETR',
    {
      states: TRANSACTION,
      async run(s, args) {
        const one = message(s, words(args, 1, 1)?.[0]);
        if (!one) return;
        if (await s.sendMessage(one.message, Infinity, `${one.message.size} octets`)) s.maildrop!.retrievedOne(one.n);
      },
    },
  ],
  [
    'TOP',
    {
      states: TRANSACTION,
      async run(s, args) {
        const list = words(args, 2, 2);
        const lines = number(list?.[1], 0);
        if (!list || lines === undefined) return s.fail('Usage: TOP msg lines');
        const one = message(s, list[0]);
        if (one) await s.sendMessage(one.message, lines, 'Top of message follows');
      },
    },
  ],
  [
    'DELE',
    {
      states: TRANSACTION,
      run(s, args) {
        const one = message(s, words(args, 1, 1)?.[0]);
        if (!one) return;
        s.maildrop!.delete(one.n);
        s.ok(`Message ${one.n} deleted`);
      },
    },
  ],
  [
    'RSET',
    {
      states: TRANSACTION,
      run(s) {
        s.maildrop!.reset();
        const { count, bytes } = s.maildrop!.stat();
        s.ok(`Maildrop has ${count} messages (${bytes} octets)`);
      },
    },
  ],
]);
