// IMAP string syntax (RFC 3501 / RFC 9051 section 4.3), shared with src/imap/.
// The results are JavaScript strings meant to be written to the socket as UTF-8: literal lengths
// count UTF-8 octets.

/**
 * nstring: NIL for null, a quoted string when every character may appear in one, otherwise a
 * literal `{n}\r\n...`. NUL cannot be sent in either form (outside literal8) and is dropped.
 */
export function imapString(value: string | null | undefined): string {
  if (value === null || value === undefined) return 'NIL';
  let s = value;
  if (s.includes('\0')) s = s.replaceAll('\0', '');
  let quotable = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c >= 0x80) {
      quotable = false;
      break;
    }
  }
  if (quotable) return `"${s.replace(/["\\]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(s, 'utf8')}}\r\n${s}`;
}

/** Parenthesised list of already-serialised items; NIL when null or empty. */
export function imapList(items: readonly string[] | null | undefined, separator = ' '): string {
  if (!items || items.length === 0) return 'NIL';
  return `(${items.join(separator)})`;
}

/** body-fld-param: ("NAME" "value" ...) with upper-case names, or NIL when there are none. */
export function imapParams(params: Record<string, string> | null | undefined): string {
  if (!params) return 'NIL';
  const items: string[] = [];
  for (const [name, value] of Object.entries(params)) items.push(imapString(name.toUpperCase()), imapString(value));
  return imapList(items);
}
