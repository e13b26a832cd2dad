// Mail through a mailing list: the rules that read what a list rewrites or adds excuse it.
import { readHeader } from '../../mime/headers.ts';
import type { MessageIndex } from '../../mime/types.ts';

/** Fields a list manager adds (RFC 2369, RFC 2919, and the older Mailman and ezmlm ones). */
export const LIST_FIELDS = new Set([
  'list-id',
  'list-unsubscribe',
  'list-post',
  'mailing-list',
  'x-mailman-version',
  'x-beenthere',
]);

/** The message's header has a list manager's field (read by the header reader parseHeaders uses, once). */
export const cameViaList = (raw: Buffer, index: MessageIndex) =>
  readHeader(raw, 0, index.headerSize).fields.some((f) => LIST_FIELDS.has(f.name));
