// The mailbox API for apps and agents (API.md §A4, §B11), more of it: batch get/update/delete,
// attachment download with Range, and search with highlighted snippets. Like the first part, every
// change goes through the store calls IMAP uses, one call per folder rather than per message.
import { Readable } from 'node:stream';
import { z } from 'zod';
import { decodeTransfer } from '../../mime/decode.ts';
import { listAttachments } from '../../mime/search-text.ts';
import { fulltextMatch } from '../../mime/fulltext-text.ts';
import type { MimeNode } from '../../mime/types.ts';
import type { Account, Folder, Message } from '../../store/index.ts';
import type { StoreView } from '../../store/view.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, type ErrorCode } from '../errors.ts';
import { assertPermission } from '../middleware/permissions.ts';
import { defineRoute, type Route } from '../registry.ts';
import { flagChanges, keywordsSchema } from './mailbox-messages.ts';
import {
  bodyText, capUtf8, loadFolder, loadMessage, mailboxScope, messageId, messageSummaries, messageSummarySchema, parseMessageId, type MessageSummary,
} from './mailbox-view.ts';

const tag = 'Mailbox';
const mailboxId = z.string().max(40).optional();
const ids = z.array(z.string().max(40)).min(1).max(100).describe('message ids, at most 100');

const batchBody = z.discriminatedUnion('action', [
  z.object({ action: z.literal('get'), ids, max_body_chars: z.number().int().min(0).max(1_000_000).default(0).describe('0: no body') }).strict(),
  z
    .object({ action: z.literal('update'), ids, seen: z.boolean().optional(), flagged: z.boolean().optional(), keywords: keywordsSchema.optional(), folder_id: z.string().max(40).optional() })
    .strict(),
  z.object({ action: z.literal('delete'), ids, permanent: z.boolean().default(false) }).strict(),
]);

