// The mailbox API for apps and agents (docs/API.md §12.2): one attachment of a message, decoded, with
// Range requests (RFC 9110 §14).
import { Readable } from 'node:stream';
import { z } from 'zod';
import { decodeTransfer } from '../../mime/decode.ts';
import { listAttachments } from '../../mime/search-text.ts';
import type { MimeNode } from '../../mime/types.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { loadMessage, requiredMailbox } from '../views/messages.ts';

const tag = 'Mailbox';
const mailboxId = z.string().max(40).optional();

/** Leaf parts that are attachments, in the order of the summary's `attachments` (listAttachments decides). */
function attachmentNodes(node: MimeNode, out: MimeNode[] = []): MimeNode[] {
  if (node.children) for (const child of node.children) attachmentNodes(child, out);
  // An empty buffer: only the part's headers decide, the bytes only feed a size estimate.
  else if (listAttachments(Buffer.alloc(0), node).length > 0) out.push(node);
  return out;
}

/** One `bytes=` range of RFC 9110 against a length: a range, 'unsatisfiable', or null (ignore the header). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size };
  }
  const start = Number(match[1]);
  if (match[2] !== '' && Number(match[2]) < start) return null;
  if (start >= size) return 'unsatisfiable';
  const last = match[2] === '' ? size - 1 : Number(match[2]);
  return { start, end: Math.min(last, size - 1) + 1 };
}

export const attachmentRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;

  return [
    defineRoute({
      method: 'GET',
      path: '/mailbox/messages/{id}/attachments/{n}',
      summary: "An attachment, decoded (n: its position in the message's attachments, from 0); honours Range",
      tag,
      permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      raw: 'application/octet-stream',
      handler: async ({ ctx, key, params, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        // The record, its structure and the part's bytes from one view (see loadMessage).
        const { node, content } = await store.withView(async (view) => {
          const { message } = await loadMessage(deps, account, params.id!, view);
          const [structure] = await view.structures([message.blob]);
          const node = /^\d{1,4}$/.test(params.n!) ? attachmentNodes(structure!.root)[Number(params.n)] : undefined;
          if (!node) throw new ApiError('not_found', `no attachment ${params.n!.slice(0, 16)} in ${params.id!}`, 'n');
          return { node, content: decodeTransfer(await view.read(message, node.bodyStart, node.end), node.encoding) };
        });
        const name = node.disposition?.params.filename ?? node.params.name;
        const contentType = `${node.type}/${node.subtype}`;
        ctx.set('Accept-Ranges', 'bytes');
        const range = parseRange(ctx.get('range') || undefined, content.length);
        if (range === 'unsatisfiable') {
          ctx.set('Content-Range', `bytes */${content.length}`);
          return {
            raw: `range not satisfiable: the attachment has ${content.length} bytes\n`,
            contentType: 'text/plain',
            status: 416,
          };
        }
        const filename = name ? name.replace(/[\r\n"]/g, '_') : undefined;
        if (range === null) return { raw: Readable.from([content]), contentType, filename };
        ctx.set('Content-Range', `bytes ${range.start}-${range.end - 1}/${content.length}`);
        return { raw: Readable.from([content.subarray(range.start, range.end)]), contentType, filename, status: 206 };
      },
    }),
  ];
};
