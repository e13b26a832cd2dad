// A stub IMAP server for timing imapflow alone (the server taken out): it answers imapflow's session
// set-up (greeting, AUTHENTICATE PLAIN, SELECT/EXAMINE of `exists` messages, the rest a plain OK)
// and hands every other command to `answer`, which writes the reply under test.
import type { Socket } from 'node:net';

/**
 * `answer` gets the command's verb (upper case), tag and line; false leaves it a plain OK.
 * `capabilities` are announced after IMAP4rev1 (ENABLE among them: `answer` handles it).
 */
export function imapStub(
  socket: Socket,
  exists: () => number,
  answer: (verb: string, tag: string, line: string) => boolean,
  capabilities = 'LITERAL+ AUTH=PLAIN',
): void {
  socket.setNoDelay(true);
  socket.write(`* OK [CAPABILITY IMAP4rev1 ${capabilities}] stub ready\r\n`);
  let pending = '';
  let authTag = '';
  socket.on('data', (d: Buffer) => {
    pending += d.toString('latin1');
    let nl: number;
    while ((nl = pending.indexOf('\r\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 2);
      const [tag = '', command = ''] = line.split(' ');
      const verb = command.toUpperCase();
      if (authTag) {
        socket.write(`${authTag} OK authenticated\r\n`);
        authTag = '';
        continue;
      }
      if (verb === 'AUTHENTICATE' && !/ AUTHENTICATE PLAIN \S/i.test(line)) {
        authTag = tag;
        socket.write('+ \r\n');
        continue;
      }
      const n = exists();
      if (verb === 'SELECT' || verb === 'EXAMINE')
        socket.write(
          `* ${n} EXISTS\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 1] ok\r\n* OK [UIDNEXT ${n + 1}] ok\r\n${tag} OK [READ-WRITE] done\r\n`,
        );
      else if (verb === 'LOGOUT') socket.end(`* BYE\r\n${tag} OK bye\r\n`);
      else if (!answer(verb, tag, line)) socket.write(`${tag} OK done\r\n`);
    }
  });
}
