// Bytes that claim to be (or default to) UTF-8 but are not always: real mail mixes UTF-8 with
// stray Latin-1/Windows-1252 bytes, in headers and in mislabelled bodies. Valid sequences are read
// as UTF-8 and each invalid byte as Windows-1252, so one bad byte does not garble a whole field.

const strict = new TextDecoder('utf-8', { fatal: true });
const cp1252 = new TextDecoder('windows-1252');

/** Length of the valid UTF-8 sequence starting at buf[i] (a byte >= 0x80), or 0. */
function sequenceLength(buf: Uint8Array, i: number, end: number): number {
  const c = buf[i]!;
  let len: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c === 0xe0) lo = 0xa0; // overlong
    if (c === 0xed) hi = 0x9f; // surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c === 0xf0) lo = 0x90;
    if (c === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + len > end) return 0;
  const second = buf[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < len; k++) {
    const b = buf[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return len;
}

/** UTF-8 where valid, Windows-1252 for each byte that is not. */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    // fall through to the byte-by-byte repair
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: string[] = [];
  let run = 0;
  let i = 0;
  const n = buf.length;
  while (i < n) {
    if (buf[i]! < 0x80) {
      i++;
      continue;
    }
    const len = sequenceLength(buf, i, n);
    if (len > 0) {
      i += len;
      continue;
    }
    if (i > run) parts.push(buf.toString('utf8', run, i));
    parts.push(cp1252.decode(buf.subarray(i, i + 1)));
    run = ++i;
  }
  if (n > run) parts.push(buf.toString('utf8', run, n));
  return parts.join('');
}
