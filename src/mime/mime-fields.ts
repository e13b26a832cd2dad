// The Content-* fields of one part, in the shape BODYSTRUCTURE needs. libmime does the parameter
// syntax (quoting, comments, RFC 2231 continuations and charsets); this module decides defaults.
import libmime from 'libmime';
import { firstField, type HeaderField } from './headers.ts';
import type { MimeNode } from './types.ts';

/** What the Content-* fields say about a part: the MimeNode fields that are not byte offsets or counts. */
export type MimeFields = Pick<
  MimeNode,
  'type' | 'subtype' | 'params' | 'id' | 'description' | 'encoding' | 'disposition' | 'language' | 'location' | 'md5'
>;

const TOKEN = /^[a-z0-9!#$%&'*+\-.^_`{|}~]+$/;

/** Parses `value; name=param; ...`, never throwing; names lower-case, junk names dropped. */
export function parseParamHeader(value: string): { value: string; params: Record<string, string> } {
  let parsed: { value: string; params: Record<string, string> };
  try {
    parsed = libmime.parseHeaderValue(value, { stripComments: true });
  } catch {
    return { value: value.split(';')[0]!.trim(), params: {} };
  }
  const params: Record<string, string> = {};
  for (const [name, v] of Object.entries(parsed.params)) {
    const key = name.toLowerCase();
    if (TOKEN.test(key) && key !== '__proto__' && typeof v === 'string') params[key] = v;
  }
  return { value: String(parsed.value ?? '').trim(), params };
}

/**
 * MIME fields of a part. `digest` selects the multipart/digest default (message/rfc822) for a part
 * without a usable Content-Type; RFC 2045 asks the default to apply to an invalid one as well.
 */
export function readMimeFields(fields: HeaderField[], digest: boolean): MimeFields {
  let type = digest ? 'message' : 'text';
  let subtype = digest ? 'rfc822' : 'plain';
  let params: Record<string, string> = {};
  const ct = firstField(fields, 'content-type');
  if (ct !== null) {
    const parsed = parseParamHeader(ct);
    const media = parsed.value.toLowerCase();
    const slash = media.indexOf('/');
    const t = slash > 0 ? media.slice(0, slash).trim() : '';
    const s = slash > 0 ? media.slice(slash + 1).trim() : '';
    if (TOKEN.test(t) && TOKEN.test(s)) {
      type = t;
      subtype = s;
    }
    params = parsed.params;
  }

  const cte = firstField(fields, 'content-transfer-encoding');
  const cd = firstField(fields, 'content-disposition');
  let disposition: MimeFields['disposition'] = null;
  if (cd !== null) {
    const parsed = parseParamHeader(cd);
    const dtype = parsed.value.toLowerCase();
    if (dtype) disposition = { type: dtype, params: parsed.params };
  }
  const lang = firstField(fields, 'content-language');
  const language =
    lang === null
      ? null
      : lang
          .split(',')
          .map((l) => l.replace(/\([^)]*\)/g, '').trim())
          .filter(Boolean);
  const location = firstField(fields, 'content-location');

  return {
    type,
    subtype,
    params,
    id: nonEmpty(firstField(fields, 'content-id')),
    description: nonEmpty(firstField(fields, 'content-description')),
    encoding: nonEmpty(cte) ?? '7BIT',
    disposition,
    language: language?.length ? language : null,
    // RFC 2557: a folded Content-Location is unfolded by removing the whitespace.
    location: location === null ? null : nonEmpty(location.replace(/\s+/g, '')),
    md5: nonEmpty(firstField(fields, 'content-md5')),
  };
}

function nonEmpty(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}

/** Transfer encoding as a decoder name: base64, quoted-printable, or identity for anything else. */
export function transferCoding(encoding: string): 'base64' | 'quoted-printable' | 'identity' {
  const e = encoding.trim().toLowerCase();
  if (e === 'base64') return 'base64';
  if (e === 'quoted-printable') return 'quoted-printable';
  return 'identity';
}
