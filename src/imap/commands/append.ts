// APPEND with MULTIAPPEND (RFC 3502), APPENDUID (RFC 4315), the UTF8 (literal) form (RFC 6855) and
// APPENDLIMIT (RFC 7889, enforced by the framer on the literal's announced size) and CATENATE (RFC 4469).
import { Args, BadArguments, tokenText } from '../args.ts';
import { AUTHENTICATED, defineCommand, ImapError } from '../command.ts';
import { catenate, parseCatenate, type CatenatePart } from '../catenate.ts';
import { findTarget } from '../mailboxes.ts';
import { formatSequenceSet } from '../sequence.ts';
import { checkFlags, checkKeywordLimit } from '../store-flags.ts';
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

/**
 * RFC 3501 9 date-time: "dd-Mon-yyyy hh:mm:ss +hhmm". The day must exist in its month, the time in
 * a day (a leap second allowed), and the zone among Earth's (UTC-12:00 to UTC+14:00).
 */
export function parseDateTime(text: string): number {
  const m = /^\s?(\d{1,2})-([a-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/i.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month < 0) throw new BadArguments('Invalid date-time');
  const [day, year, hour, minute, second, zoneHours, zoneMinutes] = [m[1], m[3], m[4], m[5], m[6], m[8], m[9]].map(
    Number,
  ) as [number, number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  if (
    day < 1 ||
    day > daysInMonth ||
    hour > 23 ||
    minute > 59 ||
    second > 60 ||
    zoneMinutes > 59 ||
    zoneHours > (m[7] === '-' ? 12 : 14)
  ) {
    throw new BadArguments(`Invalid date-time ${JSON.stringify(text)}`);
  }
  const offset = (m[7] === '-' ? -1 : 1) * (zoneHours * 60 + zoneMinutes) * 60_000;
  return Date.UTC(year, month, day, hour, minute, second) - offset;
}

export default defineCommand({
  states: AUTHENTICATED,
  parse(args: Args) {
    const mailbox = args.astring('mailbox');
    const uploads: Upload[] = [];
    while (args.remaining) {
      const upload: Upload = { flags: [], date: undefined, raw: Buffer.alloc(0) };
      if (args.peek()?.kind === 'list') upload.flags = checkFlags(args.list('flags').map((t) => tokenText(t, 'flag')));
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
    await checkKeywordLimit(
      session,
      folder.id,
      uploads.flatMap((u) => u.flags),
    );
    try {
      // One batch: with MULTIAPPEND either every message is stored or none is (RFC 3502 6.3.11).
      const messages = await session.ctx.store.appendMany(
        folder,
        uploads.map((u) => ({ raw: binaryPartsToBase64(u.raw), flags: u.flags, internalDate: u.date })),
        session.account!.quotaBytes,
      );
      return {
        code: `APPENDUID ${folder.uidValidity} ${formatSequenceSet(messages.map((m) => m.uid))}`,
        text: 'APPEND completed',
      };
    } catch (err) {
      if (err instanceof StoreError && err.code === 'quota') throw new ImapError('NO', 'Quota exceeded', 'OVERQUOTA');
      throw err;
    }
  },
});
