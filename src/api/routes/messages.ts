// The mailbox API for apps and agents (docs/API.md §12.2): who am I, folders, messages
// (list, get, raw), flags and keywords, move, delete to Trash. Every change goes through the store
// calls IMAP uses (updateFlags, copy with move, expunge), so IMAP sessions see it at once, and what
// an IMAP client changes is what the next request here reads.
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { Account, Folder, Message } from '../../store/index.ts';
import type { StoreView } from '../../store/view.ts';
import { learnFromFlags, learnFromMove, spamSettings } from '../../services/spam.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError } from '../errors.ts';
import { defineRoute, type Route } from '../registry.ts';
import { mailboxSchema, mailboxView } from '../views/mailboxes.ts';
import {
  bodyText,
  flagChanges,
  gainedAfterMove,
  folderSchema,
  folderView,
  KEYWORD,
  keywordsSchema,
  loadFolder,
  loadMessage,
  requiredMailbox,
  messageId,
  messageSummaries,
  messageSummarySchema,
  parseMessageId,
} from '../views/messages.ts';

const mailboxId = z
  .string()
  .max(40)
  .optional()
  .describe('root keys: the mailbox (mbx_…); mailbox keys: their own or absent');
const messageDetail = messageSummarySchema.extend({ body: z.object({ text: z.string(), truncated: z.boolean() }) });

const tag = 'Mailbox';

