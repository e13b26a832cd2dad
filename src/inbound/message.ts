// What the inbound pipeline passes between its stages, and the header helpers they share.
import { readHeader, type HeaderField } from '../mime/headers.ts';

export type { HeaderField };

/** A message as the MX session received it. */
export interface InboundMessage {
  /** Session id + transaction number: the "id" of our Received header and of log lines. */
  id: string;
  /** The bytes received, unchanged. */
  raw: Buffer;
  mailFrom: string; // "" for the null sender
  rcptTo: string[];
  client: {
    ip: string;
    helo: string;
    /** Reverse-DNS name, when it resolved. */
    hostname: string | null;
    /** smtp-server's transmission type: ESMTP, ESMTPS … */
    protocol: string;
  };
  receivedAt: number;
}

export const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/**
 * Removes the header fields for which `drop(name, value)` is true, byte-exact otherwise (every other
 * byte of the message stays as received). Used to strip forged trace and spam headers.
 */
export function stripFields(raw: Buffer, drop: (name: string, value: string) => boolean): Buffer {
  const { bodyStart } = readHeader(raw, 0, raw.length);
  // [start, end) of each field, continuation lines included; the blank line ends the last one.
  const starts: number[] = [];
  for (let pos = 0; pos < bodyStart; ) {
    if (raw[pos] !== 0x20 && raw[pos] !== 0x09) starts.push(pos);
    const nl = raw.indexOf(0x0a, pos);
    pos = nl === -1 || nl >= bodyStart ? bodyStart : nl + 1;
  }
  const keep: Buffer[] = [];
  let changed = false;
  starts.forEach((start, i) => {
    const end = starts[i + 1] ?? bodyStart;
    const colon = raw.indexOf(0x3a, start);
    if (colon > start && colon < end) {
      const name = raw.toString('latin1', start, colon).trim().toLowerCase();
      if (
        drop(
          name,
          raw
            .toString('utf8', colon + 1, end)
            .replace(/\r?\n[ \t]/g, ' ')
            .trim(),
        )
      ) {
        changed = true;
        return;
      }
    }
    keep.push(raw.subarray(start, end));
  });
  if (!changed) return raw;
  keep.push(raw.subarray(bodyStart));
  return Buffer.concat(keep);
}
