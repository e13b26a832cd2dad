// AUTHENTICATE PLAIN (RFC 4616) and LOGIN, with SASL-IR (RFC 4959).
import type { Args } from '../args.ts';
import { logIn, requirePrivacy } from '../auth.ts';
import { defineCommand, ImapError, NOT_AUTHENTICATED, type Reply } from '../command.ts';
import type { Session } from '../session.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');
const CHALLENGES: Record<string, string[]> = { PLAIN: [''], LOGIN: [b64('Username:'), b64('Password:')] };

function decode(text: string): Buffer {
  if (text === '=') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4)
    throw new ImapError('BAD', 'Invalid base64 in SASL response');
  return Buffer.from(text, 'base64');
}

function complete(session: Session, mechanism: string, responses: Buffer[]): Promise<Reply> {
  if (mechanism === 'LOGIN') return logIn(session, responses[0]!.toString('utf8'), responses[1]!.toString('utf8'));
  const parts = responses[0]!.toString('utf8').split('\0');
  if (parts.length !== 3) return Promise.resolve({ status: 'BAD', text: 'Malformed PLAIN response' });
  const [authzid, user, password] = parts as [string, string, string];
  return logIn(session, user, password, authzid);
}

/** Sends the next challenge and reads the answer through session.lineHandler, or completes. */
async function step(session: Session, tag: string, mechanism: string, responses: Buffer[]): Promise<Reply | void> {
  const challenges = CHALLENGES[mechanism]!;
  if (responses.length >= challenges.length) return complete(session, mechanism, responses);
  session.send(`+ ${challenges[responses.length]}`);
  session.lineHandler = async (line) => {
    let reply: Reply | void;
    if (line === '*') reply = { status: 'BAD', text: 'Authentication cancelled' };
    else {
      try {
        reply = await step(session, tag, mechanism, [...responses, decode(line)]);
      } catch (err) {
        if (!(err instanceof ImapError)) throw err;
        reply = { status: err.status, text: err.message };
      }
    }
    if (reply) await session.finish(tag, 'AUTHENTICATE', reply, true);
  };
}

export default defineCommand({
  states: NOT_AUTHENTICATED,
  parse: (args: Args) => ({
    mechanism: args.atom('mechanism').toUpperCase(),
    initial: args.remaining ? args.atom('initial response') : null,
  }),
  async run(session, { mechanism, initial }, tag) {
    if (!CHALLENGES[mechanism]) throw new ImapError('NO', `Unsupported mechanism ${mechanism}`, 'CANNOT');
    requirePrivacy(session);
    return step(session, tag, mechanism, initial === null ? [] : [decode(initial)]);
  },
});
