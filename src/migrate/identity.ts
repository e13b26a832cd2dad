// What makes two copies of a message "the same" across servers and files: Message-ID, internal date
// (to the second, IMAP's precision) and size. Matched as a multiset, so a source holding the same
// message twice gets two copies, and a second run copies nothing.

/** The Message-ID header's value (unfolded, trimmed) from a message or its header block; '' if none. */
export function messageIdOf(raw: Buffer): string {
  const end = headerEnd(raw);
  const header = raw.toString('latin1', 0, end).replace(/\r?\n[ \t]+/g, ' ');
  const match = /^message-id[ \t]*:[ \t]*(.*?)[ \t]*\r?$/im.exec(header);
  return match?.[1] ?? '';
}

function headerEnd(raw: Buffer): number {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  const ends = [crlf, lf].filter((i) => i !== -1);
  return ends.length ? Math.min(...ends) : raw.length;
}

export const messageKey = (messageId: string, internalDate: Date, size: number): string =>
  `${messageId}\u0000${Math.floor(internalDate.getTime() / 1000)}\u0000${size}`;

/**
 * The messages already in a target folder, by key, each with its UID there; `take` consumes one
 * copy when the source has that message (again).
 */
export class TargetIndex {
  readonly #uids = new Map<string, number[]>();

  add(key: string, uid: number): void {
    const list = this.#uids.get(key);
    if (list) list.push(uid);
    else this.#uids.set(key, [uid]);
  }

  /** True (and that copy used up) when the target already holds this message. */
  take(key: string): boolean {
    const list = this.#uids.get(key);
    if (!list) return false;
    list.shift();
    if (list.length === 0) this.#uids.delete(key);
    return true;
  }

  /** The lowest UID not matched yet: a resumed run must look at the target from there on. */
  lowestUnmatched(): number | undefined {
    let lowest: number | undefined;
    for (const list of this.#uids.values()) if (lowest === undefined || list[0]! < lowest) lowest = list[0];
    return lowest;
  }
}

/** Bare LF line ends become CRLF (files on disk use LF; IMAP and the store use CRLF); CRLF stays. */
export function toCrlf(raw: Buffer): Buffer {
  if (!raw.includes(0x0a)) return raw;
  const parts: Buffer[] = [];
  let start = 0;
  for (let nl = raw.indexOf(0x0a); nl !== -1; nl = raw.indexOf(0x0a, nl + 1)) {
    if (nl > 0 && raw[nl - 1] === 0x0d) continue;
    parts.push(raw.subarray(start, nl), CRLF);
    start = nl + 1;
  }
  if (start === 0) return raw;
  parts.push(raw.subarray(start));
  return Buffer.concat(parts);
}

const CRLF = Buffer.from('\r\n');
