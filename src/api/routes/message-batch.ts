// The mailbox API for apps and agents (docs/API.md §12.2): get, update or delete up to 100 messages
// in one request, with a result per id. Like the single-message routes, every change goes through the
// store calls IMAP uses, one call per folder rather than per message.
import { z } from 'zod';
import type { Account, Folder, Message } from '../../store/index.ts';
import type { StoreView } from '../../store/view.ts';
import { learnFromFlags, learnFromMove, spamSettings } from '../../services/spam.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, type ErrorCode } from '../errors.ts';
import { assertPermission } from '../middleware/permissions.ts';
import { defineRoute, type Route } from '../registry.ts';
import {
  bodyText,
  flagChanges,
  gainedAfterMove,
  keywordsSchema,
  loadFolder,
  requiredMailbox,
  messageId,
  messageSummaries,
  messageSummarySchema,
  parseMessageId,
  type MessageSummary,
} from '../views/messages.ts';

const tag = 'Mailbox';
const mailboxId = z.string().max(40).optional();

const ids = z.array(z.string().max(40)).min(1).max(100).describe('message ids, at most 100');

const batchBody = z.discriminatedUnion('action', [
  z
    .object({
      action: z.literal('get'),
      ids,
      max_body_chars: z.number().int().min(0).max(1_000_000).default(0).describe('0: no body'),
    })
    .strict(),
  z
    .object({
      action: z.literal('update'),
      ids,
      seen: z.boolean().optional(),
      flagged: z.boolean().optional(),
      keywords: keywordsSchema.optional(),
      folder_id: z.string().max(40).optional(),
    })
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
async function resolveIds(
  deps: ApiDeps,
  account: Account,
  list: string[],
  view?: StoreView,
): Promise<Map<number, Found>> {
  const wanted = new Map<number, number[]>();
  for (const id of list) {
    const parsed = /^msg_[0-9a-f]{16}$/.test(id) ? parseMessageId(id) : null;
    if (parsed) wanted.set(parsed.folderId, [...(wanted.get(parsed.folderId) ?? []), parsed.uid]);
  }
  const found = new Map<number, Found>();
  for (const [folderId, uids] of wanted) {
    const folder = deps.store.folders.get(folderId);
    if (!folder || folder.accountId !== account.id) continue;
    const messages = (await (view ? view.getMany(folderId, uids) : deps.store.messages.getMany(folderId, uids))).filter(
      (m): m is Message => m !== undefined,
    );
    found.set(folderId, { folder, messages: new Map(messages.map((m) => [m.uid, m])) });
  }
  return found;
}

/** Summaries of messages by folder and UID, read fresh from the store. */
async function summariesOf(
  deps: ApiDeps,
  where: Map<number, number[]>,
  view?: StoreView,
): Promise<Map<string, MessageSummary>> {
  const out = new Map<string, MessageSummary>();
  for (const [folderId, uids] of where) {
    const folder = deps.store.folders.get(folderId);
    if (!folder) continue;
    const messages = (await deps.store.messages.getMany(folderId, uids)).filter((m): m is Message => m !== undefined);
    for (const summary of await messageSummaries(deps, folder, messages, view)) out.set(summary.id, summary);
  }
  return out;
}

const failure = (id: string, code: ErrorCode, message: string): BatchItem => ({
  id,
  ok: false,
  error: { code, message },
  message: null,
  body: null,
  new_id: null,
});
const success = (id: string, extra: Partial<BatchItem> = {}): BatchItem => ({
  id,
  ok: true,
  error: null,
  message: null,
  body: null,
  new_id: null,
  ...extra,
});

export const messageBatchRoutes = (deps: ApiDeps): Route[] => {
  const { store } = deps;

  return [
    defineRoute({
      method: 'POST',
      path: '/mailbox/messages/batch',
      summary: 'Get, update or delete up to 100 messages, with a result per id',
      tag,
      permission: 'mailbox.read',
      query: z.object({ mailbox_id: mailboxId }).strict(),
      body: batchBody,
      response: z.object({ action: z.enum(['get', 'update', 'delete']), results: z.array(batchItem) }),
      errors: ['conflict'],
      handler: async ({ key, query, body }) => {
        // Reading needs mailbox.read (the route's permission); changing needs what PATCH and DELETE need.
        if (body.action !== 'get') assertPermission(key, 'email.receive');
        const account = await requiredMailbox(deps, key, query.mailbox_id);
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
            const summaries = await summariesOf(
              deps,
              new Map([...found].map(([id, g]) => [id, [...g.messages.keys()]])),
              view,
            );
            const results: BatchItem[] = [];
            for (const id of unique) {
              const hit = locate(id);
              const summary = summaries.get(id);
              if (!hit || !summary) results.push(missing(id));
              else
                results.push(
                  success(id, {
                    message: summary,
                    body: body.max_body_chars > 0 ? await bodyText(view, hit.message, body.max_body_chars) : null,
                  }),
                );
            }
            return { data: { action: body.action, results } };
          });
        }

        if (body.action === 'update') {
          const target = body.folder_id === undefined ? null : loadFolder(deps, account, body.folder_id);
          const { add, remove } = flagChanges(body);
          const newIds = new Map<string, string>();
          const where = new Map<number, number[]>();
          const spam = spamSettings(deps);
          for (const [folderId, group] of found) {
            const uids = [...group.messages.keys()];
            const gained = add.length
              ? (await store.messages.updateFlags(folderId, uids, 'add', add)).gained
              : new Map<number, string[]>();
            if (remove.length) await store.messages.updateFlags(folderId, uids, 'remove', remove);
            // A move into or out of Junk, and a junk keyword set ($Junk, $NotJunk), teach the classifier.
            if (target && target.id !== folderId) {
              const { from, to } = await store.messages.copy(folderId, uids, target.id, true);
              from.forEach((uid, i) => newIds.set(messageId(folderId, uid), messageId(target.id, to[i]!)));
              where.set(target.id, [...(where.get(target.id) ?? []), ...to]);
              learnFromMove(deps, spam, account.id, group.folder, target, to);
              learnFromFlags(deps, spam, account.id, target, gainedAfterMove(gained, from, to));
            } else {
              where.set(folderId, [...(where.get(folderId) ?? []), ...uids]);
              learnFromFlags(deps, spam, account.id, group.folder, gained);
            }
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
  ];
};
