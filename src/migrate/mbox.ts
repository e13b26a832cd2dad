// Messages of an mbox file (mboxo/mboxrd as mutt, Thunderbird and Dovecot write them), with the
// internal date from the "From " line and flags from the Status/X-Status/X-Keywords headers those
// programs keep; those bookkeeping headers are dropped from the imported bytes.
import { stat } from 'node:fs/promises';
import type { SourceMessage } from './files.ts';
import { splitMbox } from '../mime/mbox.ts';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** "From sender Sat Jan  3 01:05:34 1996" (asctime, in UTC by convention; a zone may follow). */
const ASCTIME = /\s([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:[A-Z]{3,4}\s+|[+-]\d{4}\s+)?(\d{4})/;
const BOOKKEEPING = /^(status|x-status|x-keywords|x-uid|x-imap|x-imapbase|content-length)$/i;
const STATUS_FLAGS: Record<string, string> = {
  R: '\\Seen',
  A: '\\Answered',
  F: '\\Flagged',
  D: '\\Deleted',
  T: '\\Draft',
};

export function fromLineDate(line: string): Date | undefined {
  const m = ASCTIME.exec(line);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]!.toLowerCase());
  if (month < 0) return undefined;
  const date = new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0)));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Reads the flags out of the header and drops the mbox bookkeeping fields; the body is untouched. */
export function takeMboxHeaders(raw: Buffer): { raw: Buffer; flags: string[]; date?: Date } {
  const end = raw.indexOf('\n\n') === -1 ? raw.length : raw.indexOf('\n\n') + 1;
  const crlfEnd = raw.indexOf('\r\n\r\n');
  const headerEnd = crlfEnd !== -1 && crlfEnd < end ? crlfEnd + 2 : end;
  const lines = raw.toString('latin1', 0, headerEnd).split(/(?<=\n)/);
  const flags = new Set<string>();
  const kept: string[] = [];
  let dropping = false;
  let date: Date | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    const value = line.slice(colon + 1).trim();
    dropping = BOOKKEEPING.test(name);
    if (/^(status|x-status)$/i.test(name)) for (const c of value) if (STATUS_FLAGS[c]) flags.add(STATUS_FLAGS[c]);
    if (/^x-keywords$/i.test(name)) for (const k of value.split(/[\s,]+/)) if (k) flags.add(k);
    if (/^date$/i.test(name)) {
      const parsed = new Date(value);
      if (!Number.isNaN(parsed.getTime())) date = parsed;
    }
    if (!dropping) kept.push(line);
  }
  return {
    raw: Buffer.concat([Buffer.from(kept.join(''), 'latin1'), raw.subarray(headerEnd)]),
    flags: [...flags],
    date,
  };
}

/** The messages of an mbox with their flags (Status/X-Status/X-Keywords) and internal dates. */
export async function* mboxMessages(path: string): AsyncGenerator<SourceMessage> {
  const mtime = (await stat(path)).mtime;
  for await (const { fromLine, lines } of splitMbox(path)) {
    const last = lines.at(-1);
    // the empty line before the next "From " separates messages; it is not part of this one
    if (last && (last.length === 1 || (last.length === 2 && last[0] === 0x0d))) lines.pop();
    const { raw, flags, date } = takeMboxHeaders(Buffer.concat(lines));
    yield { raw, flags, internalDate: (fromLine === undefined ? undefined : fromLineDate(fromLine)) ?? date ?? mtime };
  }
}