export const messageRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;
  const summary = async (folder: Folder, message: Message, view?: StoreView) => {
    const [found] = await messageSummaries(deps, folder, [message], view);
    if (!found) throw new ApiError('not_found', `no message ${messageId(folder.id, message.uid)}`, 'id'); // expunged meanwhile
    return found;
  };
  const special = (account: Account, use: '\\Trash') => {
    const folder = store.folders.bySpecialUse(account.id, use);
    if (!folder) throw new ApiError('conflict', 'the mailbox has no Trash folder');
    return folder;
  };

  return [
    defineRoute({
      method: 'GET',
      path: '/mailbox/me',
      summary: 'The mailbox this key reaches',
      tag,
      permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      response: mailboxSchema.extend({ quota_used_bytes: z.number().int() }),
      etag: true,
      handler: async ({ key, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        return {
          data: { ...(await mailboxView(deps, account)), quota_used_bytes: store.folders.usage(account.id).bytes },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailbox/folders',
      summary: 'List folders with their counts',
      tag,
      permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      response: folderSchema,
      list: true,
      handler: async ({ key, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        return { data: store.folders.list(account.id).map(folderView), pagination: { has_more: false } };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailbox/messages',
      summary: "List a folder's messages, newest first (default INBOX)",
      tag,
      permission: 'mailbox.read',
      query: z
        .object({
          mailbox_id: mailboxId,
          folder_id: z.string().max(40).optional(),
          is_unread: z.enum(['true', 'false']).optional(),
          is_flagged: z.enum(['true', 'false']).optional(),
          keyword: z.string().regex(KEYWORD).optional(),
          sort_direction: z.enum(['asc', 'desc']).default('desc'),
          limit: z.coerce.number().int().min(1).max(100).default(25),
          cursor: z
            .string()
            .regex(/^msg_[0-9a-f]{16}$/)
            .optional()
            .describe('next_cursor of the previous page'),
        })
        .strict(),
      response: messageSummarySchema,
      list: true,
      handler: async ({ key, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        const folder = query.folder_id
          ? loadFolder(deps, account, query.folder_id)
          : store.folders.byName(account.id, 'INBOX')!;
        const after = query.cursor ? parseMessageId(query.cursor, 'cursor').uid : null;
        const asc = query.sort_direction === 'asc';
        let messages = await store.messages.list(folder.id);
        if (!asc) messages.reverse();
        messages = messages.filter(
          (m) =>
            (after === null || (asc ? m.uid > after : m.uid < after)) &&
            (query.is_unread === undefined || m.flags.includes('\\Seen') !== (query.is_unread === 'true')) &&
            (query.is_flagged === undefined || m.flags.includes('\\Flagged') === (query.is_flagged === 'true')) &&
            (query.keyword === undefined || m.flags.includes(query.keyword)),
        );
        const page = messages.slice(0, query.limit);
        const more = messages.length > query.limit;
        return {
          data: await messageSummaries(deps, folder, page),
          pagination: more
            ? { has_more: true, next_cursor: messageId(folder.id, page.at(-1)!.uid) }
            : { has_more: false },
        };
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailbox/messages/{id}',
      summary: 'A message: summary and body text',
      tag,
      permission: 'mailbox.read',
      query: z
        .object({
          mailbox_id: mailboxId,
          max_body_chars: z.coerce.number().int().min(0).max(1_000_000).default(100_000),
        })
        .strict(),
      response: messageDetail,
      etag: true,
      handler: async ({ key, params, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        return store.withView(async (view) => {
          const { folder, message } = await loadMessage(deps, account, params.id!, view);
          return {
            data: {
              ...(await summary(folder, message, view)),
              body: await bodyText(view, message, query.max_body_chars),
            },
          };
        });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/mailbox/messages/{id}/raw',
      summary: 'The message as stored (RFC 5322)',
      tag,
      permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      raw: 'message/rfc822',
      handler: async ({ key, params, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        const raw = await store.withView(async (view) =>
          view.read((await loadMessage(deps, account, params.id!, view)).message),
        );
        // A stream keeps the bytes as they are (a string body would be re-encoded as UTF-8).
        return { raw: Readable.from([raw]), contentType: 'message/rfc822' };
      },
    }),
    defineRoute({
      method: 'PATCH',
      path: '/mailbox/messages/{id}',
      summary: 'Set seen, flagged and keywords; folder_id moves the message (its id changes)',
      tag,
      permission: 'email.receive',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      body: z
        .object({
          seen: z.boolean().optional(),
          flagged: z.boolean().optional(),
          keywords: keywordsSchema.optional(),
          folder_id: z.string().max(40).optional(),
        })
        .strict(),
      response: messageSummarySchema,
      errors: ['conflict'],
      handler: async ({ key, params, query, body }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        let { folder, message } = await loadMessage(deps, account, params.id!);
        const { add, remove } = flagChanges(body);
        const spam = spamSettings(deps);
        let gained = add.length
          ? (await store.messages.updateFlags(folder.id, [message.uid], 'add', add)).gained
          : new Map<number, string[]>();
        if (remove.length) await store.messages.updateFlags(folder.id, [message.uid], 'remove', remove);
        if (body.folder_id !== undefined) {
          const target = loadFolder(deps, account, body.folder_id);
          if (target.id !== folder.id) {
            const { to } = await store.messages.copy(folder.id, [message.uid], target.id, true);
            if (to.length === 0) throw new ApiError('not_found', `no message ${params.id!}`, 'id');
            // Into or out of Junk teaches the classifier, as a move over IMAP does.
            learnFromMove(deps, spam, account.id, folder, target, to);
            gained = gainedAfterMove(gained, [message.uid], to);
            folder = target;
            message = { ...message, uid: to[0]! };
          }
        }
        // So does a junk keyword set ($Junk, $NotJunk), read where the message now is.
        learnFromFlags(deps, spam, account.id, folder, gained);
        const current = await store.messages.get(folder.id, message.uid);
        if (!current) throw new ApiError('not_found', `no message ${params.id!}`, 'id');
        return { data: await summary(folder, current) };
      },
    }),
    defineRoute({
      method: 'DELETE',
      path: '/mailbox/messages/{id}',
      summary: 'Move a message to Trash, or remove it for good (permanent=true, or when it is in Trash already)',
      tag,
      permission: 'email.receive',
      query: z.object({ mailbox_id: mailboxId, permanent: z.enum(['true', 'false']).default('false') }).strict(),
      response: z.object({
        id: z.string(),
        deleted: z.literal(true),
        permanent: z.boolean(),
        trash_id: z.string().nullable(),
      }),
      errors: ['conflict'],
      handler: async ({ key, params, query }) => {
        const account = await requiredMailbox(deps, key, query.mailbox_id);
        const { folder, message } = await loadMessage(deps, account, params.id!);
        const trash = special(account, '\\Trash');
        if (query.permanent === 'true' || folder.id === trash.id) {
          await store.messages.expunge(folder.id, [message.uid]);
          return { data: { id: params.id!, deleted: true as const, permanent: true, trash_id: null } };
        }
        const { to } = await store.messages.copy(folder.id, [message.uid], trash.id, true);
        return {
          data: {
            id: params.id!,
            deleted: true as const,
            permanent: false,
            trash_id: to[0] === undefined ? null : messageId(trash.id, to[0]),
          },
        };
      },
    }),
  ];
};
