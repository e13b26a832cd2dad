// IDLE (RFC 2177): changes are announced as they happen until the client sends DONE. Each IDLE
// re-arms the inactivity timer; clients re-issue it within the timeout. Meanwhile "* OK Still here"
// every idleKeepaliveMs keeps NATs from dropping the silent connection.
import { AUTHENTICATED, defineCommand, noArgs } from '../command.ts';

export default defineCommand({
  states: AUTHENTICATED,
  parse: noArgs,
  async run(session, _args, tag) {
    session.idleTag = tag;
    await session.announce(true);
    session.send('+ idling');
    session.armIdleTimer();
    session.startKeepalive();
    session.lineHandler = async (line) => {
      session.idleTag = null;
      session.stopKeepalive();
      await session.settle();
      if (line.trim().toUpperCase() === 'DONE') await session.finish(tag, 'IDLE', {}, true);
      else await session.finish(tag, 'IDLE', { status: 'BAD', text: 'Expected DONE' }, true);
    };
  },
});