const batchItem = z.object({
  id: z.string(),
  ok: z.boolean(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  message: messageSummarySchema.nullable().describe('get and update: the message as it is now'),
  body: z.object({ text: z.string(), truncated: z.boolean() }).nullable(),
  new_id: z.string().nullable().describe('update with folder_id, delete to Trash: the id in the new folder'),
});
type BatchItem = z.infer<typeof batchItem>;

interface Found {
  folder: Folder;
  messages: Map<number, Message>;
}

/** The messages of this account the ids name (read from `view` if given), grouped by folder; ids that name nothing are absent. */
async function resolveIds(deps: ApiDeps, account: Account, list: string[], view?: StoreView): Promise<Map<number, Found>> {
  const wanted = new Map<number, number[]>();
  for (const id of list) {
    const parsed = /^msg_[0-9a-f]{16}$/.test(id) ? parseMessageId(id) : null;
    if (parsed) wanted.set(parsed.folderId, [...(wanted.get(parsed.folderId) ?? []), parsed.uid]);
  }
  const found = new Map<number, Found>();
  for (const [folderId, uids] of wanted) {
    const folder = deps.store.folders.get(folderId);
    if (!folder || folder.accountId !== account.id) continue;
    const messages = (await (view ? view.getMany(folderId, uids) : deps.store.messages.getMany(folderId, uids))).filter((m): m is Message => m !== undefined);
    found.set(folderId, { folder, messages: new Map(messages.map((m) => [m.uid, m])) });
  }
  return found;
}

/** Summaries of messages by folder and UID, read fresh from the store. */
async function summariesOf(deps: ApiDeps, where: Map<number, number[]>, view?: StoreView): Promise<Map<string, MessageSummary>> {
  const out = new Map<string, MessageSummary>();
  for (const [folderId, uids] of where) {
    const folder = deps.store.folders.get(folderId);
    if (!folder) continue;
    const messages = (await deps.store.messages.getMany(folderId, uids)).filter((m): m is Message => m !== undefined);
    for (const summary of await messageSummaries(deps, folder, messages, view)) out.set(summary.id, summary);
  }
  return out;
}

const failure = (id: string, code: ErrorCode, message: string): BatchItem => ({ id, ok: false, error: { code, message }, message: null, body: null, new_id: null });
const success = (id: string, extra: Partial<BatchItem> = {}): BatchItem => ({ id, ok: true, error: null, message: null, body: null, new_id: null, ...extra });

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

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** `text` HTML-escaped with every term in `<mark>`; around the first hit when `window` is set. */
function highlight(text: string, terms: RegExp, window?: number): string {
  let slice = text;
  if (window !== undefined) {
    const at = Math.max(0, text.search(terms));
    const from = Math.max(0, at - window / 4);
    slice = (from > 0 ? '…' : '') + text.slice(from, from + window) + (from + window < text.length ? '…' : '');
  }
  let out = '';
  let last = 0;
  for (const hit of slice.matchAll(terms)) {
    out += `${escapeHtml(slice.slice(last, hit.index))}<mark>${escapeHtml(hit[0])}</mark>`;
    last = hit.index + hit[0].length;
  }
  return out + escapeHtml(slice.slice(last));
}


export const mailboxExtraRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;
  const scope = async (key: Parameters<typeof mailboxScope>[1], id: string | undefined): Promise<Account> => (await mailboxScope(deps, key, id, true))!;

  return [
    defineRoute({
      method: 'POST', path: '/mailbox/messages/batch', summary: 'Get, update or delete up to 100 messages, with a result per id', tag, permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(), body: batchBody,
      response: z.object({ action: z.enum(['get', 'update', 'delete']), results: z.array(batchItem) }), errors: ['conflict'],
      handler: async ({ key, query, body }) => {
        // Reading needs mailbox.read (the route's permission); changing needs what PATCH and DELETE need.
        if (body.action !== 'get') assertPermission(key, 'email.receive');
        const account = await scope(key, query.mailbox_id);
        const unique = [...new Set(body.ids)];
        let found = await resolveIds(deps, account, unique);
        const locate = (id: string): { folder: Folder; message: Message } | null => {
          if (!/^msg_[0-9a-f]{16}$/.test(id)) return null;
          const { folderId, uid } = parseMessageId(id);
          const group = found.get(folderId);
          const message = group?.messages.get(uid);
          return group && message ? { folder: group.folder, message } : null;
        };
        const missing = (id: string) => failure(id, 'not_found', `no message ${id}`);

        if (body.action === 'get') {
          // Records, summaries and bodies from one view: a message expunged meanwhile is a not_found item.
          return store.withView(async (view) => {
            found = await resolveIds(deps, account, unique, view);
            const summaries = await summariesOf(deps, new Map([...found].map(([id, g]) => [id, [...g.messages.keys()]])), view);
            const results: BatchItem[] = [];
            for (const id of unique) {
              const hit = locate(id);
              const summary = summaries.get(id);
              if (!hit || !summary) results.push(missing(id));
              else results.push(success(id, { message: summary, body: body.max_body_chars > 0 ? await bodyText(view, hit.message, body.max_body_chars) : null }));
            }
            return { data: { action: body.action, results } };
          });
        }

        if (body.action === 'update') {
          const target = body.folder_id === undefined ? null : loadFolder(deps, account, body.folder_id);
          const { add, remove } = flagChanges(body);
          const newIds = new Map<string, string>();
          const where = new Map<number, number[]>();
          for (const [folderId, group] of found) {
            const uids = [...group.messages.keys()];
            if (add.length) await store.messages.updateFlags(folderId, uids, 'add', add);
            if (remove.length) await store.messages.updateFlags(folderId, uids, 'remove', remove);
            if (target && target.id !== folderId) {
              const { from, to } = await store.messages.copy(folderId, uids, target.id, true);
              from.forEach((uid, i) => newIds.set(messageId(folderId, uid), messageId(target.id, to[i]!)));
              where.set(target.id, [...(where.get(target.id) ?? []), ...to]);
            } else where.set(folderId, [...(where.get(folderId) ?? []), ...uids]);
          }
          const summaries = await summariesOf(deps, where);
          const results = unique.map((id) => {
            const now = newIds.get(id) ?? id;
            const summary = locate(id) ? summaries.get(now) : undefined;
            return summary ? success(id, { message: summary, new_id: now === id ? null : now }) : missing(id);
          });
          return { data: { action: body.action, results } };
        }

        const trash = store.folders.bySpecialUse(account.id, '\\Trash');
        if (!trash && !body.permanent) throw new ApiError('conflict', 'the mailbox has no Trash folder');
        const done = new Map<string, string | null>();
        for (const [folderId, group] of found) {
          const uids = [...group.messages.keys()];
          if (body.permanent || folderId === trash!.id) {
            for (const uid of await store.messages.expunge(folderId, uids)) done.set(messageId(folderId, uid), null);
          } else {
            const { from, to } = await store.messages.copy(folderId, uids, trash!.id, true);
            from.forEach((uid, i) => done.set(messageId(folderId, uid), messageId(trash!.id, to[i]!)));
          }
        }
        const results = unique.map((id) => (done.has(id) ? success(id, { new_id: done.get(id)! }) : missing(id)));
        return { data: { action: body.action, results } };
      },
    }),
    defineRoute({
      method: 'GET', path: '/mailbox/messages/{id}/attachments/{n}', summary: 'An attachment, decoded (n: its position in the message\'s attachments, from 0); honours Range', tag,
      permission: 'mailbox.read', query: z.object({ mailbox_id: mailboxId }).strict(), raw: 'application/octet-stream',
      handler: async ({ ctx, key, params, query }) => {
        const account = await scope(key, query.mailbox_id);
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
          return { raw: `range not satisfiable: the attachment has ${content.length} bytes\n`, contentType: 'text/plain', status: 416 };
        }
        const filename = name ? name.replace(/[\r\n"]/g, '_') : undefined;
        if (range === null) return { raw: Readable.from([content]), contentType, filename };
        ctx.set('Content-Range', `bytes ${range.start}-${range.end - 1}/${content.length}`);
        return { raw: Readable.from([content.subarray(range.start, range.end)]), contentType, filename, status: 206 };
      },
    }),
    defineRoute({
      method: 'GET', path: '/mailbox/search', summary: 'Messages matching every word of q (subject, addresses, body), newest first, with <mark> snippets', tag,
      permission: 'mailbox.read',
      query: z
        .object({
          mailbox_id: mailboxId,
          q: z.string().trim().min(1).max(200),
          folder_id: z.string().max(40).optional().describe('default: every folder'),
          limit: z.coerce.number().int().min(1).max(100).default(25),
        })
        .strict(),
      response: messageSummarySchema.extend({ snippet: z.object({ subject: z.string(), preview: z.string() }).describe('HTML-escaped, hits in <mark>') }), list: true,
      handler: async ({ key, query }) => {
        const account = await scope(key, query.mailbox_id);
        const folders = query.folder_id ? [loadFolder(deps, account, query.folder_id)] : store.folders.list(account.id);
        const words = [...new Set(query.q.toLowerCase().split(/\s+/))].slice(0, 10);
        const terms = new RegExp([...words].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'gi');
        // The records, their texts and the summaries from one view: no expunge in between. Each word
        // must occur in the message's headers or body as SEARCH TEXT finds it (store/fulltext.ts):
        // only the messages the full-text postings name for every word are read.
        return store.withView(async (view) => {
          const all: { folder: Folder; message: Message }[] = [];
          for (const folder of folders) {
            const candidates = await store.fulltext.candidates(folder.id, words);
            const messages = candidates
              ? [...(await view.getMany(folder.id, [...candidates.uids].sort((a, b) => a - b))).filter((m) => m !== undefined), ...(await view.range(folder.id, candidates.above + 1, 0xffffffff))]
              : await view.list(folder.id);
            for (const message of messages) all.push({ folder, message });
          }
          all.sort((a, b) => b.message.internalDate - a.message.internalDate || b.message.uid - a.message.uid);
          // Texts are read in chunks and the scan stops once a page (and one more) is found.
          const needles = words.map((w) => Buffer.from(w, 'utf8'));
          const found: { folder: Folder; message: Message }[] = [];
          for (let i = 0; i < all.length && found.length <= query.limit; i += 200) {
            const chunk = all.slice(i, i + 200);
            const texts = await view.fulltext(chunk.map((c) => c.message));
            chunk.forEach((c, j) => {
              if (needles.every((n) => fulltextMatch(texts[j]!, n, false))) found.push(c);
            });
          }
          const page = found.slice(0, query.limit);
          const fields = await view.searchFields(page.map((c) => c.message.blob));
          const data = [];
          for (const [j, hit] of page.entries()) {
            const [summary] = await messageSummaries(deps, hit.folder, [hit.message], view);
            const text = capUtf8(fields[j]!.text.replace(/\s+/g, ' ').trim(), 64 * 1024).text;
            data.push({ ...summary!, snippet: { subject: highlight(fields[j]!.subject, terms), preview: highlight(text, terms, 200) } });
          }
          return { data, pagination: { has_more: found.length > query.limit } };
        });
      },
    }),
  ];
};
