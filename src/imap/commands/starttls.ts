import { defineCommand, ImapError, noArgs, NOT_AUTHENTICATED } from '../command.ts';

export default defineCommand({
  states: NOT_AUTHENTICATED,
  parse: noArgs,
  async run(session, _args, tag) {
    if (session.transport.secure) throw new ImapError('BAD', 'TLS is already active');
    session.send(`${tag} OK Begin TLS negotiation now`);
    // Anything the client pipelined after STARTTLS was sent in clear: it must not be acted on.
    session.framer.reset();
    try {
      await session.transport.startTls(session.ctx.tlsContext);
    } catch {
      session.transport.destroy();
    }
    return { done: true };
  },
});
