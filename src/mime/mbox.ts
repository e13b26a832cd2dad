// The mbox container (RFC 4155; mboxo/mboxrd as mutt, Thunderbird and Dovecot write it) split into
// its messages: read by the importer (migrate/mbox.ts) and by bulk spam training (spam/train.ts).
import { createReadStream } from 'node:fs';

const LF = 0x0a;

/**
 * Splits a file at mbox "From " lines that start the file or follow an empty line, undoing mboxrd
 * ">From " quoting. A file without such lines is one message (Maildir files, single-message corpora).
 * Each part keeps its trailing lines as they were; `fromLine` is its separator, if it had one.
 */
export async function* splitMbox(path: string): AsyncGenerator<{ fromLine: string | undefined; lines: Buffer[] }> {
  let lines: Buffer[] = [];
  let fromLine: string | undefined;
  let previousBlank = true;
  function* take(line: Buffer): Generator<{ fromLine: string | undefined; lines: Buffer[] }> {
    if (previousBlank && line.length >= 5 && line.toString('latin1', 0, 5) === 'From ') {
      if (fromLine !== undefined || lines.length) yield { fromLine, lines };
      lines = [];
      fromLine = line.toString('latin1');
    } else {
      let gt = 0;
      while (gt < line.length && line[gt] === 0x3e) gt++;
      lines.push(gt > 0 && line.toString('latin1', gt, gt + 5) === 'From ' ? line.subarray(1) : line);
    }
    previousBlank = line.length === 1 || (line.length === 2 && line[0] === 0x0d);
  }
  let carry: Buffer | null = null;
  for await (const chunk of createReadStream(path)) {
    const buf: Buffer = carry ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let pos = 0;
    for (let nl = buf.indexOf(LF, pos); nl !== -1; nl = buf.indexOf(LF, pos)) {
      yield* take(buf.subarray(pos, nl + 1));
      pos = nl + 1;
    }
    carry = pos < buf.length ? buf.subarray(pos) : null;
  }
  if (carry) yield* take(carry);
  if (fromLine !== undefined || lines.length) yield { fromLine, lines };
}
