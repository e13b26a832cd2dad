// APPEND with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315), the UTF8 (literal) form (RFC 6855) and
// APPENDLIMIT (RFC 7889, enforced by the framer on the literal's announced size) and CATENATE (RFC 4469).
import { Args, BadArguments, tokenText } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { catenate, parseCatenate, type CatenatePart } from '../catenate.ts';
import { findTarget } from '../mailboxes.ts';
import { formatSequenceSet } from '../sequence.ts';
import { StoreError } from '../../store/index.ts';
import { binaryPartsToBase64 } from '../../mime/binary.ts';

interface Upload {
  flags: string[];
  date: number | undefined;
  raw: Buffer;
  /** CATENATE (RFC 4469): the parts the message is made of, resolved when the command runs. */
  parts?: CatenatePart[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export function parseDateTime(text: string): number {
  const m = /^\s?(\d{1,2})-([a-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/i.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month < 0) throw new BadArguments('Invalid date-time');
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) * 60_000;
  return Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6])) - offset;
}

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const mailbox = args.astring('mailbox');
    const uploads: Upload[] = [];
    while (args.remaining) {
      const upload: Upload = { flags: [], date: undefined, raw: Buffer.alloc(0) };
      if (args.peek()?.kind === 'list') upload.flags = args.list('flags').map((t) => tokenText(t, 'flag'));
      const next = args.peek();
      if (next?.kind === 'string' && !next.literal) upload.date = parseDateTime(args.astring('date-time'));
      if (args.accept('CATENATE')) {
        upload.parts = parseCatenate(args.list('CATENATE parts'));
      } else if (args.accept('UTF8')) {
        const inner = new Args(args.list('UTF8 literal'));
        upload.raw = inner.bytes('message');
        inner.end();
      } else {
        const t = args.next('message literal');
        if (t.kind !== 'string' || !t.literal) throw new BadArguments('Expected a message literal');
        upload.raw = t.value;
      }
      uploads.push(upload);
    }
    if (!uploads.length) throw new BadArguments('Missing message');
    return { mailbox, uploads };
  },
  async run(session, { mailbox, uploads }) {
    const folder = findTarget(session, mailbox);
    for (const u of uploads) if (u.parts) u.raw = await catenate(session, u.parts, session.ctx.limits.maxLiteralBytes);
    if (uploads.some((u) => u.raw.length === 0)) throw new ImapError('NO', 'Empty message', 'CANNOT');
    try {
      // One batch: with MULTIAPPEND either every message is stored or none is (RFC 3502 6.3.11).
      const messages = await session.ctx.store.appendMany(
        folder,
        uploads.map((u) => ({ raw: binaryPartsToBase64(u.raw), flags: u.flags.filter((f) => f.toLowerCase() !== '\\recent'), internalDate: u.date })),
        session.account!.quotaBytes,
      );
      return { code: `APPENDUID ${folder.uidValidity} ${formatSequenceSet(messages.map((m) => m.uid))}`, text: 'APPEND completed' };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'quota') throw new ImapError('NO', 'Quota exceeded', 'OVERQUOTA');
      throw err;
    }
  },
});
